"""Git status of workspaces, read with plain ``git`` subprocesses.

Definitions (docs/API.md#the-dashboard-payload):

* ``ahead``/``behind``: against the branch's upstream (``# branch.ab`` of
  ``git status --porcelain=v2 --branch``); when there is none, against
  ``refs/remotes/origin/HEAD`` if that ref exists; else 0.
* ``dirty``: any modified, staged or untracked-not-ignored file.
* ``lines_added``/``lines_removed``/``files_changed``: working tree against
  ``HEAD`` (``git diff --numstat HEAD``), untracked files counted as added.

The hot path is one ``git status --porcelain=v2 --branch -z --untracked-files=all``
per workspace.  ``git diff --numstat -z HEAD`` runs only when status lists a tracked
change, ``git rev-list`` (against origin/HEAD) only when the branch has no upstream;
those two and the reading of untracked files run concurrently.

Processes are run by ``procs`` (a thread pool with ``subprocess.Popen``; every child in
its own process group, killed with it on timeout or cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from backend import porcelain, procs
from backend.gitenv import GIT_ENV, git_env

__all__ = [
    "GIT_ENV",
    "GitStatus",
    "GitStatusError",
    "git_env",
    "read_all",
    "read_status",
    "run_git",
]


@dataclass(frozen=True)
class GitStatus:
    ahead: int = 0
    behind: int = 0
    dirty: bool = False
    lines_added: int = 0
    lines_removed: int = 0
    files_changed: int = 0
    branch: str | None = None  # from '# branch.head'; None when detached
    # Moves with any edit of a changed or untracked file, even one that keeps the counts above
    # (each such file's state letters, size and mtime, hashed); "" when nothing is changed.
    revision: str = ""


class GitStatusError(Exception):
    """A git command failed or timed out; ``str(err)`` is readable by a person."""


class _GitExitError(GitStatusError):
    """git exited with a non-zero status."""

    def __init__(self, message: str, returncode: int, stderr: str) -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


# --------------------------------------------------------------------------- subprocess

_T = TypeVar("_T")


def _first_line(data: bytes) -> str:
    for line in data.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""


async def _in_worker(fn: Callable[[], _T]) -> _T:
    return await procs.in_worker(fn)


async def _exec_git(
    path: Path,
    args: Sequence[str],
    time_limit: float | None,
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run ``git -C path *args``; return stdout bytes or raise GitStatusError.

    On timeout or cancellation the process group is killed before this returns/raises.
    """
    what = f"git {args[0]}" if args else "git"
    argv = ["git", "-C", os.fspath(path), *args]
    if env is None:
        env = git_env()
    try:
        rc, out, err = await procs.run(argv, env=env, timeout=time_limit)
    except TimeoutError:
        raise GitStatusError(f"{what} timed out after {time_limit} s in {path}") from None
    except FileNotFoundError:
        raise GitStatusError(f"{what} failed in {path}: git executable not found on PATH") from None
    except OSError as exc:
        raise GitStatusError(f"{what} failed in {path}: cannot run git: {exc}") from None

    if rc != 0:
        stderr = err.decode("utf-8", "replace")
        detail = _first_line(err) or f"exit status {rc}"
        raise _GitExitError(f"{what} failed in {path}: {detail}", rc or -1, stderr)
    return out


async def run_git(path: Path, *args: str, timeout: float = 30.0) -> str:
    """Run ``git -C path *args`` and return its stdout as text.

    Raises GitStatusError on a non-zero exit (the message includes the first line of
    git's stderr) or on timeout (the process and its group are killed first).
    """
    out = await _exec_git(path, args, timeout)
    return out.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- parsing


def _parse_numstat(out: bytes) -> tuple[int, int, int]:
    """Return (added, removed, files) from ``git diff --numstat -z`` output."""
    added = removed = files = 0
    fields = out.split(b"\0")
    i = 0
    n = len(fields)
    while i < n:
        rec = fields[i]
        i += 1
        if not rec:
            continue
        parts = rec.split(b"\t", 2)
        if len(parts) != 3:
            continue
        a, r, p = parts
        if not p:
            i += 2  # rename/copy: "A\tR\t\0old\0new\0"
        files += 1
        if a != b"-":  # "-\t-\t" is a binary file: changed, 0 lines
            with contextlib.suppress(ValueError):
                added += int(a)
                removed += int(r)
    return added, removed, files


_CHUNK = 64 * 1024
_BINARY_PROBE = 8 * 1024


def _count_lines(data_iter: Iterator[bytes]) -> int:
    lines = 0
    last = b""
    first = True
    for chunk in data_iter:
        if not chunk:
            continue
        if first:
            if b"\0" in chunk[:_BINARY_PROBE]:
                return 0
            first = False
        lines += chunk.count(b"\n")
        last = chunk[-1:]
    if last and last != b"\n":
        lines += 1
    return lines


def _read_chunks(fd: int) -> Iterator[bytes]:
    while True:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return
        yield chunk


def _untracked_lines(root: bytes, rel: bytes) -> int:
    """Lines in one untracked file (0 for binary, special or unreadable files)."""
    full = os.path.join(root, rel)
    try:
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            # git records a symlink as its target text, without a trailing newline.
            return _count_lines(iter((os.readlink(full),)))
        if not stat.S_ISREG(st.st_mode):
            return 0
        fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return 0
    try:
        return _count_lines(_read_chunks(fd))
    except OSError:
        return 0
    finally:
        os.close(fd)


def _count_untracked(root: bytes, rels: Sequence[bytes]) -> int:
    return sum(_untracked_lines(root, rel) for rel in rels)


# --------------------------------------------------------------------------- status

_STATUS_ARGS = ("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")
_DIFF_ARGS = ("diff", "--numstat", "-z")


async def _ahead_behind_default(path: Path, env: Mapping[str, str]) -> tuple[int, int]:
    """Ahead/behind against refs/remotes/origin/HEAD, or (0, 0) if that ref is missing."""
    try:
        out = await _exec_git(
            path,
            ("rev-list", "--left-right", "--count", "HEAD...refs/remotes/origin/HEAD", "--"),
            None,
            env,
        )
    except _GitExitError:
        return 0, 0  # no origin/HEAD (no remote, or its default branch is unknown)
    parts = out.split()
    if len(parts) != 2:
        return 0, 0
    return int(parts[0]), int(parts[1])


async def _diff_unborn(path: Path, env: Mapping[str, str]) -> bytes:
    """Working tree against the empty tree, for a repository with no commits yet."""
    tree = (await _exec_git(path, ("hash-object", "-t", "tree", os.devnull), None, env)).strip()
    return await _exec_git(path, (*_DIFF_ARGS, tree.decode("ascii"), "--"), None, env)


async def _untracked_added(path: Path, untracked: Sequence[bytes]) -> int:
    if not untracked:
        return 0
    root = os.fsencode(path)
    return await _in_worker(lambda: _count_untracked(root, untracked))


def _revision(root: bytes, changes: Sequence[porcelain.Change], untracked: Sequence[bytes]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for xy, rel in [*((c.xy, c.path) for c in changes), *((b"??", u) for u in untracked)]:
        try:
            st = os.lstat(os.path.join(root, rel))
            mark = b"%d:%d" % (st.st_size, st.st_mtime_ns)
        except OSError:
            mark = b"-"
        h.update(xy + b"\0" + rel + b"\0" + mark + b"\0")
    return h.hexdigest()


_INLINE_REVISION_FILES = 256  # an lstat is ~1 µs: below this, a thread hop costs more than the work


async def _revision_of(path: Path, st: porcelain.Porcelain) -> str:
    if not st.dirty:
        return ""
    root = os.fsencode(path)
    if len(st.changes) + len(st.untracked) <= _INLINE_REVISION_FILES:
        return _revision(root, st.changes, st.untracked)
    return await _in_worker(lambda: _revision(root, st.changes, st.untracked))


async def _read_status(path: Path, env: Mapping[str, str]) -> GitStatus:
    # `git status` first; the rest only when it is needed, all at once:
    # * `git diff --numstat HEAD` only when status lists a tracked change (otherwise
    #   HEAD, index and working tree agree on every tracked file and the diff is empty);
    # * `git rev-list` against origin/HEAD only when the branch has no upstream;
    # * untracked files are read (in a worker thread) only when there are some.
    # Spawning a process costs more than anything else here, and on 2 cores the pass is
    # CPU-bound, so skipping processes beats overlapping them (measured: running the diff
    # speculatively next to status made the 100-workspace pass slower, not faster).
    st = porcelain.parse(await _exec_git(path, _STATUS_ARGS, None, env))

    diff_task: Awaitable[bytes]
    if not st.has_index_entries:
        diff_task = _const(b"")
    elif st.initial:
        diff_task = _diff_unborn(path, env)
    else:
        diff_task = _exec_git(path, (*_DIFF_ARGS, "HEAD", "--"), None, env)

    ab_task: Awaitable[tuple[int, int]]
    if st.ab is not None:
        ab_task = _const(st.ab)
    elif st.initial:
        ab_task = _const((0, 0))
    else:
        ab_task = _ahead_behind_default(path, env)

    untracked = st.untracked
    # return_exceptions: when one part fails, still let the others finish (or be
    # cancelled by the caller's timeout) rather than leaving them running unobserved.
    diff_res, ab_res, untracked_res, revision = await asyncio.gather(
        diff_task,
        ab_task,
        _untracked_added(path, untracked),
        _revision_of(path, st),
        return_exceptions=True,
    )
    if isinstance(diff_res, BaseException):
        raise diff_res
    if isinstance(ab_res, BaseException):
        raise ab_res
    if isinstance(untracked_res, BaseException):
        raise untracked_res
    if isinstance(revision, BaseException):
        raise revision
    diff_out, (ahead, behind), untracked_lines = diff_res, ab_res, untracked_res
    added, removed, files = _parse_numstat(diff_out)
    return GitStatus(
        ahead=ahead,
        behind=behind,
        dirty=st.dirty,
        lines_added=added + untracked_lines,
        lines_removed=removed,
        files_changed=files + len(untracked),
        branch=st.branch,
        revision=revision,
    )


async def _const(value: _T) -> _T:
    return value


async def read_status(path: Path, *, timeout: float = 30.0) -> GitStatus:
    """Read the git status of the workspace at ``path``.

    ``timeout`` bounds the whole read (all git commands together).  Raises
    GitStatusError when git fails, when ``path`` is not a repository, or on timeout.
    """
    return await _read_status_within(path, timeout, git_env())


async def _read_status_within(path: Path, limit: float, env: Mapping[str, str]) -> GitStatus:
    try:
        async with asyncio.timeout(limit):
            return await _read_status(path, env)
    except TimeoutError:
        raise GitStatusError(f"git status timed out after {limit} s in {path}") from None


async def read_all(
    paths: Sequence[Path],
    *,
    concurrency: int = 8,
    timeout: float = 30.0,
) -> dict[Path, GitStatus | GitStatusError]:
    """Read many workspaces with at most ``concurrency`` in flight.

    Each workspace gets its own ``timeout`` (counted from when it starts, not while
    it waits for a slot).  A failing or hung workspace yields a GitStatusError entry
    and never stalls the others.  Keys are the given paths, in order.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    sem = asyncio.Semaphore(concurrency)
    env = git_env()  # once per pass: copying os.environ is not free

    async def one(p: Path) -> GitStatus | GitStatusError:
        async with sem:
            try:
                return await _read_status_within(p, timeout, env)
            except GitStatusError as exc:
                return exc
            except (OSError, ValueError, UnicodeError) as exc:
                return GitStatusError(f"git status failed in {p}: {exc}")

    unique = list(dict.fromkeys(paths))
    results = await asyncio.gather(*(one(p) for p in unique))
    return dict(zip(unique, results, strict=True))
