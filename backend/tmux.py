"""The app's own tmux server (``tmux -S D/tmux.sock``): start, inspect, feed and kill sessions.

Sessions run a launcher script written by the session manager, so an agent's command line and
prompt never reach tmux's command line. The one string from a request that does is terminal
input, sent literally (``send-keys -l``): as an argv word with a trailing ``;`` escaped, or over
the control client double-quoted with escapes (``backend.tmuxcontrol.quote``); tmux expands no
format in it either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend import procs, sessionlog
from backend.fileio import write_atomic
from backend.rwgate import Gate
from backend.tasks import TaskGroup
from backend.tmuxcontrol import SEPARATOR, ControlCommandError, ControlLost
from backend.tmuxlifecycle import ControlLifecycle, ControlState

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


# A reply over the control client takes ~0.05 ms. With none after this long the client is
# replaced, and the command is repeated by a one-shot client, unless running it twice could do
# harm (it may have run, its reply lost): those wait the full timeout, as a one-shot would.
CONTROL_TIMEOUT = 2.0
NOT_REPEATABLE = frozenset({"new-session", "send-keys"})


class TmuxError(Exception):
    pass


class TmuxUnsure(TmuxError):
    """No answer, and the command may have run: not repeated."""


class Tmux:
    """Commands go over a persistent control client once ``start_control()`` has one running,
    through a one-shot ``tmux`` process each otherwise (and always for pane captures)."""

    def __init__(
        self,
        socket: Path,
        conf: Path,
        *,
        timeout: float = 10.0,
        tasks: TaskGroup | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.socket = socket
        self.conf = conf
        self.timeout = timeout
        # One-shot clients run in shared sections of the gate, the control client attaches in
        # an exclusive one (see backend.tmuxlifecycle: tmux 3.3a can crash otherwise).
        self._gate = Gate()
        self._control = ControlLifecycle(
            socket, conf, env=_env, sessions=self._session_names, gate=self._gate,
            timeout=timeout, tasks=tasks, clock=clock,
        )  # fmt: skip

    @property
    def control_state(self) -> ControlState:
        """Where the control client is in its life (read-only; see backend.tmuxlifecycle)."""
        return self._control.state

    @property
    def control_attaches(self) -> int:
        """How many control clients have attached so far."""
        return self._control.attaches

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
        """Start the control client (or wait for the start under way); False if it could not
        (no session yet, tmux < 3.2)."""
        return await self._control.start()

    def close(self) -> None:
        self._control.close()

    async def _session_names(self) -> list[str]:
        try:
            return (await self._run_once(("list-sessions", "-F", "#{session_name}"), None)).split()
        except TmuxError:
            return []  # no server yet: the first spawn starts it

    # -- commands -------------------------------------------------------------------------------

    async def run(self, *args: str, input: bytes | None = None, control: bool = True) -> str:
        """Run one tmux command (or several, with ``SEPARATOR`` arguments between them)."""
        client = await self._control.client() if control and input is None else None
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
        argv = ["tmux", "-S", str(self.socket), "-f", str(self.conf), *map(_argv_word, args)]
        try:
            async with self._gate.shared():
                rc, out, err = await procs.run(argv, env=_env(), timeout=self.timeout, stdin=input)
        except TimeoutError:
            raise TmuxError(
                f"tmux {args[0] if args else ''}: no answer within {self.timeout} s"
            ) from None
        except OSError as e:
            raise TmuxError(f"cannot run tmux: {e}") from e
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
        self._control.session_created()  # a session to attach a control client to

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
