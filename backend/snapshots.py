"""Snapshots of a workspace as git objects, taken before its checkout is removed.

The working tree (modified, staged and untracked files, ignored ones left out) becomes one
commit whose parent is the HEAD it had, written through a private index so the workspace's own
index is untouched. In worktree mode that commit is kept under ``refs/schmux-trash/<id>`` in the
repo's bare clone, which also keeps every local branch. In clone mode the clone goes away with
the workspace, so a bundle keeps what no remote has: every local branch, every stash (as
``refs/schmux-stash/<id>/<n>``) and the snapshot commit.

Restoring checks out the snapshot's branch at the HEAD it had, then lays the snapshot's files
over it (``read-tree -u --reset`` then a mixed ``reset``), so changes show as uncommitted again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backend import gitsync, porcelain, procs
from backend.gitenv import IDENTITY, git_env


class SnapshotError(Exception):
    """A git step of taking or restoring a snapshot failed; the message is for a person.
    ``no_space``: git said the disk is full (the caller answers 507, not 409)."""

    def __init__(self, message: str, *, no_space: bool = False) -> None:
        super().__init__(message)
        self.no_space = no_space


async def git(
    path: Path,
    *args: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    ok: Sequence[int] = (0,),
) -> str:
    full = git_env({**IDENTITY, **(env or {})})
    try:
        rc, out, err = await procs.run(
            ["git", "-C", os.fspath(path), *args], env=full, timeout=timeout
        )
    except TimeoutError:
        raise SnapshotError(f"git {args[0]} timed out after {timeout:g} s in {path}") from None
    except OSError as e:
        raise SnapshotError(f"cannot run git: {e}") from None
    if rc not in ok:
        text = err.decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        raise SnapshotError(
            f"git {args[0]} failed in {path}: {lines[0] if lines else rc}",
            no_space="No space left on device" in text,
        )
    return out.decode("utf-8", "surrogateescape")


async def _maybe(path: Path, *args: str, timeout: float) -> str | None:
    try:
        return (await git(path, *args, timeout=timeout)).strip()
    except SnapshotError:
        return None


@dataclass
class WorkAtRisk:
    """What disposing a checkout would delete that exists nowhere else."""

    files: list[str] = field(default_factory=list)  # "XY name", as `git status --short` shows
    commits: int = 0  # on HEAD (worktree mode) or any local branch (clone mode), not on a remote
    stashes: int = 0  # clone mode only: a worktree's stashes live in the shared repo

    @property
    def empty(self) -> bool:
        return not (self.files or self.commits or self.stashes)


async def work_at_risk(path: Path, *, clone: bool, timeout: float) -> WorkAtRisk:
    out = await git(
        path, "status", "--porcelain=v2", "-z", "--untracked-files=all", timeout=timeout
    )
    risk = WorkAtRisk(files=porcelain.parse(out.encode("utf-8", "surrogateescape")).short())
    head = await _maybe(path, "rev-parse", "-q", "--verify", "HEAD^{commit}", timeout=timeout)
    tips = (["HEAD"] if head else []) + (["--branches"] if clone else [])
    if tips:
        count = await git(path, "rev-list", "--count", *tips, "--not", "--remotes", timeout=timeout)
        risk.commits = int(count.strip() or 0)
    if clone:
        stashes = await _maybe(
            path, "rev-list", "--walk-reflogs", "--count", "refs/stash", timeout=timeout
        )
        risk.stashes = int(stashes or 0)
    return risk


@dataclass(frozen=True)
class Taken:
    commit: str
    head: str | None
    stashes: int
    branches: dict[str, str]


async def _tree_commit(path: Path, head: str | None, message: str, timeout: float) -> str:
    try:
        return await procs.in_worker(
            lambda: gitsync.worktree_commit(path, head, message, timeout=timeout)
        )
    except gitsync.GitError as e:
        raise SnapshotError(str(e), no_space=e.no_space) from None


async def take(
    path: Path, snapshot_id: str, *, message: str, bundle: Path | None, timeout: float
) -> Taken:
    """Keep everything in the checkout at ``path`` under ``refs/schmux-trash/<snapshot_id>``;
    with ``bundle`` (clone mode) also write that file with the refs no remote has."""
    head = await _maybe(path, "rev-parse", "-q", "--verify", "HEAD^{commit}", timeout=timeout)
    commit = await _tree_commit(path, head, message, timeout)
    ref = f"refs/schmux-trash/{snapshot_id}"
    await git(path, "update-ref", ref, commit, timeout=timeout)
    if bundle is None:
        return Taken(commit, head, 0, {})
    listing = await git(
        path, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", timeout=timeout
    )
    # A name that is not UTF-8 (a lone surrogate here) cannot go into the trash index: such a
    # branch is left out of the list; it travels in the bundle all the same unless a remote
    # has its tip.
    branches = {
        name.removeprefix("refs/heads/"): sha
        for sha, _, name in (line.partition(" ") for line in listing.splitlines())
        if name and _utf8(name)
    }
    stashes = (
        await _maybe(path, "rev-list", "--walk-reflogs", "refs/stash", timeout=timeout) or ""
    ).split()
    stash_refs = [f"refs/schmux-stash/{snapshot_id}/{i}" for i in range(len(stashes))]
    for stash_ref, sha in zip(stash_refs, stashes, strict=True):
        await git(path, "update-ref", stash_ref, sha, timeout=timeout)
    tmp = bundle.with_name(bundle.name + ".tmp")
    bundle.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        await git(
            path, "bundle", "create", "--quiet", str(tmp), "--branches", "--tags", ref,
            *stash_refs, "--not", "--remotes", timeout=timeout,
        )  # fmt: skip
        os.replace(tmp, bundle)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return Taken(commit, head, len(stashes), branches)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


async def drop_ref(bare: Path, snapshot_id: str, *, timeout: float) -> None:
    """Forget a worktree-mode snapshot (its objects go with git's next gc)."""
    if (bare / "HEAD").exists():
        await _maybe(bare, "update-ref", "-d", f"refs/schmux-trash/{snapshot_id}", timeout=timeout)


async def lay_files(path: Path, commit: str, *, timeout: float) -> None:
    """Make the working tree at ``path`` hold the snapshot's files, HEAD and index unchanged."""
    await git(path, "read-tree", "-u", "--reset", commit, timeout=timeout)
    head = await _maybe(path, "rev-parse", "-q", "--verify", "HEAD", timeout=timeout)
    if head:
        await git(path, "reset", "-q", timeout=timeout)
    else:
        await git(path, "rm", "-r", "-q", "--cached", "--", ".", timeout=timeout)


async def set_upstream(path: Path, branch: str, *, timeout: float) -> None:
    if await _maybe(
        path, "rev-parse", "-q", "--verify", f"refs/remotes/origin/{branch}", timeout=timeout
    ):
        await _maybe(path, "branch", f"--set-upstream-to=origin/{branch}", branch, timeout=timeout)


async def branch_commit(repo: Path, branch: str, *, timeout: float) -> str | None:
    return await _maybe(
        repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}", timeout=timeout
    )


async def restore_worktree(
    bare: Path, path: Path, *, branch: str, new_branch: bool, commit: str, head: str, timeout: float
) -> None:
    """A new worktree of ``bare`` at ``path`` on ``branch`` (created at ``head`` when
    ``new_branch``), with the snapshot's files laid over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(SnapshotError):
        await git(bare, "worktree", "prune", timeout=timeout)
    if new_branch:
        await git(bare, "worktree", "add", "-q", "-b", branch, str(path), head, timeout=timeout)
    else:
        await git(bare, "worktree", "add", "-q", str(path), branch, timeout=timeout)
    try:
        await lay_files(path, commit, timeout=timeout)
        await set_upstream(path, branch, timeout=timeout)
    except BaseException:
        await _maybe(bare, "worktree", "remove", "--force", "--force", str(path), timeout=timeout)
        shutil.rmtree(path, ignore_errors=True)
        raise


async def restore_clone(
    path: Path,
    bundle: Path,
    snapshot_id: str,
    *,
    branch: str,
    commit: str,
    head: str | None,
    branches: Mapping[str, str],
    timeout: float,
) -> None:
    """Into a fresh clone at ``path``: the bundle's branches, stashes and files."""
    await git(path, "bundle", "verify", "--quiet", str(bundle), timeout=timeout)
    await git(
        path, "fetch", "-q", "--update-head-ok", str(bundle),
        "+refs/heads/*:refs/heads/*", "+refs/schmux-trash/*:refs/schmux-trash/*",
        "+refs/schmux-stash/*:refs/schmux-stash/*", timeout=timeout,
    )  # fmt: skip
    for name, sha in branches.items():  # branches whose tip a remote has are not in the bundle
        if (
            name != branch
            and await _maybe(path, "cat-file", "-e", f"{sha}^{{commit}}", timeout=timeout)
            is not None
        ):
            await _maybe(path, "update-ref", f"refs/heads/{name}", sha, timeout=timeout)
    if head:
        await git(path, "checkout", "-q", "-f", "-B", branch, head, timeout=timeout)
    else:
        await git(path, "checkout", "-q", "-f", "--orphan", branch, timeout=timeout)
    await lay_files(path, commit, timeout=timeout)
    await set_upstream(path, branch, timeout=timeout)
    prefix = f"refs/schmux-stash/{snapshot_id}/"
    listing = await git(path, "for-each-ref", "--format=%(refname)", prefix, timeout=timeout)
    stash_refs = sorted(listing.split(), key=lambda r: int(r.rsplit("/", 1)[1]), reverse=True)
    for ref in stash_refs:  # oldest first, so stash@{0} is the newest again
        sha = (await git(path, "rev-parse", ref, timeout=timeout)).strip()
        await git(path, "stash", "store", sha, timeout=timeout)
    for ref in [*stash_refs, f"refs/schmux-trash/{snapshot_id}"]:
        await _maybe(path, "update-ref", "-d", ref, timeout=timeout)
