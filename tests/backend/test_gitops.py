"""``gitops`` pieces that need no server: branch names judged as git judges them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backend.errors import BadRequest
from backend.gitops import check_branch, valid_branch_name

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
