"""Atomic writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dirfd = os.open(path.parent, os.O_DIRECTORY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


def write_json_atomic(path: Path, value: Any, *, indent: int | None = 2) -> None:
    write_atomic(path, (json.dumps(value, indent=indent, ensure_ascii=False) + "\n").encode())


# What the app keeps under its data dir: private to the user (terminal logs hold secrets).
PRIVATE_DIRS = ("logs", "run", "repos", "workspaces", "trash")
FLAT_PRIVATE_DIRS = ("logs", "run", "trash")  # hold only the app's own files: each one made 0600


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed; ``path`` itself ends 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def tighten_data_dir(data_dir: Path) -> list[str]:
    """Make an existing data dir private: D and its own directories 0700, its own files 0600.

    Checkouts under ``repos/`` and ``workspaces/`` keep their files' modes (their directory is
    0700, so no one else can reach them). Returns warnings for the user: a data dir that others
    could write was open to tampering before this start.
    """
    warnings: list[str] = []
    mode = data_dir.stat().st_mode & 0o777
    if mode & 0o022:
        warnings.append(
            f"data dir {data_dir} was writable by other users (mode {mode:o}): someone else could "
            "have changed its files; it is now 0700"
        )
    data_dir.chmod(0o700)
    for entry in data_dir.iterdir():
        try:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name in PRIVATE_DIRS:
                    entry.chmod(0o700)
                if entry.name in FLAT_PRIVATE_DIRS:
                    for child in entry.iterdir():
                        if child.is_file() and not child.is_symlink():
                            child.chmod(0o600)
            elif entry.is_file() or entry.is_socket():
                entry.chmod(0o600)
        except OSError:
            continue  # vanished meanwhile, or not ours: the start goes on
    return warnings
