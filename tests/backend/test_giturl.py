"""Tests for backend.giturl: which repo URLs git may be pointed at."""

from __future__ import annotations

import pytest

from backend.giturl import local_url, url_problem

ALLOWED = [
    "/abs/path",
    "rel/path",
    "./a:b",
    "~/src/x",
    "file:///srv/x.git",
    "git://host/x",
    "ssh://user@host:22/x.git",
    "git+ssh://host/x",
    "git@github.com:user/x.git",
    "host:x",
    "http://host/x.git",
    "HTTPS://host/x.git",
]

REFUSED = [
    ("ext::sh -c touch% /tmp/x", "'ext' remote helper"),
    ("fd::17", "'fd' remote helper"),
    ("fd::0,1/x", "'fd' remote helper"),
    ("foo::bar", "'foo' remote helper"),
    ("::x", "remote helper"),
    ("ftp://host/x.git", "ftp:// transport"),
    ("persistent-https://host/x", "persistent-https:// transport"),
    ("-uhello", "start with '-'"),
    ("--upload-pack=touch /tmp/x", "start with '-'"),
    ("ssh://-oProxyCommand=x/y", "host must not start"),
    ("ssh://user@-oProxyCommand=x/y", "host must not start"),
    ("-oProxyCommand=x:y", "start with '-'"),
    ("u@-oProxyCommand=x:y", "host must not start"),
    ("/path\nwith newline", "control characters"),
    ("~nosuchuser-schmux/x", "no such user"),
]


@pytest.mark.parametrize("url", ALLOWED)
def test_allowed(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused_with_a_reason(url: str, reason: str) -> None:
    problem = url_problem(url)
    assert problem is not None and reason in problem, problem


def test_local_url_never_raises_for_unknown_users() -> None:
    assert local_url("~nosuchuser-schmux/x") == "~nosuchuser-schmux/x"
    assert local_url("git@h:x") == "git@h:x"
