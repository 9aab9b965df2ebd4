"""Where a workspace's git metadata is: a clone's ``.git`` dir, a worktree's ``.git`` file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backend.gitdirs import GitDirsError, WorkspaceWatches, git_dirs, parse_gitdir_file
from backend.models import Workspace


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x")
    return r


def test_a_clone_has_its_git_dir_in_it(repo: Path) -> None:
    assert git_dirs(repo) == git_dirs(repo).__class__(own=repo / ".git", common=None)


def test_a_worktree_names_its_git_dir_in_the_shared_repo(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(wt))
    dirs = git_dirs(wt)
    assert dirs.own == (repo / ".git" / "worktrees" / "wt").resolve()
    assert dirs.common is not None and dirs.common.resolve() == (repo / ".git").resolve()


def test_a_relative_gitdir_is_relative_to_the_workspace(tmp_path: Path) -> None:
    assert parse_gitdir_file("gitdir: ../r/.git/worktrees/w\n", tmp_path / "w") == (
        tmp_path / "r" / ".git" / "worktrees" / "w"
    )


@pytest.mark.parametrize("text", ["", "gitdir:", "gitdir: ", "ref: refs/heads/main"])
def test_a_git_file_that_names_no_git_dir_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(GitDirsError):
        parse_gitdir_file(text, tmp_path)


def test_no_git_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GitDirsError, match=r"no \.git"):
        git_dirs(tmp_path)


class Recorder:
    active = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def watch_dir(self, key: str, path: str) -> bool:
        self.calls.append(("dir", key, path))
        return True

    def watch_tree(self, key: str, path: str) -> bool:
        self.calls.append(("tree", key, path))
        return True

    def unwatch(self, key: str) -> None:
        self.calls.append(("unwatch", key, ""))


def test_watches_follow_the_workspaces(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(wt))
    (tmp_path / "plain").mkdir()
    workspaces = {
        "a": Workspace("a", "/r", "proj", "main", str(repo)),
        "b": Workspace("b", "/r", "proj", "feature", str(wt)),
        "c": Workspace("c", "/r", "proj", "x", str(tmp_path / "plain")),
    }
    rec = Recorder()
    watches = WorkspaceWatches(rec, lambda: workspaces)
    watches.sync()
    common = str(git_dirs(wt).common)
    assert ("tree", "ws:a", str(repo / ".git" / "refs")) in rec.calls
    assert ("dir", "repo:proj", common) in rec.calls
    assert ("tree", "repo:proj", common + "/refs") in rec.calls
    assert watches.watched == {"a", "b", "c"} and watches.unwatched == {"c"}
    del workspaces["c"]
    watches.sync()
    assert rec.calls[-1] == ("unwatch", "ws:c", "")
    assert watches.watched == {"a", "b"} and watches.unwatched == set()
