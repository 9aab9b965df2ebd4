"""The app's own OpenSSH tunnel to a remote host's server (config ``hosts`` entries with ``ssh``).

``ssh -N -L 127.0.0.1:<local port>:127.0.0.1:<remote_port> <destination>``, run with the user's
own ssh: their config, keys and agent. The app handles no passwords: ``BatchMode=yes`` makes ssh
fail at once instead of prompting, and the reason it printed becomes ``Tunnel.error``.
``$SCHMUX_SSH_COMMAND`` (split like a shell would, as git does with ``GIT_SSH_COMMAND``) replaces
``ssh``, e.g. ``ssh -F ~/.ssh/lab_config``.

States (``TunnelState``) and the only moves between them::

    STOPPED ──start()──▶ STARTING ──the local port accepts──▶ UP
                             │                                 │ ssh exited, or the port
                             │ ssh exited / not ready in time  │ stopped accepting
                             ▼                                 ▼
                        RECONNECTING ◀─────────────────────────┘
                             │  wait (backoff with full jitter), start ssh again
                             └──the local port accepts──▶ UP

    any state ──stop()──▶ STOPPED (ssh's process group killed and reaped)

- Ready means the local port accepts a TCP connection. With ``ExitOnForwardFailure=yes`` ssh
  exits when it cannot set the forward up (e.g. the port was taken meanwhile), and it binds the
  port only after it has logged in, so an accepting port means a logged-in ssh.
- A dead link is found by ssh itself (``ServerAliveInterval`` × ``ServerAliveCountMax``: it exits)
  and by a probe of the local port every ``PROBE_EVERY`` s while up.
- Waits between tries come from ``backend.backoff.Backoff`` (up to 30 s; back to short waits after
  a minute up). ``clock``, ``wall``, ``sleep`` and ``random`` are injectable for tests.
- ssh runs in its own process group (``start_new_session``), stdin from /dev/null, its stderr read
  into a bounded buffer. On Linux it also gets ``PR_SET_PDEATHSIG``: if the app dies without
  stopping the tunnel (a crash, SIGKILL) the kernel sends ssh SIGTERM, so no ssh outlives the app.
  Elsewhere an ssh orphaned by a crash ends when its connection drops.
- ``on_change`` is called (on the event loop) after ``state``, ``local_port`` or ``error`` changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import enum
import logging
import os
import random as _random
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence

from backend.backoff import Backoff
from backend.tasks import TaskGroup

log = logging.getLogger(__name__)

SSH_COMMAND_ENV = "SCHMUX_SSH_COMMAND"
ALIVE_INTERVAL = 10  # ServerAliveInterval: ssh asks the server every 10 s...
ALIVE_COUNT = 3  # ...and gives up after 3 unanswered asks (a dead link is found in ~30 s)
CONNECT_TIMEOUT = 15  # ConnectTimeout: an unreachable host fails in 15 s, not the TCP default
READY_TIMEOUT = 45.0  # from starting ssh to the local port accepting (login included)
PROBE_EVERY = 10.0  # while up: does the local port still accept?
PROBE_TIMEOUT = 5.0
STOP_GRACE = 2.0  # SIGTERM, then SIGKILL after this long
STDERR_LINES = 20
STDERR_LINE_CHARS = 500
# Lines ssh prints on success too: never "the error".
_BENIGN = re.compile(r"^(Warning: Permanently added |Authenticated to |Transferred: )")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Secrets of this app that ssh has no business carrying (a SendEnv could forward them).
_PRIVATE_ENV = ("SCHMUX_DESKTOP_TOKEN", "SCHMUX_TOKEN")


class TunnelState(enum.Enum):
    STARTING = "starting"
    UP = "up"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


_S = TunnelState
TRANSITIONS: Mapping[TunnelState, frozenset[TunnelState]] = {
    _S.STOPPED: frozenset({_S.STARTING}),
    _S.STARTING: frozenset({_S.UP, _S.RECONNECTING, _S.STOPPED}),
    _S.UP: frozenset({_S.RECONNECTING, _S.STOPPED}),
    _S.RECONNECTING: frozenset({_S.UP, _S.STOPPED}),
}


def destination_problem(destination: object) -> str | None:
    """Why ``destination`` cannot be an ssh destination from config; None when it can."""
    if not isinstance(destination, str) or not destination.strip():
        return "the ssh destination must be a non-empty string such as me@lab.example"
    if destination.startswith("-"):
        return (
            f"the ssh destination {destination[:100]!r} starts with '-': ssh would read it as an "
            "option, not a host"
        )
    if _CONTROL.search(destination) or destination != destination.strip():
        return "the ssh destination must not contain control characters or surrounding spaces"
    if len(destination) > 1000:
        return "the ssh destination is longer than 1000 characters"
    return None


def command_from_env(env: Mapping[str, str]) -> list[str]:
    """The ssh program and its leading options: ``$SCHMUX_SSH_COMMAND`` split, else ``ssh``."""
    text = env.get(SSH_COMMAND_ENV, "")
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ValueError(f"${SSH_COMMAND_ENV} cannot be split into words: {e}") from None
    return words or ["ssh"]


def ssh_argv(
    command: Sequence[str], destination: str, local_port: int, remote_port: int
) -> list[str]:
    """The whole command line for one try."""
    return [
        *command,
        "-N",  # no remote command: only the forward
        "-L",
        f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "BatchMode=yes",  # never prompt (there is no one to answer): fail and say why
        "-o",
        f"ServerAliveInterval={ALIVE_INTERVAL}",
        "-o",
        f"ServerAliveCountMax={ALIVE_COUNT}",
        "-o",
        f"ConnectTimeout={CONNECT_TIMEOUT}",
        # Our own connection: through a user's ControlMaster the forward would live in the
        # master, where killing our ssh does not end it.
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
        "--",
        destination,
    ]


def _free_port(prefer: int | None) -> int:
    """``prefer`` (the port of the last try, so the address stays the same) when it is free,
    else one the kernel picks. ssh binds it a moment later; a port taken in between makes ssh
    exit (ExitOnForwardFailure) and the next try picks another."""
    for port in (prefer, 0) if prefer else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            # As ssh binds its listener: a port whose old connections (accepted by an ssh, so
            # SO_REUSEADDR too) linger in TIME_WAIT is free for it.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free local port")


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the thread that started it ends
    (the app's event loop: the app exiting or crashing). None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here, not in the child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the app died before prctl: nobody would signal us
            os._exit(1)

    return preexec


async def _accepts(port: int, timeout: float) -> bool:
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _read_lines(stream: asyncio.StreamReader, lines: deque[str]) -> None:
    """ssh's stderr into ``lines`` (the last STDERR_LINES, each cut to STDERR_LINE_CHARS)."""
    buf = b""
    while chunk := await stream.read(4096):
        buf += chunk
        *parts, buf = re.split(rb"\r?\n", buf)
        if len(buf) > STDERR_LINE_CHARS * 4:  # a line without end: keep its start
            parts.append(buf)
            buf = b""
        for raw in parts:
            text = _CONTROL.sub(" ", raw.decode("utf-8", "replace")).strip()
            if text:
                lines.append(text[:STDERR_LINE_CHARS])
    text = buf.decode("utf-8", "replace").strip()
    if text:
        lines.append(_CONTROL.sub(" ", text)[:STDERR_LINE_CHARS])


def _last_error(lines: Sequence[str]) -> str | None:
    for line in reversed(lines):
        if not _BENIGN.match(line):
            return line
    return None


class Tunnel:
    """One supervised ``ssh -N -L`` to host ``name``; see the module docstring."""

    def __init__(
        self,
        name: str,
        ssh: str,
        remote_port: int,
        on_change: Callable[[], None],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        backoff: Backoff | None = None,
        ssh_command: Sequence[str] | None = None,
        tasks: TaskGroup | None = None,
    ) -> None:
        problem = destination_problem(ssh)
        if problem is not None:
            raise ValueError(f"host {name!r}: {problem}")
        if isinstance(remote_port, bool) or not isinstance(remote_port, int):
            raise ValueError(f"host {name!r}: remote_port must be a port number")
        if not 1 <= remote_port <= 65535:
            raise ValueError(f"host {name!r}: remote_port {remote_port} is outside 1-65535")
        self.name = name
        self.destination = ssh
        self.remote_port = remote_port
        self._on_change = on_change
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._backoff = backoff if backoff is not None else Backoff(random=random)
        self._command = (
            list(ssh_command) if ssh_command is not None else command_from_env(os.environ)
        )
        self._tasks = tasks if tasks is not None else TaskGroup()
        self._state = TunnelState.STOPPED
        self._since = wall()
        self._local_port: int | None = None
        self._error = ""
        self._supervisor: asyncio.Task[None] | None = None
        self._port_hint: int | None = None  # the last try's local port, tried first again

    # -- what the owner reads ------------------------------------------------------------------

    @property
    def state(self) -> TunnelState:
        return self._state

    @property
    def since(self) -> float:
        """When the state last changed (seconds since the epoch, from ``wall``)."""
        return self._since

    @property
    def local_port(self) -> int | None:
        """The forwarded port on 127.0.0.1 while UP, else None."""
        return self._local_port

    @property
    def error(self) -> str:
        """The last failure, as ssh (or the supervisor) put it; "" until one happens."""
        return self._error

    def __repr__(self) -> str:
        return (
            f"<Tunnel {self.name} {self.destination} {self._state.value} port={self._local_port}>"
        )

    # -- start and stop --------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin supervising; returns at once (follow ``state`` through ``on_change``)."""
        if self._state is not TunnelState.STOPPED:
            return
        self._set(TunnelState.STARTING)
        self._supervisor = self._tasks.spawn(self._supervise(), name=f"tunnel-{self.name}")

    async def stop(self) -> None:
        """Kill ssh (its whole process group), reap it, and stay STOPPED until ``start()``."""
        task, self._supervisor = self._supervisor, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if self._state is not TunnelState.STOPPED:
            self._set(TunnelState.STOPPED)

    # -- the supervisor --------------------------------------------------------------------------

    def _set(self, state: TunnelState, port: int | None = None, error: str | None = None) -> None:
        """Move to ``state`` (``port``: the local port when it is UP; ``error``: why, when it
        failed); one ``on_change`` for the whole change."""
        if state is not self._state:
            if state not in TRANSITIONS[self._state]:
                raise RuntimeError(f"tunnel {self.name}: no move from {self._state} to {state}")
            self._state = state
            self._since = self._wall()
        elif error is None or error == self._error:
            return  # nothing changed
        self._local_port = port if state is TunnelState.UP else None
        if error is not None:
            self._error = error
        try:
            self._on_change()
        except Exception:
            log.exception("tunnel %s: on_change failed", self.name)

    async def _supervise(self) -> None:
        try:
            while True:
                up_for, why = await self._try_once()
                if up_for is not None:
                    self._backoff.was_up(up_for)
                delay = self._backoff.next_delay()
                self._set(TunnelState.RECONNECTING, error=why)
                log.info("tunnel %s: %s; next try in %.1f s", self.name, why, delay)
                await self._sleep(delay)
        except asyncio.CancelledError:  # stop(), or the owner's task group closing
            if self._state is not TunnelState.STOPPED:
                self._set(TunnelState.STOPPED)
            raise

    async def _try_once(self) -> tuple[float | None, str]:
        """One ssh from start to end: how long it was up (None: it never came up), and why it
        ended."""
        try:
            port = _free_port(self._port_hint)
        except OSError as e:
            return None, f"no free local port for the tunnel: {e.strerror or e}"
        self._port_hint = port
        argv = ssh_argv(self._command, self.destination, port, self.remote_port)
        env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_ENV}
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,  # its own process group: killed as one
                preexec_fn=_die_with_parent(),  # prctl looked up before the fork
            )
        except OSError as e:
            return None, f"could not run {argv[0]!r}: {e.strerror or e}"
        assert proc.stderr is not None
        lines: deque[str] = deque(maxlen=STDERR_LINES)
        reader = self._tasks.spawn(
            _read_lines(proc.stderr, lines), name=f"tunnel-{self.name}-stderr"
        )
        up_at: float | None = None
        why = ""
        try:
            if await self._ready(proc, port):
                up_at = self._clock()
                self._set(TunnelState.UP, port)
                log.info("tunnel %s up: 127.0.0.1:%d → %s", self.name, port, self.destination)
                why = await self._watch(proc, port)
            elif proc.returncode is None:
                why = f"ssh did not open the forward within {READY_TIMEOUT:g} s"
        finally:
            await _end(proc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_GRACE):
                    await asyncio.wait([reader])
        said = _last_error(lines)
        if not why:
            why = said or f"ssh exited with status {proc.returncode}"
        elif said and up_at is None:
            why = f"{why} (ssh said: {said})"
        return (None if up_at is None else self._clock() - up_at), why

    async def _ready(self, proc: asyncio.subprocess.Process, port: int) -> bool:
        """Poll the local port until it accepts (True), ssh exits or READY_TIMEOUT passes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        pause = 0.02
        while proc.returncode is None and loop.time() < deadline:
            if await _accepts(port, timeout=1.0):
                return proc.returncode is None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await proc.wait()
            pause = min(pause * 2, 0.25)
        return False

    async def _watch(self, proc: asyncio.subprocess.Process, port: int) -> str:
        """Wait while up; "" when ssh exited (its stderr says why), else the probe's finding."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROBE_EVERY):
                    await proc.wait()
            if proc.returncode is not None:
                return ""
            if not await _accepts(port, PROBE_TIMEOUT) and proc.returncode is None:
                return f"the tunnel's local port 127.0.0.1:{port} stopped accepting connections"


async def _end(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM ssh's process group, SIGKILL it after STOP_GRACE, and reap ssh, even when the
    task running this is cancelled meanwhile (the cancellation is passed on afterwards): no
    zombie, no orphan."""
    if proc.returncode is None:  # not reaped yet: the group id is still ours
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
    reaped = asyncio.shield(proc.wait())
    cancelled = False
    try:
        async with asyncio.timeout(STOP_GRACE):
            await reaped
    except TimeoutError:
        pass
    except asyncio.CancelledError:
        cancelled = True
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    while not reaped.done():  # SIGKILL: moments
        try:
            await reaped
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
