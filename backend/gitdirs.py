"""Where a workspace's git metadata lives, and the file watches that follow it.

A workspace is a clone (its ``.git`` is a directory) or a worktree of a shared repo (its ``.git``
is a file, ``gitdir: <path>``, naming its own git dir inside the repo's ``worktrees/``). A git
status result changes when the work tree changes, when the workspace's own git dir does (index,
``HEAD``), or when refs do, which for a worktree live in the shared repo's dir. ``GitDirs`` names
these places; ``WorkspaceWatches`` keeps one file watch per workspace on them, under the keys the
refresher routes (``ws:<id>`` for one workspace, ``repo:<name>`` for every worktree of a repo).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .models import Workspace

GITDIR_PREFIX = "gitdir:"


@dataclass(frozen=True)
class GitDirs:
    """The git metadata of one workspace: ``own`` is its git dir (``.git`` itself for a clone);
    ``common`` the repo's shared dir for a worktree, None for a clone (``own`` holds its refs)."""

    own: Path
    common: Path | None


class GitDirsError(Exception):
    """The workspace has no ``.git``, or a ``.git`` file that cannot be read."""


def parse_gitdir_file(text: str, workspace: Path) -> Path:
    """The git dir a worktree's ``.git`` file names (``gitdir: <path>``, relative to the
    workspace when not absolute)."""
    line = text.strip()
    if not line.startswith(GITDIR_PREFIX):
        raise GitDirsError(f"{workspace / '.git'}: not a 'gitdir:' line")
    gitdir = Path(line.removeprefix(GITDIR_PREFIX).strip())
    if not str(gitdir) or str(gitdir) == ".":
        raise GitDirsError(f"{workspace / '.git'}: names no git dir")
    if not gitdir.is_absolute():
        gitdir = (workspace / gitdir).resolve()
    return gitdir


def git_dirs(workspace: Path) -> GitDirs:
    """The git metadata of the workspace at ``workspace`` (see ``GitDirs``)."""
    dotgit = workspace / ".git"
    if dotgit.is_file():
        try:
            text = dotgit.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise GitDirsError(f"{dotgit}: cannot be read: {e}") from None
        own = parse_gitdir_file(text, workspace)
        return GitDirs(own=own, common=own.parent.parent)  # <common>/worktrees/<name>
    if dotgit.is_dir():
        return GitDirs(own=dotgit, common=None)
    raise GitDirsError(f"{workspace}: no .git")


class Watches(Protocol):
    """What ``WorkspaceWatches`` needs of a watcher (``backend.watcher.ChangeWatcher``)."""

    @property
    def active(self) -> bool: ...

    def watch_dir(self, key: str, path: str) -> bool: ...

    def watch_tree(self, key: str, path: str) -> bool: ...

    def unwatch(self, key: str) -> None: ...


class WorkspaceWatches:
    """One watch per workspace: its tree, its git dir, and for a worktree the shared repo's dir
    and refs. ``unwatched`` names those that could not be watched fully (past the watcher's
    limit, no ``.git``): the git loop polls them on every timed pass."""

    def __init__(self, watcher: Watches, workspaces: Callable[[], Mapping[str, Workspace]]) -> None:
        self.watcher = watcher
        self._workspaces = workspaces
        self.watched: set[str] = set()
        self.unwatched: set[str] = set()

    def sync(self, _event: object = None) -> None:
        """Watch new workspaces, unwatch the ones gone (an event bus subscriber)."""
        if not self.watcher.active:
            return
        current = self._workspaces()
        for wid in self.watched - set(current):
            self.watcher.unwatch(f"ws:{wid}")
            self.watched.discard(wid)
            self.unwatched.discard(wid)
        for wid in set(current) - self.watched:
            self.watched.add(wid)
            if not self.watch(current[wid]):
                self.unwatched.add(wid)

    def watch(self, ws: Workspace) -> bool:
        key = f"ws:{ws.id}"
        path = Path(ws.path)
        ok = self.watcher.watch_tree(key, str(path))
        try:
            dirs = git_dirs(path)
        except GitDirsError:
            return False
        if dirs.common is not None:  # a worktree: its own git dir, plus the shared repo's refs
            repo_key = f"repo:{ws.repo_name}"
            ok = self.watcher.watch_dir(key, str(dirs.own)) and ok
            ok = self.watcher.watch_dir(repo_key, str(dirs.common)) and ok
            ok = self.watcher.watch_tree(repo_key, str(dirs.common / "refs")) and ok
        else:
            ok = self.watcher.watch_dir(key, str(dirs.own)) and ok
            ok = self.watcher.watch_tree(key, str(dirs.own / "refs")) and ok
        return ok
