"""``gitops`` pieces that need no server: branch names judged as git judges them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from backend.errors import BadRequest
from backend.gitenv import open_repo
from backend.gitops import check_branch, checkout_files, current_branch, valid_branch_name

NAMES = [
    "main", "feature/x", "a.b", "fix-1", "ünï/cödé", "a@b", "x_y", "v1.2.3", "a/b/c",
    "a..b", "a.lock", "a/b.lock/c", ".a", "a/.b", "a/", "/a", "a//b", "a.", "a b", "a~b",
    "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "a@{b", "@", "a\x7fb", "a\tb", "-a",
    "a/.", "..", "a.lock/b", "a@", "@a", "lock", ".lock", "a/b.", "x.locked",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_branch_names_are_judged_as_git_does(name: str, tmp_path: Path) -> None:
    git_says = (
        subprocess.run(
            ["git", "check-ref-format", "--branch", name], capture_output=True, cwd=tmp_path
        ).returncode
        == 0
    )
    ours = True
    try:
        check_branch(name)
    except BadRequest:
        ours = False
    # stricter than check-ref-format on two: a leading "-" (an option to git) and "@" (HEAD
    # to git's branch commands, which refuse it as a name)
    assert ours == (git_says and not name.startswith("-") and name != "@"), name


def test_a_lone_surrogate_is_no_branch_name() -> None:
    assert not valid_branch_name("a\ud800")
    with pytest.raises(BadRequest):
        check_branch("a\ud800")


def _repo(path: Path, branch: str) -> Path:
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(path.parent)}
    for args in (
        ["init", "-q", "-b", branch, str(path)],
        ["-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
         "--allow-empty", "-m", f"one on {branch}"],
    ):  # fmt: skip
        subprocess.run(["git", *args], check=True, capture_output=True, env=env)
    return path


def test_gitops_looks_at_its_repo_whatever_git_dir_the_app_was_started_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Started from a git hook, the app inherits GIT_DIR & co. naming the hook's repository.
    ours = _repo(tmp_path / "ours", "main")
    other = _repo(tmp_path / "other", "elsewhere")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other / ".git" / "index"))
    assert current_branch(ours) == "main"
    head = subprocess.run(
        ["git", "-C", str(ours), "rev-parse", "HEAD"],
        capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    ).stdout.strip()  # fmt: skip
    assert checkout_files(ours, head)  # git reset --hard, in ours: other has no such commit
    assert current_branch(other) == "elsewhere"


def test_open_repo_closes_the_repo(tmp_path: Path) -> None:
    ours = _repo(tmp_path / "ours", "main")
    with open_repo(ours) as r:
        assert r.head.commit.message == "one on main\n"  # starts GitPython's long-lived cat-file
        assert r.git.cat_file_all is not None
    assert r.git.cat_file_all is None  # closed: the cat-file ended
