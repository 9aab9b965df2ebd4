"""The launcher and the run dir (``D/run``): how a session's command is started and how it ends.

A session's tmux pane runs ``/bin/sh D/run/<id>.sh``, a script written here, so an agent's
command line and prompt never reach tmux's command line. The script removes itself, sets the
session's environment, runs the target's command in the workspace and, when it ends, prints an
``exited (status N)`` line for the viewer, records the status in ``D/run/<id>.exit`` (written
to a temp file, then renamed) and touches ``D/run/tmux-event``, which the app watches (tmux's
pane-died hook touches it too). The launcher, not tmux, records how the command ended: tmux 3.3a
can miss the exit (no pane-died hook, no exit status) when the pane's output ends before its
process is reaped.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from .errors import StorageError
from .fileio import make_private_dir

# Touched in the run dir when an agent's command ends (by its launcher) or a pane dies (by a
# tmux hook); the app watches for it.
EVENT_FILE = "tmux-event"
SCRIPT_SUFFIX = ".sh"
EXIT_SUFFIX = ".exit"


@dataclass(frozen=True)
class SessionEnv:
    """What an agent learns of the app: where to reach it and the token to use."""

    url: str
    token: str


@dataclass(frozen=True)
class Launch:
    """Everything one launcher script is made of."""

    session_id: str
    workspace_id: str
    workspace_path: str
    command: str  # the run target's command line, run by the shell as written
    prompt: str  # "" for none; appended as one single-quoted word
    env: SessionEnv


def script(launch: Launch, *, exit_file: Path, event_file: Path) -> str:
    """The launcher script's text for ``launch``."""
    lines = [
        "#!/bin/sh",
        "# written by schmux-desktop; removes itself",
        # A trap (not an ignore, which the agent would inherit) keeps this shell alive
        # through Ctrl-C, so the pane reports the agent's status (130) instead of dying by
        # the signal. First thing, so even an early Ctrl-C finds it in place.
        "trap : INT QUIT",
        'rm -f -- "$0"',
        f"export SCHMUX_SESSION_ID={shlex.quote(launch.session_id)}",
        f"export SCHMUX_WORKSPACE_ID={shlex.quote(launch.workspace_id)}",
        f"export SCHMUX_URL={shlex.quote(launch.env.url)}",
        f"export SCHMUX_TOKEN={shlex.quote(launch.env.token)}",
        "unset TMUX TMUX_PANE",
        f"cd -- {shlex.quote(launch.workspace_path)} || exit 126",
    ]
    # In a subshell, so that an ``exit`` or ``exec`` in the target's command line ends the
    # command, not this script.
    if launch.prompt:
        # The prompt is one single-quoted word: the shell never expands anything in it.
        lines.append(f"(\n{launch.command} {shlex.quote(launch.prompt)}\n)")
    else:
        lines.append(f"(\n{launch.command}\n)")
    # The status file says "stopped" and why; the marker line tells the viewer.
    exit_q = shlex.quote(str(exit_file))
    lines += [
        "s=$?",
        "printf '\\r\\n\\033[0;2mexited (status %s)\\033[0m\\r\\n' \"$s\"",
        f'(umask 077; echo "$s" > {exit_q}.tmp) && mv -f -- {exit_q}.tmp {exit_q}',
        f": > {shlex.quote(str(event_file))}",
        'exit "$s"',
    ]
    return "\n".join(lines) + "\n"


def parse_exit_record(text: str) -> int | None:
    """The status in an exit record; None for anything else (a record being written)."""
    text = text.strip()
    return int(text) if text.isdigit() else None


class RunDir:
    """``D/run``: launcher scripts, exit records and the event file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def event_file(self) -> Path:
        return self.path / EVENT_FILE

    def script_path(self, session_id: str) -> Path:
        return self.path / f"{session_id}{SCRIPT_SUFFIX}"

    def exit_path(self, session_id: str) -> Path:
        """Where the launcher writes the command's exit status when it ends."""
        return self.path / f"{session_id}{EXIT_SUFFIX}"

    def write(self, launch: Launch) -> Path:
        """Write the launcher of ``launch`` (private, 0600); ``StorageError`` when the disk
        refuses, and then no launcher, not even a half one, is left behind."""
        text = script(
            launch, exit_file=self.exit_path(launch.session_id), event_file=self.event_file
        )
        make_private_dir(self.path)
        path = self.script_path(launch.session_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        except OSError as e:
            with contextlib.suppress(OSError):
                path.unlink()
            raise StorageError(f"could not write {path}: {e.strerror or e}") from e
        return path

    def recorded_exits(self) -> set[str]:
        """The sessions whose launcher recorded an exit: one listing, not a look per session."""
        try:
            names = os.listdir(self.path)
        except OSError:
            return set()
        return {n.removesuffix(EXIT_SUFFIX) for n in names if n.endswith(EXIT_SUFFIX)}

    def recorded_exit(self, session_id: str) -> int | None:
        try:
            text = self.exit_path(session_id).read_text()
        except (OSError, UnicodeDecodeError):
            return None
        return parse_exit_record(text)

    def forget(self, session_id: str) -> None:
        """The session's exit record (its launcher removes itself when it runs)."""
        for path in (self.exit_path(session_id), self.script_path(session_id)):
            with contextlib.suppress(OSError):
                path.unlink()

    def forget_all_but(self, sessions: Collection[str]) -> None:
        """Exit records and launchers of sessions that are gone (a launcher left by a spawn the
        app was killed in; one that ran has removed itself)."""
        try:
            names = os.listdir(self.path)
        except OSError:
            return
        for name in names:
            if not name.endswith((EXIT_SUFFIX, EXIT_SUFFIX + ".tmp", SCRIPT_SUFFIX)):
                continue
            sid = name.removesuffix(".tmp").removesuffix(EXIT_SUFFIX).removesuffix(SCRIPT_SUFFIX)
            if sid not in sessions:
                with contextlib.suppress(OSError):
                    (self.path / name).unlink()
