"""Workspaces: ``<repo>-NNN`` checkouts, as worktrees off a bare clone in ``D/repos`` or as clones.

The manager decides (ids, conflicts, safety, reconciliation); ``gitops`` does the local git work
on GitPython in worker threads; ``gitremote`` runs what talks to a remote (clone, fetch) under
``sessions.git_clone_timeout_ms``; the status path lives in ``gitstatus`` and stays lean.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import SCM_WORKTREE, Config, Repo
from .errors import BadRequest, Conflict, NotFound, StorageError
from .events import EventBus, WorkspaceProgress
from .gitremote import Deadline, GitRemote, RemoteGitError, RemoteGitTimeout
from .giturl import local_url
from .models import Session, Workspace, valid_id
from .registry import Registry
from .snapshots import SnapshotError, WorkAtRisk
from .trash import Snapshot, Trash

from . import snapshots  # isort: skip

log = logging.getLogger(__name__)

SNAPSHOT_MIN_TIMEOUT = 120.0  # a slow snapshot beats a refused dispose; a hung git still ends

Report = Callable[[str, float | None, str], None]


def _quiet(stage: str, percent: float | None, message: str) -> None:
    """Progress nobody is waiting for (a restore)."""


@dataclass
class ScanResult:
    """What a scan changed, as schmux answers it: workspaces found, gone, and changed (old, new)."""

    added: list[Workspace] = field(default_factory=list)
    removed: list[Workspace] = field(default_factory=list)
    updated: list[tuple[Workspace, Workspace]] = field(default_factory=list)
    dropped_sessions: list[Session] = field(default_factory=list)  # of removed workspaces


@dataclass(frozen=True)
class Restored:
    workspace: Workspace
    note: str  # "" when it got its old branch back, else what happened instead


class WorkspaceManager:
    def __init__(
        self,
        registry: Registry,
        events: EventBus,
        *,
        repos_dir: Path,
        config: Callable[[], Config],
        trash: Trash | None = None,
        remote: GitRemote | None = None,
    ) -> None:
        self.registry = registry
        self.trash = trash
        self.remote = remote or GitRemote()
        self.events = events
        self.repos_dir = repos_dir
        self.config = config
        self._reserved: set[str] = set()
        self._restoring: set[str] = set()
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
                # The deadline starts with this spawn's turn: one waiting behind a hung fetch
                # of the same repo gets its own full time once that one is stopped.
                deadline = Deadline.after(cfg.git_clone_timeout_ms / 1000)
                try:
                    if worktree_mode:
                        if not await self._new_branch_while_fetching(
                            repo, branch, path, deadline, report
                        ):
                            await self._fetch_bare(repo, deadline, report)
                            await asyncio.to_thread(
                                gitops.add_worktree,
                                self.bare_path(repo),
                                repo,
                                branch,
                                path,
                                report,
                            )
                    else:
                        await self._clone(repo, path, deadline, report)
                        await asyncio.to_thread(gitops.checkout_clone, branch, path, report)
                except BadRequest as e:
                    full = _full_disk(self.repos_dir if worktree_mode else None, root)
                    if full is None:
                        raise
                    raise StorageError(
                        f"No space left on device for {full}: could not create the workspace "
                        f"({e.message})"
                    ) from e
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

    async def _fetch_bare(self, repo: Repo, deadline: Deadline, report: Report) -> None:
        """Bring the bare clone of ``repo`` up to date (made on first use)."""
        from backend import gitops

        bare = self.bare_path(repo)
        url = local_url(repo.url)
        into = await asyncio.to_thread(gitops.prepare_bare, bare, url)
        try:
            fetch = self.remote.run(
                ["fetch", "--progress", "--no-auto-maintenance", "--prune", "origin"],
                cwd=into,
                url=url,
                what=f"fetch {repo.url}",
                deadline=deadline,
                report=lambda p, m: report("fetching", p, m),
            )
            if gitops.has_default_branch(into):
                await fetch  # origin/HEAD known: no second round trip to the remote
            else:
                # origin/HEAD names the default branch new ones start from: asked of the remote
                # while the fetch runs, then set (or, without an answer, as git does it)
                head = self._remote_head(url, into, repo, deadline)
                fetched, name = await asyncio.gather(fetch, head, return_exceptions=True)
                if isinstance(fetched, BaseException):
                    raise fetched
                known = False
                if isinstance(name, str):
                    known = await asyncio.to_thread(gitops.set_default_branch, into, name)
                if not known:
                    try:
                        await self.remote.run(
                            ["remote", "set-head", "origin", "--auto"],
                            cwd=into,
                            url=url,
                            what=f"read the default branch of {repo.url}",
                            deadline=deadline,
                        )
                    except RemoteGitTimeout:
                        raise
                    except RemoteGitError:
                        pass  # a remote without a HEAD: main/master are tried instead
        except BaseException:
            await asyncio.to_thread(gitops.discard_bare, into, bare)
            raise
        await asyncio.to_thread(gitops.finish_bare, into, bare)

    async def _new_branch_while_fetching(
        self, repo: Repo, branch: str, path: Path, deadline: Deadline, report: Report
    ) -> bool:
        """The usual spawn, a new branch off the default branch of a repo cloned before: the
        worktree's files are checked out while the fetch runs (the two slow steps, which ran
        one after the other), then moved to the fetched tip if the remote moved on. False,
        with nothing left behind, to take the usual way (see ``gitops.start_new_branch``)."""
        from backend import gitops

        bare = self.bare_path(repo)
        if not (bare / "HEAD").exists():
            return False
        start = await asyncio.to_thread(gitops.start_new_branch, bare, branch, path)
        if start is None:
            return False
        fetched, checked_out = await asyncio.gather(
            self._fetch_bare(repo, deadline, report),
            asyncio.to_thread(gitops.checkout_files, path, start.commit),
            return_exceptions=True,
        )
        if isinstance(fetched, BaseException):
            await asyncio.to_thread(gitops.undo_new_branch, bare, branch, path)
            raise fetched
        if checked_out is True and await asyncio.to_thread(
            gitops.settle_new_branch, bare, branch, path, start, report
        ):
            return True
        await asyncio.to_thread(gitops.undo_new_branch, bare, branch, path)
        return False

    async def _remote_head(
        self, url: str, into: Path, repo: Repo, deadline: Deadline
    ) -> str | None:
        """The branch the remote's HEAD names (``ls-remote --symref``), None without one."""
        try:
            out = await self.remote.run(
                ["ls-remote", "--symref", "--", url, "HEAD"],
                cwd=into,
                url=url,
                what=f"read the default branch of {repo.url}",
                deadline=deadline,
            )
        except RemoteGitTimeout:
            raise
        except RemoteGitError:
            return None
        m = re.match(r"ref: refs/heads/(\S+)\tHEAD", out)
        return m.group(1) if m else None

    async def _clone(self, repo: Repo, path: Path, deadline: Deadline, report: Report) -> None:
        url = local_url(repo.url)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await self.remote.run(
                ["clone", "--progress", "--", url, str(path)],
                cwd=path.parent,
                url=url,
                what=f"clone {repo.url}",
                deadline=deadline,
                report=lambda p, m: report("fetching", p, m),
            )
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, path, True)
            raise

    # -- dispose -----------------------------------------------------------------------

    def _session_blocker(self, ws: Workspace) -> str | None:
        sessions = self.registry.state.sessions_of(ws.id)
        if not sessions:
            return None
        names = ", ".join(s.nickname or s.id for s in sessions[:5])
        n = len(sessions)
        return (
            f"workspace {ws.id} has {n} session{'s' if n != 1 else ''} ({names}); "
            "dispose them first"
        )

    @staticmethod
    def _risk_reason(ws: Workspace, risk: WorkAtRisk, *, clone: bool) -> str | None:
        """Why disposing would delete work that exists nowhere else, or None."""
        reasons: list[str] = []
        if risk.files:
            modified = sum(1 for e in risk.files if e[0] != "?" and e[1] not in " !")
            staged = sum(1 for e in risk.files if e[0] not in " !?")
            untracked = sum(1 for e in risk.files if e[0] == "?")
            parts = [
                f"{n} {what}"
                for n, what in (
                    (modified, "modified"),
                    (staged, "staged"),
                    (untracked, "untracked"),
                )
                if n
            ]
            total = len(risk.files)
            examples = ", ".join(e[3:] for e in risk.files[:3])
            reasons.append(
                f"uncommitted changes ({', '.join(parts)} file{'s' if total != 1 else ''}, "
                f"e.g. {examples})"
            )
        if risk.commits:
            n = risk.commits
            reasons.append(
                f"{n} commit{'s' if n != 1 else ''} on "
                + (f"{ws.branch or 'its HEAD'} or its other local branches" if clone else ws.branch)
                + (" that is" if n == 1 else " that are")
                + " not pushed to origin"
            )
        if risk.stashes:
            n = risk.stashes
            reasons.append(f"{n} stash{'es' if n != 1 else ''}")
        if not reasons:
            return None
        return f"workspace {ws.id} has " + " and ".join(reasons)

    def _repo_of(self, ws: Workspace) -> tuple[Repo, bool]:
        repo = self.config().repo(ws.repo_name) or Repo(ws.repo_name, ws.repo)
        worktree_mode = (self.bare_path(repo) / "HEAD").exists() and (
            Path(ws.path) / ".git"
        ).is_file()
        return repo, worktree_mode

    def _snapshot_timeout(self) -> float:
        return max(self.config().git_status_timeout_ms / 1000, SNAPSHOT_MIN_TIMEOUT)

    async def dispose(self, workspace_id: str, *, force: bool = False) -> Snapshot | None:
        """Remove a workspace's checkout after keeping a snapshot of it (None when the
        checkout was already gone). Refused (409) while it has sessions, and, unless
        ``force``, while it holds work that exists nowhere else."""
        ws = self.get(workspace_id)
        reason = self._session_blocker(ws)
        if reason:
            raise Conflict(reason)
        repo, worktree_mode = self._repo_of(ws)
        path = Path(ws.path)
        snap: Snapshot | None = None
        if path.is_dir():
            timeout = self.config().git_status_timeout_ms / 1000
            try:
                risk = await snapshots.work_at_risk(path, clone=not worktree_mode, timeout=timeout)
            except SnapshotError as e:
                raise Conflict(f"cannot read git status of {ws.id} ({e}); not disposing it") from e
            reason = self._risk_reason(ws, risk, clone=not worktree_mode)
            if reason and not force:
                days = self.config().snapshot_keep_days
                raise Conflict(
                    f"{reason}. A forced dispose keeps them in a snapshot for {days} "
                    f"day{'s' if days != 1 else ''} and removes the workspace"
                )
            snap = await self._take_snapshot(ws, repo, worktree_mode, risk)
        from backend import gitops

        bare = self.bare_path(repo) if worktree_mode else None
        await asyncio.to_thread(gitops.remove_checkout, bare, path)
        with self.registry.change("workspace disposed") as state:
            state.workspaces.pop(workspace_id, None)
            state.forget_reviews(workspace_id)
        return snap

    async def _take_snapshot(
        self, ws: Workspace, repo: Repo, worktree_mode: bool, risk: WorkAtRisk
    ) -> Snapshot:
        assert self.trash is not None
        snapshot_id = f"{ws.id}-{secrets.token_hex(4)}"
        bundle = None if worktree_mode else self.trash.bundle_path(snapshot_id)
        timeout = self._snapshot_timeout()
        try:
            taken = await snapshots.take(
                Path(ws.path),
                snapshot_id,
                message=f"schmux-desktop: {ws.id} ({ws.branch}) as it was disposed",
                bundle=bundle,
                timeout=timeout,
            )
        except SnapshotError as e:
            raise _failed(e, f"could not keep a snapshot of {ws.id} ({e}); not disposing it") from e
        snap = Snapshot(
            id=snapshot_id,
            workspace_id=ws.id,
            repo=ws.repo,
            repo_name=ws.repo_name,
            branch=ws.branch,
            path=ws.path,
            mode="worktree" if worktree_mode else "clone",
            commit=taken.commit,
            head=taken.head,
            store=str(self.bare_path(repo) if worktree_mode else bundle),
            disposed_at=self.trash.now(),
            files=len(risk.files),
            commits=risk.commits,
            stashes=taken.stashes,
            branches=taken.branches,
        )
        try:
            self.trash.add(snap)
        except BaseException:
            await self._forget(snap)
            raise
        return snap

    async def _forget(self, snap: Snapshot) -> None:
        """Delete a snapshot's git objects' anchor (the ref or the bundle)."""
        if snap.mode == "worktree":
            await snapshots.drop_ref(Path(snap.store), snap.id, timeout=self._snapshot_timeout())
        else:
            with contextlib.suppress(OSError):
                Path(snap.store).unlink()

    async def prune_trash(self) -> int:
        """Forget snapshots older than ``workspaces.snapshot_keep_days``; returns how many."""
        assert self.trash is not None
        pruned = 0
        for snap in self.trash.expired():
            await self._forget(snap)
            self.trash.remove(snap.id)
            pruned += 1
        return pruned

    # -- restore -----------------------------------------------------------------------

    async def restore(self, snapshot_id: str) -> Restored:
        """Recreate a disposed workspace from its snapshot: same branch (or, when that branch
        is now taken, a new one named after it), same files."""
        assert self.trash is not None
        snap = self.trash.get(snapshot_id)
        if snap.id in self._restoring:
            raise Conflict(f"snapshot {snap.id} is being restored already")
        self._restoring.add(snap.id)
        try:
            return await self._restore(snap)
        finally:
            self._restoring.discard(snap.id)

    async def _restore(self, snap: Snapshot) -> Restored:
        assert self.trash is not None
        cfg = self.config()
        repo = cfg.repo(snap.repo_name) or cfg.repo(snap.repo) or Repo(snap.repo_name, snap.repo)
        root = cfg.workspace_path
        taken_ids = set(self.registry.state.workspaces) | self._reserved
        if snap.workspace_id not in taken_ids and not (root / snap.workspace_id).exists():
            workspace_id = snap.workspace_id
            self._reserved.add(workspace_id)
        else:
            workspace_id = self._reserve_id(repo, root)
        path = root / workspace_id
        timeout = self._snapshot_timeout()
        note = ""
        try:
            async with self._lock(repo):
                if snap.mode == "worktree":
                    branch, note = await self._restore_worktree(snap, path, timeout)
                else:
                    branch = await self._restore_clone(snap, repo, path, timeout)
            ws = Workspace(
                id=workspace_id, repo=repo.url, repo_name=repo.name, branch=branch, path=str(path)
            )
            try:
                with self.registry.change("workspace restored") as state:
                    state.workspaces[workspace_id] = ws
            except BaseException:
                from backend import gitops

                bare = Path(snap.store) if snap.mode == "worktree" else None
                await asyncio.to_thread(gitops.remove_checkout, bare, path)
                raise
        finally:
            self._reserved.discard(workspace_id)
        try:
            self.trash.remove(snap.id)
            await self._forget(snap)
        except Exception:  # restored all the same; the snapshot expires in time
            log.exception("could not remove snapshot %s after restoring it", snap.id)
        return Restored(ws, note)

    async def _restore_worktree(
        self, snap: Snapshot, path: Path, timeout: float
    ) -> tuple[str, str]:
        bare = Path(snap.store)
        if not (bare / "HEAD").exists():
            raise Conflict(f"the clone of {snap.repo_name} that held snapshot {snap.id} is gone")
        if snap.head is None:
            raise Conflict(f"snapshot {snap.id} has no commit to restore onto")
        branch = snap.branch
        user = next(
            (
                w.id
                for w in self.registry.state.workspaces.values()
                if w.repo_name == snap.repo_name and w.branch == branch
            ),
            None,
        )
        try:
            at = await snapshots.branch_commit(bare, branch, timeout=timeout) if branch else None
            if branch and user is None and at in (None, snap.head):
                await snapshots.restore_worktree(
                    bare, path, branch=branch, new_branch=at is None, commit=snap.commit,
                    head=snap.head, timeout=timeout,
                )  # fmt: skip
                return branch, ""
            base = branch or f"restored-{snap.workspace_id}"
            n = 1
            alt = f"{base}-restored"
            while await snapshots.branch_commit(bare, alt, timeout=timeout) is not None:
                n += 1
                alt = f"{base}-restored-{n}"
            await snapshots.restore_worktree(
                bare, path, branch=alt, new_branch=True, commit=snap.commit, head=snap.head,
                timeout=timeout,
            )  # fmt: skip
        except SnapshotError as e:
            raise _failed(e, f"could not restore snapshot {snap.id}: {e}") from e
        why = (
            f"is used by workspace {user}"
            if user
            else "has moved on since"
            if branch
            else "was not set (detached HEAD)"
        )
        return alt, f"branch {branch!r} {why}: restored on a new branch {alt!r}"

    async def _restore_clone(self, snap: Snapshot, repo: Repo, path: Path, timeout: float) -> str:
        from backend import gitops

        bundle = Path(snap.store)
        if not bundle.is_file():
            raise Conflict(f"the bundle of snapshot {snap.id} is gone ({bundle})")
        branch = snap.branch or f"restored-{snap.workspace_id}"
        deadline = Deadline.after(self.config().git_clone_timeout_ms / 1000)
        await self._clone(repo, path, deadline, _quiet)
        await asyncio.to_thread(gitops.checkout_clone, branch, path, _quiet)
        try:
            await snapshots.restore_clone(
                path, bundle, snap.id, branch=branch, commit=snap.commit, head=snap.head,
                branches=snap.branches, timeout=timeout,
            )  # fmt: skip
        except SnapshotError as e:
            shutil.rmtree(path, ignore_errors=True)
            raise _failed(e, f"could not restore snapshot {snap.id}: {e}") from e
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return branch

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
        result.removed = [dataclasses.replace(state.workspaces[wid]) for wid in sorted(removed)]
        result.updated = [
            (
                dataclasses.replace(state.workspaces[wid]),
                dataclasses.replace(state.workspaces[wid], branch=branch),
            )
            for wid, branch in sorted(updated.items())
        ]
        result.added = sorted(additions, key=lambda w: w.id)
        if removed or updated or additions:
            with self.registry.change("scan") as st:
                for wid in removed:
                    st.workspaces.pop(wid, None)
                    st.forget_reviews(wid)
                    for s in st.sessions_of(wid):
                        st.sessions.pop(s.id, None)
                        result.dropped_sessions.append(s)
                for wid, branch in updated.items():
                    st.workspaces[wid].branch = branch
                for w in additions:
                    st.workspaces[w.id] = w
        return result


def _failed(e: SnapshotError, message: str) -> Conflict | StorageError:
    """A snapshot step that failed: 507 when the disk was full, else 409."""
    return StorageError(message) if e.no_space else Conflict(message)


FULL_BELOW = 256 * 1024  # bytes free under which git's failure is taken for a full disk


def _full_disk(*dirs: Path | None) -> Path | None:
    """The first of ``dirs`` (or its nearest existing parent) on a full file system, else None.
    git's own words for a full disk vary ("couldn't write ...lock", "unable to write loose
    object"); the file system's free space says it plainly."""
    for d in dirs:
        while d is not None and not d.exists() and d != d.parent:
            d = d.parent
        if d is None:
            continue
        try:
            if shutil.disk_usage(d).free < FULL_BELOW:
                return d
        except OSError:
            continue
    return None
