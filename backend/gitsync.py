"""git run synchronously, from a worker thread (``procs.in_worker``), never on the event loop.

The diff and the conflict forecast each do several git steps in a row and parse what comes back
in between; they run as one function in a worker thread, which calls git through here. Each git
runs in the app's git environment (``gitenv``) in its own process group, killed with its group
when it passes its time limit.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from backend.gitenv import IDENTITY, git_env


class GitError(Exception):
    """A git step failed or passed its time limit; the message is for a person.
    ``no_space``: git said the disk is full."""

    def __init__(self, message: str, returncode: int = -1, *, no_space: bool = False) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.no_space = no_space


def git(
    path: Path,
    *args: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    ok: Sequence[int] = (0,),
) -> bytes:
    """``git -C path *args``: its stdout, or ``GitError`` (exit status not in ``ok``, timeout)."""
    argv = ["git", "-C", os.fspath(path), *args]
    try:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=git_env(env),
            start_new_session=True,
        )
    except OSError as e:
        raise GitError(f"cannot run git: {e}") from None
    try:
        out, err = popen.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.communicate()
        raise GitError(f"git {args[0]} timed out after {timeout:g} s in {path}") from None
    if popen.returncode not in ok:
        text = err.decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        detail = lines[0] if lines else f"exit status {popen.returncode}"
        raise GitError(
            f"git {args[0]} failed in {path}: {detail}",
            popen.returncode,
            no_space="No space left on device" in text,
        )
    return out


def worktree_commit(path: Path, parent: str | None, message: str, *, timeout: float) -> str:
    """A commit of the working tree as ``git add -A`` sees it (on ``parent``), made through a
    private copy of the index: the checkout and its own index are left as they are."""
    index = Path(git(path, "rev-parse", "--git-path", "index", timeout=timeout).decode().strip())
    if not index.is_absolute():
        index = path / index
    fd, tmp = tempfile.mkstemp(prefix="schmux-tree-", suffix=".index")
    os.close(fd)
    try:
        if index.exists():
            shutil.copyfile(index, tmp)  # its stat data spares re-reading unchanged files
        else:
            os.unlink(tmp)
        env = {"GIT_INDEX_FILE": tmp}
        git(path, "add", "-A", "--", ".", timeout=timeout, env=env)
        tree = git(path, "write-tree", timeout=timeout, env=env).decode().strip()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    parents = ["-p", parent] if parent else []
    out = git(path, "commit-tree", tree, *parents, "-m", message, timeout=timeout, env=IDENTITY)
    return out.decode().strip()


def split_z(out: bytes) -> list[bytes]:
    """The fields of ``-z`` output (NUL-separated), without the empty last one."""
    fields = out.split(b"\0")
    if fields and not fields[-1]:
        fields.pop()
    return fields


DEFAULT_REFS = (
    "refs/remotes/origin/HEAD",
    "refs/remotes/origin/main",
    "refs/remotes/origin/master",
)


def default_branch(path: Path, *, timeout: float) -> tuple[str, str] | None:
    """The repo's default branch as this checkout knows it: (ref, commit) of origin/HEAD, else
    origin/main, else origin/master, else the local main or master; None without any."""
    candidates = (*DEFAULT_REFS, "refs/heads/main", "refs/heads/master")
    out = git(
        path,
        "for-each-ref",
        "--format=%(refname)%00%(objectname)%00%(symref)",
        *candidates,
        timeout=timeout,
    )
    found: dict[str, tuple[str, str]] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        parts = line.split("\0")
        if len(parts) == 3:
            found[parts[0]] = (parts[1], parts[2])
    for ref in candidates:
        if ref in found:
            commit, target = found[ref]
            return (target or ref), commit
    return None
