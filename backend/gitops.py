"""Local git operations for workspaces, on GitPython, run in worker threads (never on the loop).

What talks to a remote (clone, fetch) runs in ``gitremote`` under a deadline instead; this module
prepares and finishes around it. Failures become ``WorkspaceError`` with git's own first line of
explanation. Names git reports are not always UTF-8: ``readable`` makes them safe to store and
send. Imported lazily: GitPython costs ~90 ms at start-up.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import git

from backend.config import Config, Repo
from backend.errors import BadRequest, Conflict
from backend.giturl import local_url

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}

Report = Callable[[str, float | None, str], None]

log = logging.getLogger(__name__)


def readable(text: str, what: str) -> str:
    """GitPython keeps bytes that are not UTF-8 as lone surrogates, which JSON and state.json
    cannot hold: show them as U+FFFD instead (and say so in the log)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        log.warning("%s %r is not valid UTF-8; shown as %r", what, text, shown)
        return shown


def _storable_path(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        log.warning("skipping checkout %r: its path is not valid UTF-8", str(path))
        return False


class WorkspaceError(BadRequest):
    """Creating a workspace failed for a reason the user can act on."""


def git_message(e: Exception) -> str:
    if isinstance(e, git.GitCommandError):
        text = (e.stderr or "").strip()
        text = re.sub(r"^\s*stderr:\s*", "", text)
        lines = [ln.strip().strip("'") for ln in text.splitlines() if ln.strip().strip("'")]
        fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        return (fatal or lines or [f"git exited with status {e.status}"])[0]
    return str(e)


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


def prepare_bare(bare: Path, url: str) -> Path:
    """The bare repo to fetch into: ``bare`` itself, or a new one in a temporary directory
    (made ``bare`` by ``finish_bare`` once the first fetch worked)."""
    if (bare / "HEAD").exists():
        r = git.Repo(bare)
        try:
            if r.git.config("remote.origin.url") != url:
                r.git.config("remote.origin.url", url)
        finally:
            r.close()
        return bare
    tmp = bare.with_name(f".{bare.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    # Left by a first fetch the app was killed in (the caller holds the repo's lock).
    for stale in bare.parent.glob(f".{glob.escape(bare.name)}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    r = git.Repo.init(tmp, bare=True)
    try:
        r.git.config("remote.origin.url", url)
        r.git.config("remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
    finally:
        r.close()
    return tmp


def finish_bare(fetched: Path, bare: Path) -> None:
    if fetched != bare:
        os.replace(fetched, bare)


def discard_bare(fetched: Path, bare: Path) -> None:
    if fetched != bare:
        shutil.rmtree(fetched, ignore_errors=True)


def default_ref(r: git.Repo) -> str | None:
    with contextlib.suppress(git.GitCommandError):
        return str(r.git.symbolic_ref("refs/remotes/origin/HEAD")).strip()
    for name in ("main", "master"):
        with contextlib.suppress(git.GitCommandError):
            r.git.rev_parse("--verify", "-q", f"refs/remotes/origin/{name}")
            return f"refs/remotes/origin/{name}"
    return None


def has_ref(r: git.Repo, ref: str) -> bool:
    try:
        r.git.rev_parse("--verify", "-q", ref)
        return True
    except git.GitCommandError:
        return False


def add_worktree(bare: Path, repo: Repo, branch: str, path: Path, report: Report) -> None:
    """A worktree of the (freshly fetched) bare repo for ``branch``: local work only."""
    r = git.Repo(bare)
    r.git.update_environment(**GIT_ENV)
    report("checkout", None, f"Creating worktree for {branch}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(git.GitCommandError):
        r.git.worktree("prune")
    try:
        if has_ref(r, f"refs/heads/{branch}"):
            r.git.worktree("add", str(path), branch)
        elif has_ref(r, f"refs/remotes/origin/{branch}"):
            r.git.worktree("add", "--track", "-b", branch, str(path), f"origin/{branch}")
        else:
            base = default_ref(r)
            if base is None:
                raise WorkspaceError(f"{repo.url} has no branches to start {branch!r} from")
            r.git.worktree("add", "--no-track", "-b", branch, str(path), base)
    except git.GitCommandError as e:
        shutil.rmtree(path, ignore_errors=True)
        msg = git_message(e)
        if "already checked out" in msg or "already used by worktree" in msg:
            raise Conflict(f"branch {branch!r} is already checked out in another worktree") from e
        raise WorkspaceError(f"could not create a worktree for {branch!r}: {msg}") from e
    finally:
        r.close()


def checkout_clone(branch: str, path: Path, report: Report) -> None:
    """Put a fresh clone on ``branch``: local work only."""
    report("checkout", None, f"Checking out {branch}")
    r = git.Repo(path)
    r.git.update_environment(**GIT_ENV)
    try:
        current = r.active_branch.name if not r.head.is_detached else None
    except TypeError:
        current = None
    try:
        if current == branch:
            pass
        elif has_ref(r, f"refs/remotes/origin/{branch}"):
            r.git.checkout("-b", branch, "--track", f"origin/{branch}")
        else:
            r.git.checkout("-b", branch)
    except git.GitCommandError as e:
        shutil.rmtree(path, ignore_errors=True)
        raise WorkspaceError(f"could not check out {branch!r}: {git_message(e)}") from e
    finally:
        r.close()


def remove_checkout(bare: Path | None, path: Path) -> None:
    """Remove a workspace checkout (a worktree of ``bare``, or a clone when ``bare`` is None)."""
    if bare is not None and (bare / "HEAD").exists():
        r = git.Repo(bare)
        with contextlib.suppress(git.GitCommandError):
            r.git.worktree("remove", "--force", "--force", str(path))
        with contextlib.suppress(git.GitCommandError):
            r.git.worktree("prune")
        r.close()
    shutil.rmtree(path, ignore_errors=True)


def discover(cfg: Config, bare_path: Callable[[Repo], Path]) -> list[tuple[Repo, Path, str | None]]:
    """Checkouts on disk that belong to configured repos: worktrees of the bare clones and
    ``<repo>-NNN`` clones under the workspace path."""
    found: list[tuple[Repo, Path, str | None]] = []
    seen: set[str] = set()
    for repo in cfg.repos:
        bare = bare_path(repo)
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
                info = dict([*line.split(" ", 1), ""][:2] for line in block.splitlines() if line)
                if "bare" in info or "worktree" not in info:
                    continue
                p = Path(info["worktree"])
                if p.is_dir() and str(p) not in seen and _storable_path(p):
                    seen.add(str(p))
                    b = readable(info.get("branch", "").removeprefix("refs/heads/"), "branch")
                    found.append((repo, p, b or None))
    root = cfg.workspace_path
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if str(child) in seen or not (child / ".git").is_dir() or not _storable_path(child):
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
            if origin in (owner.url, local_url(owner.url)):
                seen.add(str(child))
                found.append((owner, child, current_branch(child)))
    return found


def current_branch(path: Path) -> str | None:
    try:
        r = git.Repo(path)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        ref = r.git.symbolic_ref("--short", "-q", "HEAD")
        return readable(str(ref).strip(), "branch") or None
    except git.GitCommandError:
        return None
    finally:
        r.close()
