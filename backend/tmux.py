"""The app's own tmux server (``tmux -S D/tmux.sock``): start, inspect, feed and kill sessions.

No string from a request ever becomes a tmux argument: tmux splits commands on arguments that
end in ``;`` and expands ``#{...}`` in some of them. Sessions run a launcher script written by
the session manager; only our own names and paths reach tmux's command line.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from backend import procs

TMUX_CONF = """\
# written by schmux-desktop for its own tmux server
set -g remain-on-exit on
set -g remain-on-exit-format "exited (status #{?pane_dead_status,#{pane_dead_status},by a signal})"
set -g history-limit 50000
set -g status off
set -g exit-empty off
set -g destroy-unattached off
set -g default-terminal "screen-256color"
"""


# The pane's output goes to ``<log>`` through this writer, the only process that touches the log.
# It appends at most ``max`` bytes to a file, then moves it to ``<log>.1`` and starts a new one,
# so a file it has moved away is complete: a reader finishes it, then follows the new one, and
# no byte is lost between the two. (``head -c`` reads no byte past its count; ``stdbuf -o0``
# makes it write each read at once.) No ``#`` in here: tmux would expand it as a format.
LOG_WRITER = (
    'log=$1 max=$2; '
    'command -v stdbuf >/dev/null 2>&1 || exec cat >> "$log"; '
    "while :; do "
    'size=$(wc -c < "$log" 2>/dev/null) || size=0; '
    'if [ "$size" -ge "$max" ]; then mv -f -- "$log" "$log.1"; size=0; fi; '
    'stdbuf -o0 head -c "$((max - size))" >> "$log" || exit; '
    'size=$(wc -c < "$log") && [ "$size" -ge "$max" ] || exit 0; '
    "done"
)

_SAFE_PATH = re.compile(r"^[A-Za-z0-9/._+,=@-]+$")


class TmuxError(Exception):
    pass


@dataclass(frozen=True)
class Pane:
    session: str
    dead: bool
    dead_status: int | None
    pid: int | None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env


class Tmux:
    def __init__(self, socket: Path, conf: Path, *, timeout: float = 10.0) -> None:
        self.socket = socket
        self.conf = conf
        self.timeout = timeout

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
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        if self.conf.exists() and self.conf.read_text() == text:
            return False
        self.conf.write_text(text)
        return True

    async def reload_conf(self) -> None:
        with contextlib.suppress(TmuxError):
            await self.run("source-file", str(self.conf))

    async def run(self, *args: str, input: bytes | None = None) -> str:
        argv = ["tmux", "-S", str(self.socket), "-f", str(self.conf), *args]
        try:
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
        ``log_max`` bytes by its writer (see ``LOG_WRITER``).
        """
        pipe = (
            f"exec sh -c {shlex.quote(LOG_WRITER)} schmux-log"
            f" {shlex.quote(str(log))} {max(1024, int(log_max))}"
        )
        await self.run(
            "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), *argv,
            ";", "set-option", "-w", "-t", f"={name}:", "remain-on-exit", "on",
            ";", "pipe-pane", "-t", f"={name}:", "-o", pipe,
        )  # fmt: skip

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
            if "no server running" in text or "error connecting" in text or "No such file" in text:
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
        if data.endswith(";"):  # tmux would take a trailing ';' as a command separator
            data = data[:-1] + "\\;"
        await self.run("send-keys", "-t", f"={name}:", "-l", "--", data)

    async def capture(self, name: str, *, lines: int = 2000, escapes: bool = True) -> str:
        """The pane's last ``lines`` of history plus its visible screen (one line per row)."""
        args = ["capture-pane", "-p", "-t", f"={name}:", "-S", f"-{lines}"]
        if escapes:
            args.append("-e")
        return await self.run(*args)

    async def capture_with_cursor(
        self, name: str, *, lines: int = 2000
    ) -> tuple[str, int, int, int, int]:
        """The capture and (cursor_x, cursor_y, width, height) read in one tmux invocation, so
        a resize in between cannot make them disagree."""
        out = await self.run(
            "capture-pane", "-p", "-e", "-t", f"={name}:", "-S", f"-{lines}",
            ";", "display-message", "-p", "-t", f"={name}:",
            "#{cursor_x} #{cursor_y} #{pane_width} #{pane_height}",
        )  # fmt: skip
        body, _, last = out.rstrip("\n").rpartition("\n")
        x, y, w, h = (int(v) for v in last.split())
        return body + "\n", x, y, w, h

    async def resize(self, name: str, cols: int, rows: int) -> None:
        await self.run("resize-window", "-t", f"={name}:", "-x", str(cols), "-y", str(rows))
