"""Git operations for workspaces, on GitPython, run in worker threads (never on the loop).

Clone and fetch report progress through a callback; failures become ``WorkspaceError`` with
git's own first line of explanation. Imported lazily: GitPython costs ~90 ms at start-up.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import git

from backend.config import Config, Repo
from backend.errors import BadRequest, Conflict

GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}

Report = Callable[[str, float | None, str], None]


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


def local_url(url: str) -> str:
    """Local paths become absolute so clones work from any directory."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return url
    path = Path(url).expanduser()
    return str(path.resolve()) if path.exists() else url


REMOTE_HEAD_TIMEOUT = 30.0


def fetch(repo_dir: Path, progress: git.RemoteProgress, *, prune: bool = False) -> None:
    """``git fetch origin`` with its progress reported, as one git run: GitPython's
    ``Remote.fetch`` adds a ``git version`` run, reads the config and parses FETCH_HEAD for
    results nobody here uses (~3 ms of every spawn on a new branch)."""
    cmd = ["git", "fetch", "--progress", "--no-auto-maintenance"]
    cmd += ["--prune", "origin"] if prune else ["origin"]
    with subprocess.Popen(
        cmd,
        cwd=repo_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=dict(os.environ, **GIT_ENV),
    ) as proc:
        assert proc.stderr is not None
        handle = progress.new_message_handler()
        fd, buf = proc.stderr.fileno(), b""
        while chunk := os.read(fd, 65536):  # progress lines end in \r, the others in \n
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            for raw in lines:
                handle(raw.decode("utf-8", "replace"))
        if buf:
            handle(buf.decode("utf-8", "replace"))
    if proc.returncode != 0:
        # what is not progress: git's own explanation ("fatal: ...") among it
        other = [ln for ln in progress.error_lines + progress.other_lines if ln.strip()]
        raise git.GitCommandError(cmd, proc.returncode, "\n".join(other[-20:]))


def _ask_remote_head(url: str, cwd: Path) -> subprocess.Popen[bytes] | None:
    """Start asking ``url`` which branch its HEAD names (``git ls-remote --symref``)."""
    try:
        return subprocess.Popen(
            ["git", "ls-remote", "--symref", "--", url, "HEAD"],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, **GIT_ENV),
        )
    except OSError:
        return None


def _remote_head_answer(proc: subprocess.Popen[bytes] | None) -> str | None:
    """The branch name the remote's HEAD points at, or None (no answer, detached, timeout)."""
    if proc is None:
        return None
    try:
        out, _ = proc.communicate(timeout=REMOTE_HEAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
    m = re.match(rb"ref: refs/heads/(\S+)\tHEAD", out)
    return m.group(1).decode("utf-8", "replace") if m and proc.returncode == 0 else None


def fetch_bare(bare: Path, repo: Repo, report: Report) -> git.Repo:
    url = local_url(repo.url)
    progress = _Progress(lambda p, m: report("fetching", p, m))
    if not (bare / "HEAD").exists():
        tmp = bare.with_name(f".{bare.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        try:
            r = git.Repo.init(tmp, bare=True, template="", allow_unsafe_options=True)  # no hooks
            r.git.update_environment(**GIT_ENV)
            with r.config_writer() as cfg:  # written in-process: no git runs
                cfg.set_value('remote "origin"', "url", url)
                cfg.set_value('remote "origin"', "fetch", "+refs/heads/*:refs/remotes/origin/*")
            # The remote's default branch is asked for while the fetch runs, not after it.
            head = _ask_remote_head(url, tmp)
            try:
                fetch(tmp, progress)
            finally:
                default = _remote_head_answer(head)
            if default and (tmp / "refs" / "remotes" / "origin" / default).is_file():
                r.git.symbolic_ref("refs/remotes/origin/HEAD", f"refs/remotes/origin/{default}")
            else:  # not answered (or not fetched): ask as git does
                with contextlib.suppress(git.GitCommandError):
                    r.git.remote("set-head", "origin", "--auto")
            r.close()
            os.replace(tmp, bare)
        except git.GitCommandError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise WorkspaceError(f"could not fetch {repo.url}: {git_message(e)}") from e
        r = git.Repo(bare)
        r.git.update_environment(**GIT_ENV)
        return r
    r = git.Repo(bare)
    r.git.update_environment(**GIT_ENV)
    try:
        with r.config_reader() as cfg:  # read in-process: no git run
            current = cfg.get_value('remote "origin"', "url", "")
        if current != url:
            r.git.config("remote.origin.url", url)
        fetch(bare, progress, prune=True)
    except git.GitCommandError as e:
        raise WorkspaceError(f"could not fetch {repo.url}: {git_message(e)}") from e
    if not (bare / "refs" / "remotes" / "origin" / "HEAD").exists():
        # asks the remote once more: only while the default branch is unknown
        with contextlib.suppress(git.GitCommandError):
            r.git.remote("set-head", "origin", "--auto")
    return r


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
    base_commit: str  # its commit, "" without one


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


def create_worktree(bare: Path, repo: Repo, branch: str, path: Path, report: Report) -> None:
    if (bare / "HEAD").exists() and _create_while_fetching(bare, repo, branch, path, report):
        return
    r = fetch_bare(bare, repo, report)
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
            raise Conflict(f"branch {branch!r} is already checked out in another worktree") from e
        raise WorkspaceError(f"could not create a worktree for {branch!r}: {msg}") from e


def _create_while_fetching(bare: Path, repo: Repo, branch: str, path: Path, report: Report) -> bool:
    """A new branch off the remote's default branch, the clone already here (the usual spawn):
    check its files out from the default branch as last fetched WHILE the fetch runs, then move
    it to the fetched tip if the fetch moved it (the branch is new: nothing is in it yet). The
    fetch and the checkout were the two slow steps, one after the other. (The worktree itself
    is registered before the fetch starts: a fetch that meets a half-made worktree fails.)

    True when the worktree is made; False (everything undone) to take the usual way: a branch
    that exists here or appeared with the fetch, no default branch known, or git refusing."""
    r = git.Repo(bare)
    r.git.update_environment(**GIT_ENV)
    before = _refs(r, branch)
    if before.present or before.base is None:
        r.close()
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        r.git.worktree(
            "add", "-q", "--no-checkout", "--no-track", "-b", branch, str(path), before.base_commit
        )
    except git.GitCommandError:
        _undo_worktree(r, branch, path, added=False)
        r.close()
        return False
    checkout = subprocess.Popen(
        ["git", "reset", "-q", "--hard", before.base_commit],
        cwd=path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, **GIT_ENV),
    )
    try:
        fetched = fetch_bare(bare, repo, report)
    except BaseException:
        checkout.wait()
        _undo_worktree(r, branch, path, added=True)
        r.close()
        raise
    checked_out = checkout.wait() == 0
    report("checkout", None, f"Creating worktree for {branch}")
    after = _refs(fetched, branch)
    appeared = f"refs/remotes/origin/{branch}" in after.present  # pushed since the last fetch
    ok = checked_out and not appeared and after.base == before.base
    if ok and after.base_commit != before.base_commit:
        try:  # the remote moved on since the last fetch: start from where it is now
            fetched.git.execute(
                ["git", "-C", str(path), "reset", "-q", "--hard", after.base_commit]
            )
        except git.GitCommandError:
            ok = False
    if not ok:
        _undo_worktree(fetched, branch, path, added=True)
    r.close()
    return ok


def _undo_worktree(r: git.Repo, branch: str, path: Path, added: bool) -> None:
    """Remove a worktree and the branch made for it (the branch did not exist before)."""
    if added:
        with contextlib.suppress(git.GitCommandError):
            r.git.worktree("remove", "--force", "--force", str(path))
    with contextlib.suppress(git.GitCommandError):
        r.git.branch("-D", branch)
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(git.GitCommandError):
        r.git.worktree("prune")


def create_clone(repo: Repo, branch: str, path: Path, report: Report) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    progress = _Progress(lambda p, m: report("fetching", p, m))
    try:
        r = git.Repo.clone_from(
            local_url(repo.url),
            path,
            progress=cast(Any, progress),
            env=dict(os.environ, **GIT_ENV),
        )
    except git.GitCommandError as e:
        shutil.rmtree(path, ignore_errors=True)
        raise WorkspaceError(f"could not clone {repo.url}: {git_message(e)}") from e
    report("checkout", None, f"Checking out {branch}")
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
        return str(ref).strip() or None
    except git.GitCommandError:
        return None
    finally:
        r.close()
