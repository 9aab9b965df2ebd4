"""Workspaces: ``<repo>-NNN`` checkouts, as worktrees off a bare clone in ``D/repos`` or as clones.

The manager decides (ids, conflicts, safety, reconciliation); ``gitops`` does the git work on
GitPython in worker threads; the status path lives in ``gitstatus`` and stays lean.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import SCM_WORKTREE, Config, Repo
from .errors import BadRequest, Conflict, NotFound
from .events import EventBus, WorkspaceProgress
from .gitstatus import GitStatusError, run_git
from .models import Workspace, valid_id
from .registry import Registry

log = logging.getLogger(__name__)


@dataclass
class ScanResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


class WorkspaceManager:
    def __init__(
        self,
        registry: Registry,
        events: EventBus,
        *,
        repos_dir: Path,
        config: Callable[[], Config],
    ) -> None:
        self.registry = registry
        self.events = events
        self.repos_dir = repos_dir
        self.config = config
        self._reserved: set[str] = set()
        self._repo_locks: dict[str, asyncio.Lock] = {}

    def get(self, workspace_id: str) -> Workspace:
        if not valid_id(workspace_id):
            raise NotFound(f"no workspace with id {workspace_id[:80]!r}")
        ws = self.registry.state.workspaces.get(workspace_id)
        if ws is None:
            raise NotFound(f"no workspace with id {workspace_id!r}")
        return ws

    def bare_path(self, repo: Repo) -> Path:
        return self.repos_dir / f"{repo.name}.git"

    def _lock(self, repo: Repo) -> asyncio.Lock:
        return self._repo_locks.setdefault(repo.name, asyncio.Lock())

    def _reserve_id(self, repo: Repo, root: Path) -> str:
        taken = set(self.registry.state.workspaces) | self._reserved
        n = 1
        while True:
            candidate = f"{repo.name}-{n:03d}"
            if candidate not in taken and not (root / candidate).exists():
                self._reserved.add(candidate)
                return candidate
            n += 1

    async def create(self, repo: Repo, branch: str, *, request_id: str | None = None) -> Workspace:
        from backend import gitops  # GitPython is imported on first use, not at start-up

        branch = gitops.check_branch(branch)  # no git run: checked in-process
        cfg = self.config()
        worktree_mode = cfg.source_code_management == SCM_WORKTREE
        if worktree_mode:
            for w in self.registry.state.workspaces.values():
                if w.repo_name == repo.name and w.branch == branch:
                    raise Conflict(
                        f"branch {branch!r} of {repo.name} is already used by workspace {w.id}; "
                        "spawn into that workspace or pick another branch"
                    )
        root = cfg.workspace_path
        workspace_id = self._reserve_id(repo, root)
        path = root / workspace_id
        loop = asyncio.get_running_loop()

        def report(stage: str, percent: float | None, message: str) -> None:
            event = WorkspaceProgress(
                request_id, repo.name, branch, workspace_id, stage, percent, message
            )
            loop.call_soon_threadsafe(self.events.emit, event)

        try:
            report("fetching", 0.0, f"Preparing {repo.name} ({branch})")
            async with self._lock(repo):
                if worktree_mode:
                    await asyncio.to_thread(
                        gitops.create_worktree, self.bare_path(repo), repo, branch, path, report
                    )
                else:
                    await asyncio.to_thread(gitops.create_clone, repo, branch, path, report)
            ws = Workspace(
                id=workspace_id,
                repo=repo.url,
                repo_name=repo.name,
                branch=branch,
                path=str(path),
            )
            try:
                with self.registry.change("workspace created") as state:
                    state.workspaces[workspace_id] = ws
            except BaseException:
                bare = self.bare_path(repo) if worktree_mode else None
                await asyncio.to_thread(gitops.remove_checkout, bare, path)
                raise
            report("ready", 100.0, f"Workspace {workspace_id} ready")
            return ws
        except Exception as e:
            report("error", None, e.message if isinstance(e, BadRequest) else str(e))
            raise
        finally:
            self._reserved.discard(workspace_id)

    # -- dispose -----------------------------------------------------------------------

    async def dispose_blockers(self, ws: Workspace) -> str | None:
        """Why disposing would lose something, or None when it is safe."""
        sessions = self.registry.state.sessions_of(ws.id)
        if sessions:
            names = ", ".join(s.nickname or s.id for s in sessions[:5])
            n = len(sessions)
            return (
                f"workspace {ws.id} has {n} session{'s' if n != 1 else ''} ({names}); "
                "dispose them first"
            )
        path = Path(ws.path)
        if not path.exists():
            return None
        timeout = self.config().git_status_timeout_ms / 1000
        try:
            out = await run_git(
                path, "status", "--porcelain=v1", "-z", "--untracked-files=all", timeout=timeout
            )
        except GitStatusError as e:
            return f"cannot read git status of {ws.id} ({e}); not disposing it"
        modified = staged = untracked = 0
        examples: list[str] = []
        for entry in out.split("\0"):
            if len(entry) < 4:
                continue
            x, y, name = entry[0], entry[1], entry[3:]
            if x == "?":
                untracked += 1
            else:
                if x not in " !":
                    staged += 1
                if y not in " !":
                    modified += 1
            if len(examples) < 3 and x != "!":
                examples.append(name)
        if modified or staged or untracked:
            parts = []
            if modified:
                parts.append(f"{modified} modified")
            if staged:
                parts.append(f"{staged} staged")
            if untracked:
                parts.append(f"{untracked} untracked")
            return (
                f"workspace {ws.id} has uncommitted changes ({', '.join(parts)} "
                f"file{'s' if modified + staged + untracked != 1 else ''}, e.g. {', '.join(examples)})"
            )
        try:
            count = await run_git(
                path, "rev-list", "--count", "HEAD", "--not", "--remotes", timeout=timeout
            )
        except GitStatusError:
            count = "0"  # unborn HEAD: nothing committed, nothing to lose
        n = int(count.strip() or 0)
        if n:
            return (
                f"workspace {ws.id} has {n} commit{'s' if n != 1 else ''} on {ws.branch} "
                "that are not pushed to origin"
            )
        return None

    async def dispose(self, workspace_id: str) -> None:
        ws = self.get(workspace_id)
        reason = await self.dispose_blockers(ws)
        if reason:
            raise Conflict(reason)
        repo = self.config().repo(ws.repo_name) or Repo(ws.repo_name, ws.repo)
        worktree_mode = (self.bare_path(repo) / "HEAD").exists() and (
            Path(ws.path) / ".git"
        ).is_file()
        from backend import gitops

        bare = self.bare_path(repo) if worktree_mode else None
        await asyncio.to_thread(gitops.remove_checkout, bare, Path(ws.path))
        with self.registry.change("workspace disposed") as state:
            state.workspaces.pop(workspace_id, None)

    # -- scan --------------------------------------------------------------------------

    async def scan(self) -> ScanResult:
        result = ScanResult()
        from backend import gitops

        found = await asyncio.to_thread(gitops.discover, self.config(), self.bare_path)
        state = self.registry.state
        known_paths = {os.path.realpath(w.path): w.id for w in state.workspaces.values()}
        removed = [w.id for w in state.workspaces.values() if not Path(w.path).is_dir()]
        updated: dict[str, str] = {}
        for w in state.workspaces.values():
            if w.id in removed:
                continue
            head = await asyncio.to_thread(gitops.current_branch, Path(w.path))
            if head is not None and head != w.branch:
                updated[w.id] = head
        additions: list[Workspace] = []
        taken = set(state.workspaces) - set(removed)
        for repo, path, branch in found:
            if os.path.realpath(path) in known_paths:
                continue
            wid = (
                path.name if re.fullmatch(rf"{re.escape(repo.name)}-\d{{3,}}", path.name) else None
            )
            if wid is None or wid in taken:
                n = 1
                while f"{repo.name}-{n:03d}" in taken:
                    n += 1
                wid = f"{repo.name}-{n:03d}"
            taken.add(wid)
            additions.append(
                Workspace(
                    id=wid, repo=repo.url, repo_name=repo.name, branch=branch or "", path=str(path)
                )
            )
        if removed or updated or additions:
            with self.registry.change("scan") as st:
                for wid in removed:
                    st.workspaces.pop(wid, None)
                    for s in st.sessions_of(wid):
                        st.sessions.pop(s.id, None)
                for wid, branch in updated.items():
                    st.workspaces[wid].branch = branch
                for w in additions:
                    st.workspaces[w.id] = w
        result.removed = sorted(removed)
        result.updated = sorted(updated)
        result.added = sorted(w.id for w in additions)
        return result
