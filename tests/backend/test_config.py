from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend import config as cfg


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    c = cfg.load(tmp_path / "config.json", tmp_path)
    assert c.workspace_path == tmp_path / "workspaces"
    assert c.source_code_management == "git-worktree"
    assert (c.git_status_poll_interval_ms, c.git_status_timeout_ms, c.dashboard_debounce_ms) == (
        10000,
        30000,
        500,
    )
    assert (c.terminal_width, c.terminal_height, c.mtime_poll_interval_ms) == (120, 40, 5000)
    d = c.to_dict()
    assert (
        d["sessions"]["dashboard_debounce_ms"] == 500
        and d["repos"] == []
        and d["run_targets"] == []
    )


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"repos": [{"url": 5}]}, "repos[0].url"),
        ({"repos": [{"name": "a b", "url": "/x"}]}, "repos[0].name"),
        ({"repos": [{"name": "a", "url": "/x"}, {"name": "a", "url": "/y"}]}, "repos[1].name"),
        ({"run_targets": [{"name": "t", "type": "magic", "command": "x"}]}, "run_targets[0].type"),
        ({"run_targets": [{"name": "t"}]}, "run_targets[0].command"),
        ({"terminal": {"width": "wide"}}, "terminal.width"),
        ({"sessions": {"git_status_poll_interval_ms": 0}}, "sessions.git_status_poll_interval_ms"),
        ({"sessions": []}, "sessions"),
        ({"source_code_management": "hg"}, "source_code_management"),
    ],
)
def test_invalid_values_name_file_and_key(tmp_path: Path, raw: dict[str, object], key: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(path, tmp_path)
    assert str(path) in str(info.value) and key in str(info.value)


def test_unknown_keys_survive_and_merge_is_per_key(tmp_path: Path) -> None:
    raw = {"future_key": {"a": 1}, "sessions": {"dashboard_debounce_ms": 100}}
    c = cfg.parse(raw, tmp_path)
    merged = cfg.merge(
        c.raw, {"sessions": {"git_status_timeout_ms": 5000}, "repos": [{"url": "/src/my-app.git"}]}
    )
    c2 = cfg.parse(merged, tmp_path)
    assert c2.dashboard_debounce_ms == 100 and c2.git_status_timeout_ms == 5000
    assert c2.repos[0].name == "my-app"
    assert c2.to_dict()["future_key"] == {"a": 1}


@pytest.mark.parametrize(
    ("url", "short"),
    [
        ("git@github.com:user/repo.git", "repo"),
        ("https://example.com/a/b/proj.git/", "proj"),
        ("/home/me/src/my-app", "my-app"),
        ("ssh://host:22/x/y", "y"),
    ],
)
def test_short_repo_name(url: str, short: str) -> None:
    assert cfg.short_repo_name(url) == short


def test_relative_workspace_path_is_under_data_dir(tmp_path: Path) -> None:
    assert cfg.parse({"workspace_path": "ws"}, tmp_path).workspace_path == tmp_path / "ws"


HOSTS = [
    {"name": "gpu-box", "url": "https://gpu-box:8443/", "token": "s3cret-gpu"},
    {"name": "lab", "ssh": "me@lab.example", "remote_port": 8765},
]


def test_hosts_parse_and_their_tokens_never_leave(tmp_path: Path) -> None:
    c = cfg.parse({"hosts": HOSTS}, tmp_path)
    assert c.hosts == (
        cfg.Host(name="gpu-box", url="https://gpu-box:8443", token="s3cret-gpu"),
        cfg.Host(name="lab", ssh="me@lab.example", remote_port=8765),
    )
    assert "s3cret" not in repr(c.hosts)
    assert c.to_dict()["hosts"] == [
        {"name": "gpu-box", "url": "https://gpu-box:8443", "token": "", "has_token": True},
        {
            "name": "lab",
            "ssh": "me@lab.example",
            "remote_port": 8765,
            "token": "",
            "has_token": False,
        },
    ]
    assert "s3cret" not in json.dumps(c.to_dict())
    assert cfg.parse({}, tmp_path).to_dict()["hosts"] == []


@pytest.mark.parametrize(
    ("hosts", "words"),
    [
        ({"name": "x"}, "hosts must be a list"),
        ([{"name": "", "url": "http://x"}], "hosts[0].name"),
        ([{"name": "a:b", "url": "http://x"}], "hosts[0].name"),
        ([{"name": "x" * 65, "url": "http://x"}], "hosts[0].name"),
        ([{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}], "used twice"),
        ([{"name": "a", "url": "file:///etc"}], "hosts[0].url"),
        ([{"name": "a", "url": "http://x/?token=t"}], "no query"),
        ([{"name": "a", "url": "http://x", "token": 1}], "hosts[0].token"),
        ([{"name": "a"}], 'needs "url"'),
        ([{"name": "a", "url": "http://x", "ssh": "h", "remote_port": 1}], "both"),
        ([{"name": "a", "ssh": "-oProxyCommand=x", "remote_port": 1}], "hosts[0].ssh"),
        ([{"name": "a", "ssh": "h", "remote_port": 70000}], "remote_port"),
        ([{"name": "a", "ssh": "h", "remote_port": True}], "remote_port"),
        ([{"name": "a", "url": "http://x", "extra": 1}], "unknown key"),
    ],
)
def test_invalid_hosts_are_refused_naming_the_key(
    tmp_path: Path, hosts: object, words: str
) -> None:
    with pytest.raises(cfg.ConfigError) as info:
        cfg.parse({"hosts": hosts}, tmp_path)
    assert words in str(info.value)


def test_a_masked_token_keeps_the_stored_one_only_at_the_same_address(tmp_path: Path) -> None:
    c = cfg.parse({"hosts": HOSTS}, tmp_path)
    shown = c.to_dict()["hosts"]  # what a page gets, and sends back
    kept = cfg.apply_patch(c, {"hosts": shown}, tmp_path)
    assert kept.hosts == c.hosts and "has_token" not in json.dumps(dict(kept.raw))
    moved = [{**shown[0], "url": "https://elsewhere.example"}, shown[1]]
    assert cfg.apply_patch(c, {"hosts": moved}, tmp_path).hosts[0].token == ""
    new = [{**shown[0], "token": "new-one"}, shown[1]]
    assert cfg.apply_patch(c, {"hosts": new}, tmp_path).hosts[0].token == "new-one"
