"""The app's own tmux server (``tmux -S D/tmux.sock``): start, inspect, feed and kill sessions.

Sessions run a launcher script written by the session manager, so an agent's command line and
prompt never reach tmux's command line. The one string from a request that does is terminal
input, sent literally (``send-keys -l``): as an argv word with a trailing ``;`` escaped, or over
the control client double-quoted with escapes (``backend.tmuxcontrol.quote``); tmux expands no
format in it either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from backend import procs, sessionlog
from backend.fileio import write_atomic
from backend.tasks import TaskGroup
from backend.tmuxcontrol import (
    SEPARATOR,
    ControlClient,
    ControlCommandError,
    ControlLost,
)

log = logging.getLogger(__name__)

TMUX_CONF = """\
# written by schmux-desktop for its own tmux server
set -g remain-on-exit on
set -g remain-on-exit-format ""
set -g history-limit 50000
set -g status off
set -g exit-empty off
set -g destroy-unattached off
set -g default-terminal "screen-256color"
"""


SEND_CHUNK = 2000


def format_literal(text: str) -> str:
    """``text`` for an argument tmux expands as a format (``pipe-pane``'s command,
    ``run-shell``): every ``#`` doubled, so ``#S``, ``#{...}`` and ``#(...)`` in a path stay text
    instead of naming the session or running a command."""
    return text.replace("#", "##")


_SAFE_PATH = re.compile(r"^[A-Za-z0-9/._+,=@-]+$")


@dataclass(frozen=True)
class Pane:
    session: str
    dead: bool
    dead_status: int | None
    pid: int | None


def _argv_word(arg: str) -> str:
    """An argument for a one-shot client: there, a trailing ';' ends a command unless escaped."""
    if arg == SEPARATOR:
        return ";"
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env


CONTROL_RETRY = 2.0  # after the control client could not start: one-shot clients meanwhile
# A reply over the control client takes ~0.05 ms. With none after this long the client is
# replaced, and the command is repeated by a one-shot client, unless running it twice could do
# harm (it may have run, its reply lost): those wait the full timeout, as a one-shot would.
CONTROL_TIMEOUT = 2.0
NOT_REPEATABLE = frozenset({"new-session", "send-keys"})


def control_version_ok(version: str) -> bool:
    """From ``tmux -V``: "tmux 3.3a" yes, "tmux 3.1c" no; unknown forms ("tmux master") yes."""
    m = re.search(r"(\d+)\.(\d+)", version)
    return m is None or (int(m.group(1)), int(m.group(2))) >= (3, 2)


class TmuxError(Exception):
    pass


class TmuxUnsure(TmuxError):
    """No answer, and the command may have run: not repeated."""


class Tmux:
    """Commands go over a persistent control client once ``start_control()`` has one running,
    through a one-shot ``tmux`` process each otherwise (and always for pane captures)."""

    def __init__(
        self, socket: Path, conf: Path, *, timeout: float = 10.0, tasks: TaskGroup | None = None
    ) -> None:
        self.socket = socket
        self.conf = conf
        self.timeout = timeout
        self._tasks = tasks  # where (re)starts of the control client run; inline without
        self._control: ControlClient | None = None
        self._control_starting = False
        self._control_failed_at = float("-inf")
        self._control_wanted = False
        self._control_supported: bool | None = None  # by the tmux version, asked once
        # tmux 3.3a can crash (a segfault: every session gone) when a control client attaches
        # while another client creates a session (5 in 100 tries with plain tmux), so a control
        # client attaches only while no one-shot client of ours runs, and none starts meanwhile.
        self._attaching: asyncio.Event | None = None  # set once the control client is attached
        self._one_shots = 0
        self._no_one_shots = asyncio.Event()
        self._no_one_shots.set()

    @property
    def attach_prefix(self) -> str:
        return f"tmux -S {shlex.quote(str(self.socket))}"

    def write_conf(self, event_file: Path | None = None) -> bool:
        """Write our tmux.conf; with ``event_file``, tmux touches it whenever a pane dies or a
        session closes, so the app learns of exits at once. Returns True if the text changed."""
        text = TMUX_CONF
        if event_file is not None and _SAFE_PATH.match(str(event_file)):
            touch = f"run-shell -b 'touch {event_file}'"
            text += f'set-hook -g pane-died "{touch}"\nset-hook -g session-closed "{touch}"\n'
        if self.conf.exists() and self.conf.read_text() == text:
            return False
        write_atomic(self.conf, text.encode())
        return True

    async def reload_conf(self) -> None:
        with contextlib.suppress(TmuxError):
            await self.run("source-file", str(self.conf))

    # -- the control client ------------------------------------------------------------------

    async def start_control(self) -> bool:
        """Start (or restart) the control client; False if it could not (no session yet)."""
        self._control_wanted = True
        if self._control is not None and self._control.alive:
            return True
        if self._control_starting:
            return False
        self._control_starting = True
        try:
            client = await self._attach_control()
        finally:
            self._control_starting = False
        if client is None:
            self._control_failed_at = asyncio.get_running_loop().time()
            return False
        if not self._control_wanted:  # closed while starting
            client.close()
            return False
        client.on_lost = self._control_lost
        self._control = client
        return True

    async def _attach_control(self) -> ControlClient | None:
        if self._control_supported is None:
            self._control_supported = await self._supports_control()
        if not self._control_supported:
            self._control_wanted = False
            return None
        try:
            names = (await self._run_once(("list-sessions", "-F", "#{session_name}"), None)).split()
        except TmuxError:
            return None  # no server yet: the first spawn starts it
        if not names:
            return None
        # an agent's session (ours are named schmux-...), else whatever the server has
        name = next((n for n in names if n.startswith("schmux-")), names[0])
        client = ControlClient(self.socket, self.conf, env=_env())
        self._attaching = attaching = asyncio.Event()  # one-shot clients wait (see __init__)
        try:
            await self._no_one_shots.wait()
            await client.start(name, timeout=self.timeout)
        except ControlLost as e:
            log.info("no tmux control client (one tmux process per command): %s", e)
            return None
        finally:
            attaching.set()
            self._attaching = None
        return client

    async def _supports_control(self) -> bool:
        """tmux 3.2 or later: older ones have no flags for a client without output or size."""
        try:
            rc, out, _ = await procs.run(["tmux", "-V"], env=_env(), timeout=self.timeout)
        except (OSError, TimeoutError):
            return False
        text = out.decode(errors="replace").strip()
        if rc == 0 and not control_version_ok(text):
            log.info("%s: one tmux process per command (a control client needs tmux 3.2)", text)
            return False
        return True

    def close(self) -> None:
        self._control_wanted = False
        if self._control is not None:
            self._control.close()
            self._control = None

    async def _usable_control(self) -> ControlClient | None:
        c = self._control
        if c is not None and c.alive:
            return c
        if not self._control_wanted or self._control_starting:
            return None
        # Lost (its session ended, the server was killed) or never started: try again, unless
        # a try failed a moment ago; in the background if we can, this command goes one-shot.
        if asyncio.get_running_loop().time() - self._control_failed_at < CONTROL_RETRY:
            return None
        if self._tasks is not None:
            self._restart_in_background()
            return None
        return self._control if await self.start_control() else None

    def _control_lost(self) -> None:
        """Its session ended or the server went away: attach a new one now, not on next use."""
        if self._tasks is not None and self._control_wanted and not self._control_starting:
            self._restart_in_background()

    def _restart_in_background(self) -> None:
        assert self._tasks is not None
        self._control_starting = True  # (start_control clears it and starts over)
        try:
            self._tasks.spawn(self._restart_control(), name="tmux-control-client")
        except RuntimeError:  # shutting down
            self._control_starting = False

    async def _restart_control(self) -> None:
        self._control_starting = False
        await self.start_control()

    # -- commands -------------------------------------------------------------------------------

    async def run(self, *args: str, input: bytes | None = None, control: bool = True) -> str:
        """Run one tmux command (or several, with ``SEPARATOR`` arguments between them)."""
        client = await self._usable_control() if control and input is None else None
        if client is not None:
            once_only = bool(args) and args[0] in NOT_REPEATABLE
            timeout = self.timeout if once_only else min(self.timeout, CONTROL_TIMEOUT)
            try:
                return await client.run(args, timeout=timeout)
            except ControlCommandError as e:
                raise TmuxError(f"tmux {args[0] if args else ''}: {e}") from None
            except (TimeoutError, ControlLost) as e:
                # Lost (its session ended, the server went away): a one-shot client says what
                # is there now. Given up on (this command or one before it got no answer): the
                # command may have run, so repeat it only if running it twice does no harm.
                if once_only and (isinstance(e, TimeoutError) or e.maybe_ran):
                    raise TmuxUnsure(f"tmux {args[0]}: no answer (it may have run)") from None
        return await self._run_once(args, input)

    async def _run_once(self, args: tuple[str, ...], input: bytes | None) -> str:
        while self._attaching is not None:
            await self._attaching.wait()
        argv = ["tmux", "-S", str(self.socket), "-f", str(self.conf), *map(_argv_word, args)]
        self._one_shots += 1
        self._no_one_shots.clear()
        try:
            rc, out, err = await procs.run(argv, env=_env(), timeout=self.timeout, stdin=input)
        except TimeoutError:
            raise TmuxError(
                f"tmux {args[0] if args else ''}: no answer within {self.timeout} s"
            ) from None
        except OSError as e:
            raise TmuxError(f"cannot run tmux: {e}") from e
        finally:
            self._one_shots -= 1
            if not self._one_shots:
                self._no_one_shots.set()
        if rc != 0:
            msg = err.decode(errors="replace").strip() or f"exit status {rc}"
            raise TmuxError(f"tmux {args[0] if args else ''}: {msg}")
        return out.decode(errors="replace")

    async def new_session(
        self, name: str, argv: list[str], *, width: int, height: int, log: Path, log_max: int
    ) -> None:
        """Start ``argv`` in a detached session, keeping the pane on exit and logging from byte one.

        The three commands go in one tmux invocation: tmux runs them before it reads any
        output from the new pane, so the log misses nothing. The log is rotated past
        ``log_max`` bytes by its writer (see ``backend.sessionlog``).
        """
        # tmux expands formats in pipe-pane's command: the log's path (under the data dir, any
        # name the user chose) goes through format_literal.
        pipe = format_literal(sessionlog.writer_command(log, log_max))
        args = (
            "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), *argv,
            SEPARATOR, "set-option", "-w", "-t", f"={name}:", "remain-on-exit", "on",
            SEPARATOR, "pipe-pane", "-t", f"={name}:", "-o", pipe,
        )  # fmt: skip
        try:
            await self.run(*args)
        except TmuxUnsure:
            # Given up on with others in the control client's queue. tmux runs the three
            # commands together: if the session is there, they ran.
            try:
                await self._run_once(("has-session", "-t", f"={name}"), None)
            except TmuxError:
                await self._run_once(args, None)
        self._control_failed_at = float("-inf")  # a session to attach a control client to

    async def panes(self) -> dict[str, Pane]:
        """The first pane of every session; empty when the server is not running."""
        try:
            out = await self.run(
                "list-panes",
                "-a",
                "-F",
                "#{session_name}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_pid}",
            )
        except TmuxError as e:
            text = str(e)
            gone = ("no server running", "error connecting", "No such file")
            if any(g in text for g in gone) or "no current target" in text:  # (no sessions)
                return {}
            raise
        panes: dict[str, Pane] = {}
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) != 4 or parts[0] in panes:
                continue
            name, dead, status, pid = parts
            panes[name] = Pane(
                session=name,
                dead=dead == "1",
                dead_status=int(status) if status.lstrip("-").isdigit() else None,
                pid=int(pid) if pid.isdigit() else None,
            )
        return panes

    async def kill_session(self, name: str) -> None:
        with contextlib.suppress(TmuxError):
            await self.run("kill-session", "-t", f"={name}")

    async def send_literal(self, name: str, data: str) -> None:
        # tmux refuses a command over ~16 KiB ("command too long"): send long input in parts
        # of at most SEND_CHUNK characters (4 bytes each at worst in UTF-8).
        for start in range(0, len(data), SEND_CHUNK):
            await self.run(
                "send-keys", "-t", f"={name}:", "-l", "--", data[start : start + SEND_CHUNK]
            )

    async def capture(self, name: str, *, lines: int = 2000, escapes: bool = True) -> str:
        """The pane's last ``lines`` of history plus its visible screen (one line per row)."""
        args = ["capture-pane", "-p", "-t", f"={name}:", "-S", f"-{lines}"]
        if escapes:
            args.append("-e")
        return await self.run(*args, control=False)  # pane text could fake a control reply

    async def capture_with_cursor(
        self, name: str, *, lines: int = 2000
    ) -> tuple[str, int, int, int, int]:
        """The capture and (cursor_x, cursor_y, width, height) read in one tmux invocation, so
        a resize in between cannot make them disagree."""
        out = await self.run(
            "capture-pane", "-p", "-e", "-t", f"={name}:", "-S", f"-{lines}",
            SEPARATOR, "display-message", "-p", "-t", f"={name}:",
            "#{cursor_x} #{cursor_y} #{pane_width} #{pane_height}",
            control=False,  # pane text could fake a control reply
        )  # fmt: skip
        body, _, last = out.rstrip("\n").rpartition("\n")
        x, y, w, h = (int(v) for v in last.split())
        return body + "\n", x, y, w, h

    async def resize(self, name: str, cols: int, rows: int) -> None:
        await self.run("resize-window", "-t", f"={name}:", "-x", str(cols), "-y", str(rows))
