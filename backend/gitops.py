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
from dataclasses import dataclass
from pathlib import Path

import git

from backend.config import Config, Repo
from backend.errors import BadRequest, Conflict
from backend.gitenv import open_repo
from backend.giturl import local_url

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


_BAD_IN_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def check_branch(branch: str) -> str:
    """The branch name, stripped, if git would take it (``git check-ref-format --branch``'s
    rules, checked here: no process for what every spawn on a new branch asks)."""
    branch = branch.strip()
    if not branch:
        raise BadRequest('"branch" must be a non-empty string')
    if len(branch) > 200 or branch.startswith("-") or any(ord(c) < 33 for c in branch):
        raise BadRequest(f"{branch[:80]!r} is not a valid git branch name")
    if not valid_branch_name(branch):
        raise BadRequest(f"{branch!r} is not a valid git branch name")
    return branch


def valid_branch_name(name: str) -> bool:
    """git's ref-format rules for ``refs/heads/<name>`` (git help check-ref-format)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file name, no ref
        return False
    if name == "@" or _BAD_IN_REF.search(name):
        return False
    if name.startswith("/") or name.endswith(("/", ".")):
        return False
    return all(part and not part.startswith(".") and not part.endswith(".lock")
               for part in name.split("/"))  # fmt: skip


def prepare_bare(bare: Path, url: str) -> Path:
    """The bare repo to fetch into: ``bare`` itself, or a new one in a temporary directory
    (made ``bare`` by ``finish_bare`` once the first fetch worked)."""
    if (bare / "HEAD").exists():
        with open_repo(bare) as r:
            with r.config_reader() as cfg:  # read in-process: no git run
                current = cfg.get_value('remote "origin"', "url", "")
            if current != url:
                r.git.config("remote.origin.url", url)
        return bare
    tmp = bare.with_name(f".{bare.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    # Left by a first fetch the app was killed in (the caller holds the repo's lock).
    for stale in bare.parent.glob(f".{glob.escape(bare.name)}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    # No hooks; init runs no git, it writes the files in-process.
    with git.Repo.init(tmp, bare=True, template="", allow_unsafe_options=True) as r:
        with r.config_writer() as cfg:  # written in-process: no git runs
            cfg.set_value('remote "origin"', "url", url)
            cfg.set_value('remote "origin"', "fetch", "+refs/heads/*:refs/remotes/origin/*")
    return tmp


def has_default_branch(bare: Path) -> bool:
    """Whether origin/HEAD (the remote's default branch) is known in ``bare``."""
    return (bare / "refs" / "remotes" / "origin" / "HEAD").exists()


def set_default_branch(bare: Path, name: str) -> bool:
    """Point origin/HEAD at origin/<name>, as ``remote set-head --auto`` would after asking."""
    if not valid_branch_name(name) or not (bare / "refs" / "remotes" / "origin" / name).is_file():
        return False
    with open_repo(bare) as r:
        try:
            r.git.symbolic_ref("refs/remotes/origin/HEAD", f"refs/remotes/origin/{name}")
            return True
        except git.GitCommandError:
            return False


def finish_bare(fetched: Path, bare: Path) -> None:
    if fetched != bare:
        os.replace(fetched, bare)


def discard_bare(fetched: Path, bare: Path) -> None:
    if fetched != bare:
        shutil.rmtree(fetched, ignore_errors=True)


def has_ref(r: git.Repo, ref: str) -> bool:
    try:
        r.git.rev_parse("--verify", "-q", ref)
        return True
    except git.GitCommandError:
        return False


@dataclass(frozen=True)
class _Refs:
    present: set[str]  # which of refs/heads/<branch> and refs/remotes/origin/<branch> exist
    base: str | None  # the remote's default branch (origin/HEAD, else main, else master)
    commit: str  # its commit, "" without one


def _refs(r: git.Repo, branch: str) -> _Refs:
    """What a new worktree of ``branch`` starts from: one git run."""
    wanted = [f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"]
    defaults = [
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/main",
        "refs/remotes/origin/master",
    ]
    try:
        out = r.git.for_each_ref("--format=%(refname) %(objectname) %(symref)", *wanted, *defaults)
    except git.GitCommandError:
        return _Refs(set(), None, "")
    found: dict[str, tuple[str, str]] = {}
    for line in str(out).splitlines():
        name, commit, target = [*line.split(" "), "", ""][:3]
        found[name] = (commit, target)
    present = {ref for ref in wanted if ref in found}
    commit, base = found.get("refs/remotes/origin/HEAD", ("", ""))
    if not base:  # no symbolic origin/HEAD: main, else master
        base = next((d for d in defaults[1:] if d in found), "")
        commit = found[base][0] if base else ""
    return _Refs(present, base or None, commit)


def add_worktree(bare: Path, repo: Repo, branch: str, path: Path, report: Report) -> None:
    """A worktree of the (freshly fetched) bare repo for ``branch``: local work only."""
    with open_repo(bare) as r:
        report("checkout", None, f"Creating worktree for {branch}")
        path.parent.mkdir(parents=True, exist_ok=True)
        refs = _refs(r, branch)
        if f"refs/heads/{branch}" in refs.present:
            args = [str(path), branch]
        elif f"refs/remotes/origin/{branch}" in refs.present:
            args = ["--track", "-b", branch, str(path), f"origin/{branch}"]
        elif refs.base is None:
            raise WorkspaceError(f"{repo.url} has no branches to start {branch!r} from")
        else:
            args = ["--no-track", "-b", branch, str(path), refs.base]
        try:
            try:
                r.git.worktree("add", *args)
            except git.GitCommandError:
                # A worktree deleted by hand is still registered (its path, its branch): forget
                # the stale ones and try once more (pruning first on every spawn cost a git run).
                with contextlib.suppress(git.GitCommandError):
                    r.git.worktree("prune")
                r.git.worktree("add", *args)
        except git.GitCommandError as e:
            shutil.rmtree(path, ignore_errors=True)
            msg = git_message(e)
            if "already checked out" in msg or "already used by worktree" in msg:
                raise Conflict(
                    f"branch {branch!r} is already checked out in another worktree"
                ) from e
            raise WorkspaceError(f"could not create a worktree for {branch!r}: {msg}") from e


@dataclass(frozen=True)
class NewBranch:
    """A worktree registered for a new branch before the fetch, from the default branch as
    last fetched (``base`` at ``commit``); its files come while the fetch runs."""

    base: str
    commit: str


def start_new_branch(bare: Path, branch: str, path: Path) -> NewBranch | None:
    """Register a worktree of a new ``branch`` off the remote's default branch as last fetched,
    without its files (``checkout_files`` brings them, alongside the fetch). None, with nothing
    left behind, unless ``branch`` is new here and a default branch is known. (Registering must
    come before the fetch starts: a fetch that meets a half-made worktree fails.)"""
    with open_repo(bare) as r:
        refs = _refs(r, branch)
        if refs.present or refs.base is None or not refs.commit:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            r.git.worktree(
                "add", "-q", "--no-checkout", "--no-track", "-b", branch, str(path), refs.commit
            )
        except git.GitCommandError:
            _undo(r, branch, path)
            return None
        return NewBranch(refs.base, refs.commit)


def checkout_files(path: Path, commit: str) -> bool:
    """The files of ``commit`` into the worktree at ``path`` (its branch is new: nothing in it)."""
    try:
        with open_repo(path) as r:
            r.git.reset("-q", "--hard", commit)
        return True
    except (git.GitCommandError, git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False


def settle_new_branch(
    bare: Path, branch: str, path: Path, start: NewBranch, report: Report
) -> bool:
    """After the fetch: keep the new branch if it is still what the remote says a new branch
    starts from, moved to the fetched tip if the remote moved on. False when the branch turned
    out to exist on the remote, the default branch changed, or git refused: then
    ``undo_new_branch`` and the usual way."""
    report("checkout", None, f"Creating worktree for {branch}")
    with open_repo(bare) as r:
        after = _refs(r, branch)
    if f"refs/remotes/origin/{branch}" in after.present or after.base != start.base:
        return False
    return after.commit == start.commit or checkout_files(path, after.commit)


def undo_new_branch(bare: Path, branch: str, path: Path) -> None:
    with open_repo(bare) as r:
        _undo(r, branch, path)


def _undo(r: git.Repo, branch: str, path: Path) -> None:
    """Remove a worktree and the branch made for it (the branch did not exist before)."""
    with contextlib.suppress(git.GitCommandError):
        r.git.worktree("remove", "--force", "--force", str(path))
    with contextlib.suppress(git.GitCommandError):
        r.git.branch("-D", branch)
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(git.GitCommandError):
        r.git.worktree("prune")


def checkout_clone(branch: str, path: Path, report: Report) -> None:
    """Put a fresh clone on ``branch``: local work only."""
    report("checkout", None, f"Checking out {branch}")
    with open_repo(path) as r:
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


def remove_checkout(bare: Path | None, path: Path) -> None:
    """Remove a workspace checkout (a worktree of ``bare``, or a clone when ``bare`` is None)."""
    if bare is not None and (bare / "HEAD").exists():
        with open_repo(bare) as r:
            with contextlib.suppress(git.GitCommandError):
                r.git.worktree("remove", "--force", "--force", str(path))
            with contextlib.suppress(git.GitCommandError):
                r.git.worktree("prune")
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
                with open_repo(bare) as r:
                    with contextlib.suppress(git.GitCommandError):
                        r.git.worktree("prune")
                    listing = r.git.worktree("list", "--porcelain")
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
                with open_repo(child) as r:
                    origin = r.git.config("remote.origin.url")
            except git.GitCommandError:
                continue
            if origin in (owner.url, local_url(owner.url)):
                seen.add(str(child))
                found.append((owner, child, current_branch(child)))
    return found


def current_branch(path: Path) -> str | None:
    try:
        with open_repo(path) as r:
            ref = r.git.symbolic_ref("--short", "-q", "HEAD")
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, git.GitCommandError):
        return None
    return readable(str(ref).strip(), "branch") or None
