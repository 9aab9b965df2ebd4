"""The life of the app's tmux control client (``backend.tmuxcontrol``): one state, one start task.

States (``ControlState``) and the only moves between them::

    OFF ──start()──▶ PROBING ──tmux < 3.2──▶ UNSUPPORTED
                       │  └──no server / no session──▶ IDLE
                       ▼
                   ATTACHING ──failed──▶ IDLE
                       │
                       ▼
                      UP ──lost (its session ended, server gone, no answer)──▶ IDLE

    IDLE ──a command (not within CONTROL_RETRY of a failed start), a loss, start()──▶ PROBING
    any state ──close()──▶ OFF

- OFF: not wanted (before ``start()``, after ``close()``): commands use one-shot clients.
- UNSUPPORTED: tmux older than 3.2 (no ``attach-session -f``); asked once, never retried.
- IDLE: wanted, none running. A command starts one, unless a start failed less than
  ``CONTROL_RETRY`` s ago and no session was created since. With a task group the start runs
  in the background and the command goes one-shot; without one the command waits for it.
- PROBING: the start task asks tmux its version (once) and which session to attach to.
- ATTACHING: the client attaches, inside the gate's exclusive section: tmux 3.3a can crash (a
  segfault: every session gone) when a control client attaches while another client creates
  a session (5 in 100 tries with plain tmux), so our one-shot clients run in shared sections
  of the same gate (``backend.rwgate``) and none runs during an attach.
- UP: commands go over the client.

There is at most one start task; ``start()`` and the commands waiting for a start await that
one. Nothing here blocks the event loop: a lost client is killed and reaped by asyncio.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from backend import procs
from backend.rwgate import Gate
from backend.tasks import TaskGroup
from backend.tmuxcontrol import ControlClient, ControlLost

log = logging.getLogger(__name__)

CONTROL_RETRY = 2.0  # after the control client could not start: one-shot clients meanwhile


class ControlState(enum.Enum):
    OFF = "off"
    UNSUPPORTED = "unsupported"
    IDLE = "idle"
    PROBING = "probing"
    ATTACHING = "attaching"
    UP = "up"


_S = ControlState
TRANSITIONS: Mapping[ControlState, frozenset[ControlState]] = {
    _S.OFF: frozenset({_S.PROBING}),
    _S.PROBING: frozenset({_S.UNSUPPORTED, _S.IDLE, _S.ATTACHING, _S.OFF}),
    _S.ATTACHING: frozenset({_S.UP, _S.IDLE, _S.OFF}),
    _S.UP: frozenset({_S.IDLE, _S.OFF}),
    _S.IDLE: frozenset({_S.PROBING, _S.OFF}),
    _S.UNSUPPORTED: frozenset({_S.OFF}),
}


def control_version_ok(version: str) -> bool:
    """From ``tmux -V``: "tmux 3.3a" yes, "tmux 3.1c" no; unknown forms ("tmux master") yes."""
    m = re.search(r"(\d+)\.(\d+)", version)
    return m is None or (int(m.group(1)), int(m.group(2))) >= (3, 2)


async def supports_control(env: Mapping[str, str], timeout: float) -> bool:
    """tmux 3.2 or later: older ones have no flags for a client without output or size."""
    try:
        rc, out, _ = await procs.run(["tmux", "-V"], env=env, timeout=timeout)
    except (OSError, TimeoutError):
        return False
    text = out.decode(errors="replace").strip()
    if rc == 0 and not control_version_ok(text):
        log.info("%s: one tmux process per command (a control client needs tmux 3.2)", text)
        return False
    return True


class ControlLifecycle:
    """Owns the control client: when to start one, where it is, when it is gone.

    ``sessions`` lists the server's sessions by a one-shot client (empty when there is no
    server); ``env`` is the environment for tmux; ``gate`` is shared with the one-shot clients.
    """

    def __init__(
        self,
        socket: Path,
        conf: Path,
        *,
        env: Callable[[], dict[str, str]],
        sessions: Callable[[], Awaitable[list[str]]],
        gate: Gate,
        timeout: float,
        tasks: TaskGroup | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._socket = socket
        self._conf = conf
        self._env = env
        self._sessions = sessions
        self._gate = gate
        self._timeout = timeout
        self._background = tasks is not None
        self._tasks = tasks if tasks is not None else TaskGroup()
        self._clock = clock
        self._state = ControlState.OFF
        self._client: ControlClient | None = None  # set in UP only
        self._task: asyncio.Task[bool] | None = None  # the start task (PROBING, ATTACHING)
        self._supported: bool | None = None  # by the tmux version, asked once
        self._failed_at = float("-inf")
        self._attaches = 0

    @property
    def state(self) -> ControlState:
        return self._state

    @property
    def attaches(self) -> int:
        """How many clients have come up so far: a new one since ``n`` if this is above ``n``."""
        return self._attaches

    def _now(self) -> ControlState:
        """The state after an await (where mypy would keep the one it saw before)."""
        return self._state

    def _set(self, new: ControlState) -> None:
        if new not in TRANSITIONS[self._state]:
            raise RuntimeError(f"tmux control client: no move from {self._state} to {new}")
        self._state = new

    # -- what the commands use ------------------------------------------------------------------

    async def start(self) -> bool:
        """Start a client now (or wait for the start under way); True once one is up."""
        if self._state is ControlState.UP:
            return True
        if self._state in (ControlState.OFF, ControlState.IDLE):
            self._begin()
        if self._task is not None:
            await asyncio.wait([self._task])  # its own cancellation (close()) is not ours
        return self._now() is ControlState.UP

    async def client(self) -> ControlClient | None:
        """The client for a command; None for a one-shot client."""
        if self._state is ControlState.UP:
            return self._client
        if self._state is not ControlState.IDLE:
            return None
        if self._clock() - self._failed_at < CONTROL_RETRY:
            return None
        task = self._begin()
        if task is None or self._background:
            return None
        await asyncio.wait([task])
        return self._client if self._now() is ControlState.UP else None

    def session_created(self) -> None:
        """There is a session to attach to now: the next command may try again at once."""
        self._failed_at = float("-inf")

    def close(self) -> None:
        if self._state is not ControlState.OFF:
            self._set(ControlState.OFF)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- the start task -------------------------------------------------------------------------

    def _begin(self) -> asyncio.Task[bool] | None:
        self._set(ControlState.PROBING)
        try:
            self._task = self._tasks.spawn(self._start(), name="tmux-control-client")
        except RuntimeError:  # shutting down
            self._set(ControlState.IDLE)
        return self._task

    async def _start(self) -> bool:
        try:
            return await self._attach()
        except asyncio.CancelledError:  # the task group shutting down (close() moved to OFF)
            if self._state in (ControlState.PROBING, ControlState.ATTACHING):
                self._set(ControlState.IDLE)
            raise
        except Exception:
            log.exception("tmux control client: could not start")
            if self._state in (ControlState.PROBING, ControlState.ATTACHING):
                self._failed()
            return False
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _attach(self) -> bool:
        if self._supported is None:
            self._supported = await supports_control(self._env(), self._timeout)
        if self._now() is not ControlState.PROBING:  # closed meanwhile
            return False
        if not self._supported:
            self._set(ControlState.UNSUPPORTED)
            return False
        names = await self._sessions()
        if self._now() is not ControlState.PROBING:
            return False
        if not names:  # no server yet (the first spawn starts it), or no session in it
            self._failed()
            return False
        # an agent's session (ours are named schmux-...), else whatever the server has
        name = next((n for n in names if n.startswith("schmux-")), names[0])
        client = ControlClient(self._socket, self._conf, env=self._env())
        self._set(ControlState.ATTACHING)
        async with self._gate.exclusive():
            if self._now() is not ControlState.ATTACHING:  # closed while waiting
                return False
            try:
                await client.start(name, timeout=self._timeout)
            except ControlLost as e:
                log.info("no tmux control client (one tmux process per command): %s", e)
                if self._now() is ControlState.ATTACHING:
                    self._failed()
                return False
        if self._now() is not ControlState.ATTACHING:  # closed while attaching
            client.close()
            return False
        client.on_lost = lambda: self._lost(client)
        self._client = client
        self._attaches += 1
        self._set(ControlState.UP)
        return True

    def _failed(self) -> None:
        self._failed_at = self._clock()
        self._set(ControlState.IDLE)

    def _lost(self, client: ControlClient) -> None:
        """Its session ended, the server went away or it stopped answering: with a task group,
        attach a new one now rather than at the next command."""
        if client is not self._client or self._state is not ControlState.UP:
            return
        self._client = None
        self._set(ControlState.IDLE)
        if self._background:
            self._begin()
