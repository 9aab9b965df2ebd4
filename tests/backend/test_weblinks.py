"""Branch web links from remote URLs: GitHub, GitLab, Bitbucket, ssh and https forms."""

from __future__ import annotations

import pytest

from backend.weblinks import branch_url


@pytest.mark.parametrize(
    ("remote", "link"),
    [
        ("git@github.com:me/app.git", "https://github.com/me/app/tree/feat/x"),
        ("ssh://git@github.com/me/app", "https://github.com/me/app/tree/feat/x"),
        ("https://github.com/me/app.git", "https://github.com/me/app/tree/feat/x"),
        ("https://github.com/me/app/", "https://github.com/me/app/tree/feat/x"),
        ("git@gitlab.com:group/sub/app.git", "https://gitlab.com/group/sub/app/-/tree/feat/x"),
        (
            "ssh://git@gitlab.example.com:2222/g/app.git",
            "https://gitlab.example.com/g/app/-/tree/feat/x",
        ),
        ("https://me@bitbucket.org/me/app.git", "https://bitbucket.org/me/app/branch/feat/x"),
        ("git@bitbucket.org:me/app.git", "https://bitbucket.org/me/app/branch/feat/x"),
    ],
)
def test_forges_in_ssh_and_https_forms(remote: str, link: str) -> None:
    assert branch_url(remote, "feat/x") == link


@pytest.mark.parametrize(
    "remote",
    ["/src/app", "file:///src/app", "https://example.com/me/app.git", "git@github.com:app", ""],
)
def test_other_remotes_have_no_link(remote: str) -> None:
    assert branch_url(remote, "main") == ""


def test_branch_names_are_escaped_but_keep_slashes() -> None:
    assert branch_url("git@github.com:me/app.git", "a b#c") == (
        "https://github.com/me/app/tree/a%20b%23c"
    )
    assert branch_url("git@github.com:me/app.git", "") == ""
