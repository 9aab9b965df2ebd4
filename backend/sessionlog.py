"""The session log: ``D/logs/<id>.log``, every byte a session's pane wrote, and its rotation.

tmux's ``pipe-pane`` hands the pane's output to ``LOG_WRITER``, the only process that writes
the log. It appends at most ``sessions.log_max_bytes`` bytes to the log, then moves it to
``<id>.log.1`` (replacing the one before) and starts a new one, so a file it has moved away is
complete. Readers (``LogFollower``, one per watched terminal) hold the file open: when the path
names a new file they finish the old one, then ``<id>.log.1`` if that is a log moved away since
(a reader a whole log behind), then follow the new one: no byte is lost while a reader lags by
less than two logs (``sessions.log_max_bytes``, 16 MiB by default). The writer needs ``stdbuf``
(GNU coreutils) to have ``head`` pass each read on at once; without it the log would never
rotate, so the app refuses to start (``require_writer``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
from pathlib import Path
from typing import IO

from .errors import StorageError
from .fileio import DataDirError, make_private_dir

READ_CHUNK = 256 * 1024
MIN_MAX_BYTES = 1024
ROTATED_SUFFIX = ".1"
WRITER_TOOLS = ("stdbuf", "head", "wc", "mv")

# It appends at most ``max`` bytes to a file, then moves it to ``<log>.1`` and starts a new one.
# (``head -c`` reads no byte past its count; ``stdbuf -o0`` makes it write each read at once.)
# Without ``stdbuf`` (only when the tmux server's PATH lost it after the app checked) it appends
# without rotating rather than lose output. No ``#`` in here: tmux would expand it as a format.
LOG_WRITER = (
    "umask 077; log=$1 max=$2; "
    'command -v stdbuf >/dev/null 2>&1 || exec cat >> "$log"; '
    "while :; do "
    'size=$(wc -c < "$log" 2>/dev/null) || size=0; '
    'if [ "$size" -ge "$max" ]; then mv -f -- "$log" "$log.1"; size=0; fi; '
    'stdbuf -o0 head -c "$((max - size))" >> "$log" || exit; '
    'size=$(wc -c < "$log") && [ "$size" -ge "$max" ] || exit 0; '
    "done"
)


class WriterUnavailable(DataDirError):
    """A program the log writer needs is missing: the app does not start (the CLI prints the
    message and exits 2, as for a data dir it cannot use)."""


def writer_missing(path: str | None = None) -> str | None:
    """Why the log writer cannot rotate logs on this machine (``path``: a PATH to look in,
    the process's own by default), or None when it can."""
    for tool in WRITER_TOOLS:
        if shutil.which(tool, path=path) is None:
            return (
                f"{tool} is not installed or not on PATH (the session logs' writer needs it to "
                f"rotate logs at sessions.log_max_bytes); install GNU coreutils"
            )
    return None


def require_writer(path: str | None = None) -> None:
    """Refuse to start (``WriterUnavailable``) when logs could not be rotated."""
    problem = writer_missing(path)
    if problem is not None:
        raise WriterUnavailable(problem)


def writer_command(log: Path, max_bytes: int) -> str:
    """The shell command ``pipe-pane`` runs to write ``log`` (tmux formats not yet escaped)."""
    return (
        f"exec sh -c {shlex.quote(LOG_WRITER)} schmux-log"
        f" {shlex.quote(str(log))} {max(MIN_MAX_BYTES, int(max_bytes))}"
    )


def rotated(path: Path) -> Path:
    """Where the writer moves a full log."""
    return path.with_name(path.name + ROTATED_SUFFIX)


class SessionLogs:
    """``D/logs``: one log per session, and the rotated one before it."""

    def __init__(self, path: Path, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.dir = path
        self.max_bytes = max_bytes  # sessions.log_max_bytes; new writers use the new value

    def path(self, session_id: str) -> Path:
        return self.dir / f"{session_id}.log"

    def create(self, session_id: str) -> Path:
        """An empty log before the pane writes (private, 0600); ``StorageError`` when the disk
        refuses."""
        path = self.path(session_id)
        try:
            make_private_dir(self.dir)
            path.touch(mode=0o600)
        except OSError as e:
            with contextlib.suppress(OSError):
                path.unlink()
            raise StorageError(f"could not create {path}: {e.strerror or e}") from e
        return path

    def forget(self, session_id: str) -> None:
        path = self.path(session_id)
        for p in (path, rotated(path)):
            with contextlib.suppress(OSError):
                p.unlink()

    def writer_command(self, session_id: str) -> str:
        return writer_command(self.path(session_id), self.max_bytes)


def tail(path: Path, limit: int = 256 * 1024) -> bytes:
    """The last ``limit`` bytes of a log, from the rotated one too if the live one is short."""
    data = b""
    for p in (path, rotated(path)):
        try:
            with p.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - (limit - len(data))))
                data = f.read(limit - len(data)) + data
        except OSError:
            continue
        if len(data) >= limit:
            break
    return data


class LogFollower:
    """Reads a log as it grows, through the writer's rotations."""

    def __init__(self, path: Path, file: IO[bytes] | None = None) -> None:
        self.path = path
        self.file = file  # the log being read; None until it exists

    @classmethod
    def from_end(cls, path: Path) -> LogFollower:
        """Following what comes after now (a full capture covers what came before)."""
        follower = cls(path)
        with contextlib.suppress(OSError):
            follower.file = path.open("rb")
            follower.file.seek(0, os.SEEK_END)
        return follower

    def read(self) -> bytes:
        """The next bytes (at most ``READ_CHUNK``); b"" at the end for now."""
        if self.file is None:
            try:
                self.file = self.path.open("rb")  # created after the follower: all new
            except FileNotFoundError:
                return b""
        data = self.file.read(READ_CHUNK)
        if data:
            return data
        # At the end. Has the writer moved this log away and begun a new one?
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            return b""  # not created yet; its creation wakes us
        finished = os.fstat(self.file.fileno()).st_ino
        if current == finished:
            return b""
        data = self.file.read(READ_CHUNK)  # the old log is complete now: finish it first
        if data:
            return data
        self.file.close()
        self.file = self._rotated_since(finished, current)
        return self.read()

    def _rotated_since(self, finished: int, current: int) -> IO[bytes] | None:
        """``<log>.1`` when it is a log moved away after the one just finished (the reader fell a
        whole log behind): it comes before the current one. None: go on with the current log."""
        try:
            rotated = self.path.with_name(self.path.name + ROTATED_SUFFIX).open("rb")
        except OSError:
            return None
        if os.fstat(rotated.fileno()).st_ino in (finished, current):
            rotated.close()
            return None
        return rotated

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
