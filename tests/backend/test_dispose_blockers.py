"""What a dispose checks first: the files, commits and stashes only the checkout has, read from
real repositories in tmp_path (``snapshots.work_at_risk`` through the one porcelain reader), and
the reason the refusal gives (``WorkspaceManager._risk_reason``)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend import porcelain
from backend.models import Workspace
from backend.snapshots import work_at_risk
from backend.workspaces import WorkspaceManager


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    yield


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def status(path: Path) -> porcelain.Porcelain:
    out = subprocess.run(
        ["git", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all"],
        cwd=path, check=True, capture_output=True,
    ).stdout  # fmt: skip
    return porcelain.parse(out)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for name in ("a.txt", "b.txt", "old name.txt"):
        (path / name).write_text(f"{name}\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "one")
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(path, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(path, "push", "-q", "-u", "origin", "main")
    return path


def ws(path: Path) -> Workspace:
    return Workspace(id="repo-001", repo="/r", repo_name="repo", branch="main", path=str(path))


async def test_a_clean_checkout_risks_nothing(repo: Path) -> None:
    risk = await work_at_risk(repo, clone=False, timeout=10)
    assert risk.empty
    assert WorkspaceManager._risk_reason(ws(repo), risk, clone=False) is None
    st = status(repo)
    assert (st.branch, st.initial, st.dirty, st.changes, st.untracked) == (
        "main", False, False, [], []
    )  # fmt: skip


async def test_modified_staged_renamed_and_untracked_files_are_listed_as_git_short_shows_them(
    repo: Path,
) -> None:
    (repo / "a.txt").write_text("changed\n")  # modified, not staged
    (repo / "b.txt").write_text("staged\n")
    git(repo, "add", "b.txt")
    git(repo, "mv", "old name.txt", "new näme.txt")  # a rename: two fields with -z
    (repo / "dir").mkdir()
    (repo / "dir" / "untracked file").write_text("x\n")
    (repo / ".gitignore").write_text("ignored.log\n")
    (repo / "ignored.log").write_text("not at risk\n")

    risk = await work_at_risk(repo, clone=False, timeout=10)
    assert risk.files == [
        " M a.txt",
        "M  b.txt",
        "R  new näme.txt",
        "?? .gitignore",
        "?? dir/untracked file",
    ]
    # the same list `git status --short` gives (it quotes names with spaces or non-ASCII)
    short = git(repo, "-c", "core.quotePath=false", "status", "--short", "--untracked-files=all")
    assert [ln for ln in short.splitlines()] == [
        " M a.txt", "M  b.txt", 'R  "old name.txt" -> "new näme.txt"', "?? .gitignore",
        '?? "dir/untracked file"',
    ]  # fmt: skip
    reason = WorkspaceManager._risk_reason(ws(repo), risk, clone=False)
    assert reason == (
        "workspace repo-001 has uncommitted changes (1 modified, 2 staged, 2 untracked files, "
        "e.g. a.txt, b.txt, new näme.txt)"
    )
    st = status(repo)
    assert st.dirty and st.has_index_entries
    assert [(c.kind, c.xy, c.path) for c in st.changes] == [
        (b"1", b".M", b"a.txt"),
        (b"1", b"M.", b"b.txt"),
        (b"2", b"R.", "new näme.txt".encode()),
    ]
    assert st.untracked == [b".gitignore", b"dir/untracked file"]


async def test_a_merge_conflict_is_an_unmerged_file_at_risk(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "a.txt").write_text("theirs\n")
    git(repo, "commit", "-qam", "theirs")
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("ours\n")
    git(repo, "commit", "-qam", "ours")
    subprocess.run(["git", "merge", "-q", "other"], cwd=repo, capture_output=True)

    risk = await work_at_risk(repo, clone=False, timeout=10)
    assert risk.files == ["UU a.txt"]
    assert [(c.kind, c.xy) for c in status(repo).changes] == [(b"u", b"UU")]
    assert risk.commits == 1  # "ours", on main, not pushed
    assert WorkspaceManager._risk_reason(ws(repo), risk, clone=False) == (
        "workspace repo-001 has uncommitted changes (1 modified, 1 staged file, e.g. a.txt) "
        "and 1 commit on main that is not pushed to origin"
    )


async def test_an_unborn_branch_with_untracked_files(tmp_path: Path) -> None:
    path = tmp_path / "fresh"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "new").write_text("x\n")
    risk = await work_at_risk(path, clone=True, timeout=10)
    assert (risk.files, risk.commits, risk.stashes) == (["?? new"], 0, 0)
    st = status(path)
    assert (st.initial, st.branch, st.untracked, st.has_index_entries) == (
        True, "main", [b"new"], False
    )  # fmt: skip


async def test_a_clone_keeps_its_stashes_and_unpushed_branches_at_risk(repo: Path) -> None:
    (repo / "a.txt").write_text("stashed\n")
    git(repo, "stash", "-q")
    git(repo, "checkout", "-q", "-b", "side")
    git(repo, "commit", "-q", "--allow-empty", "-m", "side work")
    git(repo, "checkout", "-q", "main")
    risk = await work_at_risk(repo, clone=True, timeout=10)
    assert (risk.files, risk.commits, risk.stashes) == ([], 1, 1)  # side's commit, the stash
    assert (await work_at_risk(repo, clone=False, timeout=10)).empty  # a worktree: HEAD only
    reason = WorkspaceManager._risk_reason(ws(repo), risk, clone=True)
    assert reason is not None and "1 stash" in reason
