"""A workspace's changes, file by file, with their contents (GET /api/diff, docs/API.md#diff).

Two bases:

* ``head``: the working tree against ``HEAD`` (staged and unstaged changes together, untracked
  files as ``untracked``): schmux's diff;
* ``branch``: the working tree against the merge-base of ``HEAD`` and the repo's default branch
  (``gitsync.default_branch``): everything the workspace did since it forked, committed or not.

Three gits, whatever the number of files: ``git diff --raw --numstat -z -M <base>`` (status,
paths, the old blob of each file and its line counts), ``git ls-files -o --exclude-standard``
(untracked files) and one ``git cat-file --batch`` streaming every old blob. New contents are
read from the working tree, never following a symbolic link (a link's content is its target, as
git records it). Binary files (git's rule: a NUL in the first 8000 bytes) come without content,
``binary: true``; a side over ``MAX_FILE_BYTES`` is cut at a line end and the file says
``truncated: true``; past ``MAX_TOTAL_BYTES`` for the whole answer, files come without content,
``truncated: true``.

Everything here is synchronous and runs in a worker thread (``procs.in_worker``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import stat
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend import procs, wire
from backend.gitenv import git_env
from backend.gitsync import GitError, default_branch, git, split_z
from backend.models import Workspace

MAX_FILE_BYTES = 1 << 20  # one side of one file (schmux caps at 1 MiB too)
MAX_TOTAL_BYTES = 32 << 20  # every content of one answer
BINARY_PROBE = 8000  # git's own: a NUL in the first 8000 bytes makes a file binary
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
NULL_OID = "0" * 40
SUBMODULE = "160000"
_CHUNK = 64 * 1024


class Base(enum.Enum):
    HEAD = "head"
    BRANCH = "branch"


class DiffError(Exception):
    """The diff cannot be computed for a reason a person can act on (no default branch, no
    common history, git failed)."""


@dataclass
class FileDiff:
    status: str  # added | modified | deleted | renamed | untracked
    new_path: str
    old_path: str | None = None
    old_content: str | None = None
    new_content: str | None = None
    lines_added: int = 0
    lines_removed: int = 0
    binary: bool = False
    truncated: bool = False

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.old_path is not None:
            out["old_path"] = self.old_path
        out["new_path"] = self.new_path
        if self.old_content is not None:
            out["old_content"] = self.old_content
        if self.new_content is not None:
            out["new_content"] = self.new_content
        out.update(
            status=self.status,
            lines_added=self.lines_added,
            lines_removed=self.lines_removed,
            binary=self.binary,
            is_binary=self.binary,  # the name schmux's client reads
            truncated=self.truncated,
        )
        return out


@dataclass
class Diff:
    base: Base
    base_commit: str  # what the working tree is compared with ("" for an unborn HEAD)
    base_ref: str  # "HEAD", or the default branch's ref for Base.BRANCH
    files: list[FileDiff] = field(default_factory=list)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _content(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _cut(data: bytes, size: int) -> tuple[bytes, bool]:
    """``data`` (the first bytes of a side of ``size`` bytes) within MAX_FILE_BYTES, cut at a
    line end when it is cut; and whether it was."""
    if size <= MAX_FILE_BYTES and len(data) >= size:
        return data, False
    head = data[:MAX_FILE_BYTES]
    nl = head.rfind(b"\n")
    return (head[: nl + 1] if nl >= 0 else head), True


def _binary(data: bytes) -> bool:
    return b"\0" in data[:BINARY_PROBE]


# -- the working tree ---------------------------------------------------------------------


@dataclass
class _Read:
    data: bytes  # at most MAX_FILE_BYTES + a little
    size: int
    lines: int
    missing: bool = False


def _read_beneath(root: bytes, rel: bytes, *, count_lines: bool) -> _Read:
    """The file ``rel`` under ``root``, opened one component at a time without following a
    symbolic link (an agent may swap a directory for a link meanwhile); a link gives its target.
    A missing or unreadable file, a FIFO or a device reads as missing."""
    parts = [p for p in rel.split(b"/") if p]
    if not parts or any(p in (b".", b"..") for p in parts):
        return _Read(b"", 0, 0, missing=True)
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    fds: list[int] = []
    try:
        fd = os.open(root, flags | os.O_DIRECTORY)
        fds.append(fd)
        for p in parts[:-1]:
            fd = os.open(p, flags | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            fds.append(fd)
        name = parts[-1]
        st = os.lstat(name, dir_fd=fd)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(name, dir_fd=fd)
            return _Read(target, len(target), _count(target) if count_lines else 0)
        if not stat.S_ISREG(st.st_mode):
            return _Read(b"", 0, 0, missing=True)
        ffd = os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        fds.append(ffd)
        kept: list[bytes] = []
        size = lines = 0
        last = b""
        while True:
            chunk = os.read(ffd, _CHUNK)
            if not chunk:
                break
            if size <= MAX_FILE_BYTES:
                kept.append(chunk)
            size += len(chunk)
            last = chunk[-1:]
            if count_lines:
                lines += chunk.count(b"\n")
            elif size > MAX_FILE_BYTES:  # enough to show; git counted its lines
                size = max(size, os.fstat(ffd).st_size)
                break
        if count_lines and last and last != b"\n":
            lines += 1
        return _Read(b"".join(kept), size, lines)
    except OSError:
        return _Read(b"", 0, 0, missing=True)
    finally:
        for f in reversed(fds):
            os.close(f)


def _count(data: bytes) -> int:
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


# -- old blobs ----------------------------------------------------------------------------


def _blobs(path: Path, oids: list[str], timeout: float) -> dict[str, tuple[bytes, int]]:
    """Each blob's first bytes (at most MAX_FILE_BYTES + 1) and its size, streamed through one
    ``git cat-file --batch`` (a blob of gigabytes is never held whole)."""
    wanted = list(dict.fromkeys(oids))
    if not wanted:
        return {}
    popen = subprocess.Popen(
        ["git", "-C", os.fspath(path), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=git_env(),
        start_new_session=True,
    )
    assert popen.stdin is not None and popen.stdout is not None
    stdin, stdout = popen.stdin, popen.stdout

    def feed() -> None:  # from its own thread: git answers while we still write
        with contextlib.suppress(OSError):
            stdin.write("".join(f"{o}\n" for o in wanted).encode("ascii"))
            stdin.close()

    timer = threading.Timer(timeout, lambda: _kill(popen))
    writer = threading.Thread(target=feed, daemon=True)
    timer.start()
    writer.start()
    out: dict[str, tuple[bytes, int]] = {}
    try:
        for oid in wanted:
            header = stdout.readline().split()
            if len(header) == 2 and header[1] == b"missing":
                continue
            if len(header) != 3:
                raise DiffError(f"git cat-file gave no answer for {oid} in {path}")
            size = int(header[2])
            keep = min(size, MAX_FILE_BYTES + 1)
            data = stdout.read(keep)
            rest = size - keep + 1  # and the newline after the blob
            while rest > 0:
                skipped = stdout.read(min(rest, _CHUNK))
                if not skipped:
                    break
                rest -= len(skipped)
            out[oid] = (data, size)
    finally:
        timer.cancel()
        _kill(popen)
        popen.wait()
        writer.join(1)
        stdout.close()
    return out


def _kill(popen: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(popen.pid, 9)


# -- the diff -----------------------------------------------------------------------------


@dataclass
class _Raw:
    status: str  # git's letter: A D M T R C U X
    old_mode: str
    new_mode: str
    old_oid: str
    old_path: bytes
    new_path: bytes
    added: int = 0
    removed: int = 0
    binary: bool = False


def _parse(out: bytes) -> list[_Raw]:
    """``git diff --raw --numstat -z``: the raw records, then the numstat ones (joined by path)."""
    fields = split_z(out)
    raws: list[_Raw] = []
    by_path: dict[bytes, _Raw] = {}
    i, n = 0, len(fields)
    while i < n:
        rec = fields[i]
        i += 1
        if rec.startswith(b":"):
            parts = rec[1:].split(b" ")
            if len(parts) < 5 or i >= n:
                continue
            letter = parts[4][:1].decode("ascii", "replace")
            old = fields[i]
            i += 1
            new = old
            if letter in ("R", "C") and i < n:
                new = fields[i]
                i += 1
            raw = _Raw(letter, _text(parts[0]), _text(parts[1]), _text(parts[2]), old, new)
            raws.append(raw)
            by_path[new] = raw
            continue
        cols = rec.split(b"\t", 2)
        if len(cols) != 3:
            continue
        path = cols[2]
        if not path and i + 1 < n:  # a rename: "A\tR\t\0old\0new"
            path = fields[i + 1]
            i += 2
        found = by_path.get(path)
        if found is None:
            continue
        if cols[0] == b"-":
            found.binary = True
        else:
            with contextlib.suppress(ValueError):
                found.added, found.removed = int(cols[0]), int(cols[1])
    return raws


_STATUS = {"A": "added", "D": "deleted", "R": "renamed", "C": "added"}


def _base_commit(path: Path, base: Base, timeout: float) -> tuple[str, str]:
    if base is Base.HEAD:
        head = git(path, "rev-parse", "--verify", "-q", "HEAD^{commit}", timeout=timeout, ok=(0, 1))
        return (head.decode().strip() or ""), "HEAD"
    found = default_branch(path, timeout=timeout)
    if found is None:
        raise DiffError(
            "the repo's default branch is not known here (no origin/HEAD, origin/main or "
            "origin/master): there is nothing to compare the branch with"
        )
    ref, commit = found
    try:
        mb = git(path, "merge-base", "HEAD", commit, timeout=timeout).decode().strip()
    except GitError as e:
        if e.returncode == 1:
            raise DiffError(f"the branch has no history in common with {ref}") from None
        raise DiffError(str(e)) from None
    return mb, ref


def compute(path: Path, base: Base, *, timeout: float = 30.0) -> Diff:
    """The diff of the checkout at ``path`` against ``base`` (blocking: call from a worker)."""
    try:
        return _compute(path, base, timeout)
    except GitError as e:
        raise DiffError(str(e)) from None


def _compute(path: Path, base: Base, timeout: float) -> Diff:
    commit, ref = _base_commit(path, base, timeout)
    against = commit or EMPTY_TREE
    out = git(
        path,
        "diff",
        "--raw",
        "--numstat",
        "-z",
        "-M",
        "--no-abbrev",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        against,
        "--",
        timeout=timeout,
    )
    raws = _parse(out)
    untracked = split_z(
        git(path, "ls-files", "--others", "--exclude-standard", "-z", timeout=timeout)
    )
    want = [
        r.old_oid
        for r in raws
        if r.status != "A" and not r.binary and r.old_mode != SUBMODULE and r.old_oid != NULL_OID
    ]
    blobs = _blobs(path, want, timeout)
    root = os.fsencode(path)
    budget = MAX_TOTAL_BYTES
    diff = Diff(base, commit, ref)

    def spend(data: bytes) -> bool:
        nonlocal budget
        if budget < len(data):
            budget = 0
            return False
        budget -= len(data)
        return True

    for r in raws:
        status = _STATUS.get(r.status, "modified")
        f = FileDiff(status, _text(r.new_path), lines_added=r.added, lines_removed=r.removed)
        if status != "added":
            f.old_path = _text(r.old_path)
        f.binary = r.binary
        if not f.binary and SUBMODULE not in (r.old_mode, r.new_mode):
            old: tuple[bytes, int] | None = blobs.get(r.old_oid) if status != "added" else None
            new: _Read | None = None
            if status != "deleted":
                new = _read_beneath(root, r.new_path, count_lines=False)
            if (old and _binary(old[0])) or (new and not new.missing and _binary(new.data)):
                f.binary = True
            else:
                if old is not None:
                    data, cut = _cut(*old)
                    if spend(data):
                        f.old_content = _content(data)
                        f.truncated |= cut
                    else:
                        f.truncated = True
                elif status != "added":
                    f.old_content = ""
                if new is not None:
                    data, cut = _cut(new.data, new.size) if not new.missing else (b"", False)
                    if spend(data):
                        f.new_content = _content(data)
                        f.truncated |= cut
                    else:
                        f.truncated = True
        diff.files.append(f)

    for rel in sorted(untracked):
        f = FileDiff("untracked", _text(rel))
        got = _read_beneath(root, rel, count_lines=True)
        if _binary(got.data):
            f.binary = True
        else:
            f.lines_added = got.lines
            data, cut = _cut(got.data, got.size)
            if spend(data):
                f.new_content = _content(data)
                f.truncated = cut
            else:
                f.truncated = True
        diff.files.append(f)
    return diff


def payload(workspace: dict[str, str], diff: Diff) -> dict[str, Any]:
    """The answer of GET /api/diff: ``workspace`` gives ``workspace_id``, ``repo``, ``branch``."""
    return {
        **workspace,
        "base": diff.base.value,
        "base_ref": diff.base_ref,
        "base_commit": diff.base_commit,
        "files": [f.payload() for f in diff.files],
    }


class Differ:
    """Diffs on demand for the API, at most ``concurrency`` at once (each in a worker thread, so
    a diff of thousands of files never stalls the event loop or starves the git status pass)."""

    def __init__(self, *, concurrency: int = 2, timeout: float = 30.0) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self.timeout = timeout

    async def json(self, workspace: Workspace, base: Base) -> str:
        """The answer of GET /api/diff as JSON text, built and encoded in a worker thread."""
        head = {"workspace_id": workspace.id, "repo": workspace.repo, "branch": workspace.branch}
        path = Path(workspace.path)
        timeout = self.timeout

        def work() -> str:
            if not path.is_dir():
                raise DiffError(
                    f"workspace {workspace.id}'s directory {path} is missing (run a scan)"
                )
            return wire.encode(payload(head, compute(path, base, timeout=timeout)))

        async with self._slots:
            return await procs.in_worker(work)
