"""The REST API of a real ``--serve`` server, with real git and tmux."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import Server, log_text, wait_for

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WORKSPACE_KEYS = {
    "id", "repo", "branch", "short_repo", "path", "session_count", "sessions", "git_ahead",
    "git_behind", "git_dirty", "git_lines_added", "git_lines_removed", "git_files_changed",
}  # fmt: skip
SESSION_KEYS = {
    "id", "target", "nickname", "running", "created_at", "last_output_at", "nudge_state",
    "nudge_summary", "attach_cmd",
}  # fmt: skip


def test_healthz_is_open(server: Server) -> None:
    r = httpx.get(server.base + "/api/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert re.match(r"^\d+\.\d+\.\d+", r.json()["version"])


def test_spawn_running_rename_dispose(server: Server, origin: Path) -> None:
    items = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1}, nickname="agent")
    assert len(items) == 1 and "error" not in items[0], items
    sid, wid = items[0]["session_id"], items[0]["workspace_id"]
    assert wid == "proj-001"
    assert items[0] == {
        "session_id": sid,
        "workspace_id": wid,
        "target": "sleeper",
        "nickname": "agent",
    }

    workspaces = server.sessions()
    assert [w["id"] for w in workspaces] == ["proj-001"]
    w = workspaces[0]
    assert set(w) >= WORKSPACE_KEYS
    assert w["repo"] == str(origin) and w["short_repo"] == "origin" and w["branch"] == "feature"
    assert w["session_count"] == 1 and Path(w["path"]).is_dir()
    s = w["sessions"][0]
    assert set(s) >= SESSION_KEYS
    assert s["running"] is True and s["nickname"] == "agent" and RFC3339.match(s["created_at"])
    assert f"-S {server.data_dir / 'tmux.sock'}" in s["attach_cmd"]

    with server.client() as c:
        r = c.put(f"/api/sessions-nickname/{sid}", json={"nickname": "renamed"})
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        assert server.session(sid)["nickname"] == "renamed"  # type: ignore[index]
        r = c.patch(f"/api/sessions-nickname/{sid}", json={"nickname": "again"})
        assert r.status_code == 200

        r = c.post(f"/api/dispose/{sid}")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert server.session(sid) is None
    assert server.workspace(wid)["session_count"] == 0  # type: ignore[index]
    # the tmux session is gone too
    out = server.data_dir / "tmux.sock"
    import subprocess

    ls = subprocess.run(["tmux", "-S", str(out), "ls"], capture_output=True, text=True)
    assert sid.replace(".", "_") not in ls.stdout


def test_multi_spawn_numbers_nicknames_and_rejects_taken(server: Server) -> None:
    items = server.spawn(
        repo="proj", branch="main", targets={"sleeper": 2, "shell": 1}, nickname="n"
    )
    assert all("session_id" in i for i in items), items
    assert sorted(i["nickname"] for i in items) == ["n (1)", "n (2)", "n (3)"]
    assert len({i["workspace_id"] for i in items}) == 1
    with server.client() as c:
        r = c.post(
            "/api/spawn",
            json={
                "workspace_id": items[0]["workspace_id"],
                "targets": {"sleeper": 1},
                "nickname": "n (2)",
            },
        )
        assert r.status_code == 409 and "n (2)" in r.json()["error"]
        r = c.put(f"/api/sessions-nickname/{items[0]['session_id']}", json={"nickname": "n (3)"})
        assert r.status_code == 409 and "already used" in r.json()["error"]


def test_spawn_into_existing_workspace_does_no_git_work(server: Server) -> None:
    first = server.spawn(repo="proj", branch="main", targets={"sleeper": 1})
    wid = first[0]["workspace_id"]
    second = server.spawn(workspace_id=wid, targets={"sleeper": 1})
    assert second[0]["workspace_id"] == wid
    assert server.workspace(wid)["session_count"] == 2  # type: ignore[index]


def test_first_line_of_output_is_captured(make_server: Callable[..., Server]) -> None:
    srv = make_server(
        {
            "run_targets": [
                {"name": "hi", "type": "command", "command": "echo FIRST-LINE-MARKER; sleep 600"}
            ]
        }
    )
    sid = srv.spawn(repo="proj", branch="main", targets={"hi": 1})[0]["session_id"]
    wait_for(lambda: "FIRST-LINE-MARKER" in log_text(srv, sid), timeout=5)
    wait_for(lambda: srv.session(sid)["last_output_at"] is not None, timeout=5)  # type: ignore[index]


def test_prompt_reaches_agent_literally(server: Server, short_dir: Path) -> None:
    marker = short_dir / "PWNED"
    prompt = f"$HOME; touch {marker} `touch {marker}` $(touch {marker}) #{{session_name}} 'q\" ;"
    sid = server.spawn(repo="proj", branch="main", targets={"echo": 1}, prompt=prompt)[0][
        "session_id"
    ]
    wait_for(lambda: "PROMPT<" in log_text(server, sid), timeout=5)
    text = log_text(server, sid)
    assert f"PROMPT<{prompt}>" in text.replace("\r", "")
    assert not marker.exists()


def test_session_environment(make_server: Callable[..., Server]) -> None:
    srv = make_server(
        {
            "run_targets": [
                {
                    "name": "env",
                    "type": "command",
                    "command": 'echo "ID=$SCHMUX_SESSION_ID URL=$SCHMUX_URL TOKEN=$SCHMUX_TOKEN"; sleep 600',
                }
            ]
        }
    )
    sid = srv.spawn(repo="proj", branch="main", targets={"env": 1})[0]["session_id"]
    wait_for(lambda: "ID=" in log_text(srv, sid), timeout=5)
    line = log_text(srv, sid)
    assert f"ID={sid} URL={srv.base} TOKEN={srv.token}" in line
    # and the URL really reaches this server with the token (what an agent hook does)
    r = httpx.post(
        f"{srv.base}/api/sessions/{sid}/nudge",
        json={"state": "Needs Input", "summary": "hi"},
        headers=srv.headers,
    )
    assert r.status_code == 200


def test_exited_agent_stays_listed_not_running(make_server: Callable[..., Server]) -> None:
    srv = make_server(
        {"run_targets": [{"name": "quick", "type": "command", "command": "echo bye; exit 3"}]}
    )
    sid = srv.spawn(repo="proj", branch="main", targets={"quick": 1})[0]["session_id"]
    s = wait_for(lambda: (x := srv.session(sid)) and not x["running"] and x, timeout=10)
    assert s["exit_status"] == 3
    assert "bye" in log_text(srv, sid)
    assert "exited (status 3)" in log_text(srv, sid)  # the launcher's marker, in the log too


def test_every_exit_is_seen_at_once_with_its_status(make_server: Callable[..., Server]) -> None:
    # tmux 3.3a misses some exits (no pane-died hook, no status) when the pane's output ends
    # just before its process is reaped; the timed pass would find them 10 s later. The first
    # target closes its terminal before it exits: tmux then never records a status.
    srv = make_server(
        {
            "run_targets": [
                {
                    "name": "closes",
                    "type": "command",
                    "command": "exec >/dev/null 2>&1 </dev/null; sleep 0.3; exit 5",
                },
                {"name": "quick", "type": "command", "command": "sleep 0.5; exit 4"},
            ]
        }
    )
    items = srv.spawn(repo="proj", branch="main", targets={"closes": 1, "quick": 6})
    ids = {i["session_id"]: 5 if i["target"] == "closes" else 4 for i in items}
    assert len(ids) == 7, items

    def ended() -> dict[str, Any]:
        got = {s["id"]: s for w in srv.sessions() for s in w["sessions"] if s["id"] in ids}
        return {k: (v["running"], v["exit_status"]) for k, v in got.items()}

    wait_for(lambda: ended() == {k: (False, v) for k, v in ids.items()}, timeout=4)


def test_nudge_set_and_clear(server: Server) -> None:
    sid = server.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]["session_id"]
    with server.client() as c:
        r = c.post(
            f"/api/sessions/{sid}/nudge", json={"state": "Needs Input", "summary": "Allow edit?"}
        )
        assert r.status_code == 200
        s = server.session(sid)
        assert s is not None and (s["nudge_state"], s["nudge_summary"]) == (
            "Needs Input",
            "Allow edit?",
        )
        assert c.delete(f"/api/sessions/{sid}/nudge").status_code == 200
        s = server.session(sid)
        assert s is not None and (s["nudge_state"], s["nudge_summary"]) == ("", "")
        assert c.post(f"/api/sessions/{sid}/nudge", json={"summary": "x"}).status_code == 400
        assert c.post("/api/sessions/nope/nudge", json={"state": "x"}).status_code == 404


def test_target_not_installed_is_a_per_item_error(make_server: Callable[..., Server]) -> None:
    srv = make_server({"run_targets": [
        {"name": "ghost", "type": "promptable", "command": "definitely-not-installed-xyz --flag"},
        {"name": "sleeper", "type": "command", "command": "sleep 600"},
    ]})  # fmt: skip
    items = srv.spawn(repo="proj", branch="main", targets={"ghost": 1, "sleeper": 1})
    by_target = {i["target"]: i for i in items}
    assert "not installed" in by_target["ghost"]["error"]
    assert "session_id" in by_target["sleeper"]


BAD_SPAWNS = [
    (b"{not json", 400, "not valid JSON"),
    (b"[1,2]", 400, "JSON object"),
    (b"", 400, "JSON object"),
    (json.dumps({"repo": "proj", "branch": "main", "targets": "shell"}).encode(), 400, "targets"),
    (
        json.dumps({"repo": "proj", "branch": "main", "targets": {"shell": "1"}}).encode(),
        400,
        "count",
    ),
    (
        json.dumps({"repo": "proj", "branch": "main", "targets": {"shell": -1}}).encode(),
        400,
        "count",
    ),
    (
        json.dumps({"repo": "proj", "branch": "main", "targets": {"nope": 1}}).encode(),
        400,
        "unknown run target",
    ),
    (
        json.dumps({"repo": "elsewhere", "branch": "main", "targets": {"shell": 1}}).encode(),
        400,
        "unknown repo",
    ),
    (
        json.dumps({"repo": "proj", "branch": "bad..name", "targets": {"shell": 1}}).encode(),
        400,
        "branch",
    ),
    (json.dumps({"repo": "proj", "branch": "-x", "targets": {"shell": 1}}).encode(), 400, "branch"),
    (json.dumps({"repo": "proj", "targets": {"shell": 1}}).encode(), 400, "branch"),
    (json.dumps({"repo": 5, "branch": "main", "targets": {"shell": 1}}).encode(), 400, "repo"),
    (json.dumps({"workspace_id": "../etc", "targets": {"shell": 1}}).encode(), 404, "no workspace"),
    (
        json.dumps({"workspace_id": "x" * 5000, "targets": {"shell": 1}}).encode(),
        404,
        "no workspace",
    ),
    (
        json.dumps(
            {"repo": "proj", "branch": "main", "targets": {"shell": 1}, "prompt": "a\x00b"}
        ).encode(),
        400,
        "NUL",
    ),
    (
        json.dumps(
            {"repo": "proj", "branch": "main", "targets": {"shell": 1}, "nickname": "a\nb"}
        ).encode(),
        400,
        "nickname",
    ),
]


@pytest.mark.parametrize(("body", "status", "fragment"), BAD_SPAWNS)
def test_bad_spawn_requests_get_clear_errors(
    server: Server, body: bytes, status: int, fragment: str
) -> None:
    with server.client() as c:
        r = c.post("/api/spawn", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}
    assert fragment.lower() in r.json()["error"].lower()
    assert "Traceback" not in r.text
    assert server.state()["version"] == 1 if (server.data_dir / "state.json").exists() else True


def test_repo_url_that_does_not_clone(make_server: Callable[..., Server], short_dir: Path) -> None:
    srv = make_server({"repos": [{"name": "gone", "url": str(short_dir / "no-such-repo")}]})
    with srv.client() as c:
        r = c.post("/api/spawn", json={"repo": "gone", "branch": "main", "targets": {"shell": 1}})
    assert r.status_code == 400
    assert "could not fetch" in r.json()["error"] and "no-such-repo" in r.json()["error"]
    assert srv.sessions() == []
    assert not any((srv.data_dir / "workspaces").glob("gone-*"))
    # the server is still fine
    assert httpx.get(srv.base + "/api/healthz").status_code == 200


@pytest.mark.parametrize("bad_id", ["../x", "..", "x" * 5000, "nope", "a%2F..%2Fb", "%00"])
def test_unknown_or_path_like_ids_are_404(server: Server, bad_id: str) -> None:
    with server.client() as c:
        for method, path in [
            ("POST", f"/api/dispose/{bad_id}"),
            ("POST", f"/api/dispose-workspace/{bad_id}"),
            ("PUT", f"/api/sessions-nickname/{bad_id}"),
            ("POST", f"/api/sessions/{bad_id}/nudge"),
            ("DELETE", f"/api/sessions/{bad_id}/nudge"),
        ]:
            r = c.request(method, path, json={"nickname": "x", "state": "x"})
            assert r.status_code == 404, (method, path, r.status_code, r.text)
            assert set(r.json()) == {"error"}


def test_unknown_api_route_is_json_404(server: Server) -> None:
    with server.client() as c:
        r = c.get("/api/nope")
        assert r.status_code == 404 and "error" in r.json()
        r = c.post("/api/sessions")
        assert r.status_code == 405 and "error" in r.json()


def test_config_get_and_partial_update(server: Server) -> None:
    with server.client() as c:
        cfg = c.get("/api/config").json()
        assert cfg["source_code_management"] == "git-worktree"
        assert cfg["sessions"]["dashboard_debounce_ms"] == 500
        assert cfg["terminal"] == {
            "width": 120, "height": 40, "seed_lines": 1000, "bootstrap_lines": 200,
        }  # fmt: skip
        r = c.post("/api/config", json={"sessions": {"dashboard_debounce_ms": 250}})
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        cfg2 = c.get("/api/config").json()
        assert cfg2["sessions"]["dashboard_debounce_ms"] == 250
        assert cfg2["sessions"]["git_status_poll_interval_ms"] == 10000  # merged key by key
        assert cfg2["repos"] == cfg["repos"]
        r = c.put("/api/config", json={"sessions": {"dashboard_debounce_ms": "fast"}})
        assert r.status_code == 400 and "sessions.dashboard_debounce_ms" in r.json()["error"]
        r = c.post("/api/config", json={"source_code_management": "svn"})
        assert r.status_code == 400 and "source_code_management" in r.json()["error"]
    on_disk = json.loads((server.data_dir / "config.json").read_text())
    assert on_disk["sessions"]["dashboard_debounce_ms"] == 250


def test_oversized_body_is_413(server: Server) -> None:
    with server.client() as c:
        r = c.post("/api/spawn", content=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert r.status_code == 413 and "too large" in r.json()["error"]


def test_empty_workspace_id_means_a_new_workspace(server: Server) -> None:
    """schmux's client sends "workspace_id": "" for a new workspace: not a 404."""
    items = server.spawn(repo="proj", branch="main", targets={"sleeper": 1}, workspace_id="")
    assert "error" not in items[0], items
    assert items[0]["workspace_id"] == "proj-001"
