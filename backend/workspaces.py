"""Workspaces: ``<repo>-NNN`` checkouts, as worktrees off a bare clone in ``D/repos`` or as clones.

GitPython does the heavy, slow work (clone, fetch with progress, worktree add) in worker
threads; the status path lives in ``gitstatus`` and stays lean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import git

from .config import SCM_WORKTREE, Config, Repo
from .errors import BadRequest, Conflict, NotFound
from .events import EventBus, WorkspaceProgress
from .gitstatus import GitStatusError, run_git
from .models import Workspace, valid_id
from .registry import Registry

log = logging.getLogger(__name__)

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}


class WorkspaceError(BadRequest):
    """Creating a workspace failed for a reason the user can act on."""


@dataclass
class ScanResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _git_message(e: Exception) -> str:
    if isinstance(e, git.GitCommandError):
        text = (e.stderr or "").strip()
        text = re.sub(r"^\s*stderr:\s*", "", text)
        lines = [ln.strip().strip("'") for ln in text.splitlines() if ln.strip().strip("'")]
        fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        return (fatal or lines or [f"git exited with status {e.status}"])[0]
    return str(e)


class _Progress(git.RemoteProgress):
    def __init__(self, report: Callable[[float | None, str], None]) -> None:
        super().__init__()
        self._report = report
        self._last = 0.0

    def update(
        self, op_code: int, cur_count: Any, max_count: Any = None, message: str = ""
    ) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and not (op_code & self.END):
            return
        self._last = now
        stage = {
            self.COUNTING: "Counting objects",
            self.COMPRESSING: "Compressing objects",
            self.RECEIVING: "Receiving objects",
            self.RESOLVING: "Resolving deltas",
            self.WRITING: "Writing objects",
            self.CHECKING_OUT: "Checking out files",
        }.get(op_code & self.OP_MASK, "Fetching")
        percent = None
        if max_count:
            with contextlib.suppress(TypeError, ValueError, ZeroDivisionError):
                percent = round(100.0 * float(cur_count) / float(max_count), 1)
        self._report(percent, f"{stage}{f': {percent:.0f}%' if percent is not None else ''}")


def check_branch(branch: str) -> str:
    branch = branch.strip()
    if not branch:
        raise BadRequest('"branch" must be a non-empty string')
    if len(branch) > 200 or branch.startswith("-") or any(ord(c) < 33 for c in branch):
        raise BadRequest(f"{branch[:80]!r} is not a valid git branch name")
    try:
        git.Git().check_ref_format("--branch", branch)
    except git.GitCommandError:
        raise BadRequest(f"{branch!r} is not a valid git branch name") from None
    return branch


def _local_url(url: str) -> str:
    """Local paths become absolute so clones work from any directory."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return url
    path = Path(url).expanduser()
    return str(path.resolve()) if path.exists() else url


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
        branch = check_branch(branch)
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
                    await asyncio.to_thread(self._create_worktree, repo, branch, path, report)
                else:
                    await asyncio.to_thread(self._create_clone, repo, branch, path, report)
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
                await asyncio.to_thread(self._remove_checkout, repo, path, worktree_mode)
                raise
            report("ready", 100.0, f"Workspace {workspace_id} ready")
            return ws
        except Exception as e:
            report("error", None, e.message if isinstance(e, BadRequest) else str(e))
            raise
        finally:
            self._reserved.discard(workspace_id)

    # -- worker-thread side -------------------------------------------------------------

    def _fetch_bare(self, repo: Repo, report: Callable[[str, float | None, str], None]) -> git.Repo:
        bare = self.bare_path(repo)
        url = _local_url(repo.url)
        progress = _Progress(lambda p, m: report("fetching", p, m))
        if not (bare / "HEAD").exists():
            tmp = bare.with_name(f".{bare.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            try:
                r = git.Repo.init(tmp, bare=True)
                r.git.update_environment(**GIT_ENV)
                r.git.config("remote.origin.url", url)
                r.git.config("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
                r.remotes.origin.fetch(progress=progress)
                with contextlib.suppress(git.GitCommandError):
                    r.git.remote("set-head", "origin", "--auto")
                r.close()
                os.replace(tmp, bare)
            except git.GitCommandError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                raise WorkspaceError(f"could not fetch {repo.url}: {_git_message(e)}") from e
            r = git.Repo(bare)
            r.git.update_environment(**GIT_ENV)
            return r
        r = git.Repo(bare)
        r.git.update_environment(**GIT_ENV)
        try:
            if r.git.config("remote.origin.url") != url:
                r.git.config("remote.origin.url", url)
            r.remotes.origin.fetch(progress=progress, prune=True)
        except git.GitCommandError as e:
            raise WorkspaceError(f"could not fetch {repo.url}: {_git_message(e)}") from e
        with contextlib.suppress(git.GitCommandError):
            r.git.remote("set-head", "origin", "--auto")
        return r

    @staticmethod
    def _default_ref(r: git.Repo) -> str | None:
        with contextlib.suppress(git.GitCommandError):
            return str(r.git.symbolic_ref("refs/remotes/origin/HEAD")).strip()
        for name in ("main", "master"):
            with contextlib.suppress(git.GitCommandError):
                r.git.rev_parse("--verify", "-q", f"refs/remotes/origin/{name}")
                return f"refs/remotes/origin/{name}"
        return None

    @staticmethod
    def _has_ref(r: git.Repo, ref: str) -> bool:
        try:
            r.git.rev_parse("--verify", "-q", ref)
            return True
        except git.GitCommandError:
            return False

    def _create_worktree(
        self, repo: Repo, branch: str, path: Path, report: Callable[[str, float | None, str], None]
    ) -> None:
        r = self._fetch_bare(repo, report)
        report("checkout", None, f"Creating worktree for {branch}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(git.GitCommandError):
            r.git.worktree("prune")
        try:
            if self._has_ref(r, f"refs/heads/{branch}"):
                r.git.worktree("add", str(path), branch)
            elif self._has_ref(r, f"refs/remotes/origin/{branch}"):
                r.git.worktree("add", "--track", "-b", branch, str(path), f"origin/{branch}")
            else:
                base = self._default_ref(r)
                if base is None:
                    raise WorkspaceError(f"{repo.url} has no branches to start {branch!r} from")
                r.git.worktree("add", "--no-track", "-b", branch, str(path), base)
        except git.GitCommandError as e:
            shutil.rmtree(path, ignore_errors=True)
            msg = _git_message(e)
            if "already checked out" in msg or "already used by worktree" in msg:
                raise Conflict(
                    f"branch {branch!r} is already checked out in another worktree"
                ) from e
            raise WorkspaceError(f"could not create a worktree for {branch!r}: {msg}") from e

    def _create_clone(
        self, repo: Repo, branch: str, path: Path, report: Callable[[str, float | None, str], None]
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        progress = _Progress(lambda p, m: report("fetching", p, m))
        try:
            r = git.Repo.clone_from(
                _local_url(repo.url),
                path,
                progress=cast(Any, progress),
                env=dict(os.environ, **GIT_ENV),
            )
        except git.GitCommandError as e:
            shutil.rmtree(path, ignore_errors=True)
            raise WorkspaceError(f"could not clone {repo.url}: {_git_message(e)}") from e
        report("checkout", None, f"Checking out {branch}")
        try:
            current = r.active_branch.name if not r.head.is_detached else None
        except TypeError:
            current = None
        try:
            if current == branch:
                pass
            elif self._has_ref(r, f"refs/remotes/origin/{branch}"):
                r.git.checkout("-b", branch, "--track", f"origin/{branch}")
            else:
                r.git.checkout("-b", branch)
        except git.GitCommandError as e:
            shutil.rmtree(path, ignore_errors=True)
            raise WorkspaceError(f"could not check out {branch!r}: {_git_message(e)}") from e
        finally:
            r.close()

    def _remove_checkout(self, repo: Repo | None, path: Path, worktree_mode: bool) -> None:
        if worktree_mode and repo is not None and (self.bare_path(repo) / "HEAD").exists():
            r = git.Repo(self.bare_path(repo))
            with contextlib.suppress(git.GitCommandError):
                r.git.worktree("remove", "--force", "--force", str(path))
            with contextlib.suppress(git.GitCommandError):
                r.git.worktree("prune")
            r.close()
        shutil.rmtree(path, ignore_errors=True)

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
        await asyncio.to_thread(self._remove_checkout, repo, Path(ws.path), worktree_mode)
        with self.registry.change("workspace disposed") as state:
            state.workspaces.pop(workspace_id, None)

    # -- scan --------------------------------------------------------------------------

    async def scan(self) -> ScanResult:
        result = ScanResult()
        found = await asyncio.to_thread(self._discover)
        state = self.registry.state
        known_paths = {os.path.realpath(w.path): w.id for w in state.workspaces.values()}
        removed = [w.id for w in state.workspaces.values() if not Path(w.path).is_dir()]
        updated: dict[str, str] = {}
        for w in state.workspaces.values():
            if w.id in removed:
                continue
            head = await asyncio.to_thread(_current_branch, Path(w.path))
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

    def _discover(self) -> list[tuple[Repo, Path, str | None]]:
        cfg = self.config()
        found: list[tuple[Repo, Path, str | None]] = []
        seen: set[str] = set()
        for repo in cfg.repos:
            bare = self.bare_path(repo)
            if (bare / "HEAD").exists():
                try:
                    r = git.Repo(bare)
                    with contextlib.suppress(git.GitCommandError):
                        r.git.worktree("prune")
                    listing = r.git.worktree("list", "--porcelain")
                    r.close()
                except git.GitCommandError:
                    listing = ""
                for block in listing.split("\n\n"):
                    info = dict(
                        [*line.split(" ", 1), ""][:2] for line in block.splitlines() if line
                    )
                    if "bare" in info or "worktree" not in info:
                        continue
                    p = Path(info["worktree"])
                    if p.is_dir() and str(p) not in seen:
                        seen.add(str(p))
                        b = info.get("branch", "")
                        found.append((repo, p, b.removeprefix("refs/heads/") or None))
        root = cfg.workspace_path
        if root.is_dir():
            for child in sorted(root.iterdir()):
                if str(child) in seen or not (child / ".git").is_dir():
                    continue
                m = re.fullmatch(r"(.+)-\d{3,}", child.name)
                owner = cfg.repo(m.group(1)) if m else None
                if owner is None:
                    continue
                try:
                    r = git.Repo(child)
                    origin = r.git.config("remote.origin.url")
                    r.close()
                except git.GitCommandError:
                    continue
                if origin in (owner.url, _local_url(owner.url)):
                    seen.add(str(child))
                    found.append((owner, child, _current_branch(child)))
        return found


def _current_branch(path: Path) -> str | None:
    try:
        r = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        ref = r.git.symbolic_ref("--short", "-q", "HEAD")
        return str(ref).strip() or None
    except git.GitCommandError:
        return None
    finally:
        r.close()
