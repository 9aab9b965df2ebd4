"""A session that ended: a clean exit is "done" (no attention), and Restart starts it again with
the same target, workspace and nickname (POST /api/sessions/{id}/restart)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.helpers import Server, wait_for

TARGETS = {
    "run_targets": [
        {"name": "ok", "type": "command", "command": "echo fine; exit 0"},
        {"name": "bad", "type": "command", "command": "echo broken; exit 3"},
        {"name": "sleeper", "type": "command", "command": "sleep 600"},
    ]
}


def _ended(srv: Server, sid: str) -> dict[str, object]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: (s := srv.session(sid)) and not s["running"] and s["exit_status"] is not None and s,
        timeout=10,
    )


def test_a_clean_exit_is_done_not_needing_attention(make_server: Callable[..., Server]) -> None:
    srv = make_server(TARGETS)
    items = srv.spawn(repo="proj", branch="main", targets={"ok": 1, "bad": 1, "sleeper": 1})
    ids = {i["target"]: i["session_id"] for i in items}
    bad = _ended(srv, ids["bad"])
    assert bad["run_state"] == "exited"
    wait_for(lambda: (srv.session(ids["bad"]) or {}).get("nudge_state") == "Exited", timeout=10)
    ok = _ended(srv, ids["ok"])
    assert ok["exit_status"] == 0 and ok["run_state"] == "done"
    assert (srv.session(ids["sleeper"]) or {})["run_state"] == "running"
    # The detector has looked at every ended session by now (it marked "bad"); "ok" stays clean.
    wait_for(lambda: (srv.session(ids["bad"]) or {}).get("nudge_summary") == "exit status 3")
    s = srv.session(ids["ok"])
    assert s is not None and (s["nudge_state"], s["nudge_summary"]) == ("", "")


def test_restart_keeps_target_workspace_and_nickname(make_server: Callable[..., Server]) -> None:
    srv = make_server(TARGETS)
    item = srv.spawn(repo="proj", branch="main", targets={"bad": 1}, nickname="builder")[0]
    sid, wid = item["session_id"], item["workspace_id"]
    _ended(srv, sid)
    with srv.client() as c:
        r = c.post(f"/api/sessions/{sid}/restart", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["workspace_id"] == wid and body["target"] == "bad"
    assert body["nickname"] == "builder" and body["replaces"] == sid
    assert body["session_id"] != sid
    assert srv.session(sid) is None  # the old one is disposed
    new = wait_for(lambda: srv.session(body["session_id"]), timeout=5)
    assert new["nickname"] == "builder" and new["target"] == "bad"
    _ended(srv, body["session_id"])  # it really ran again


def test_restart_refuses_running_unknown_and_foreign_pages(
    make_server: Callable[..., Server],
) -> None:
    srv = make_server(TARGETS)
    sid = srv.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]["session_id"]
    with srv.client() as c:
        r = c.post(f"/api/sessions/{sid}/restart", json={})
        assert r.status_code == 409 and "still running" in r.json()["error"]
        r = c.post("/api/sessions/nope-123/restart", json={})
        assert r.status_code == 404 and "error" in r.json()
    # The gate's rules hold for the new route like for every write.
    url = f"{srv.base}/api/sessions/{sid}/restart"
    assert httpx.post(url, json={}).status_code == 401
    r = httpx.post(url, content=b"{}", headers={**srv.headers, "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = httpx.post(url, json={}, headers={**srv.headers, "Origin": "http://evil.example"})
    assert r.status_code == 403
    assert srv.session(sid) is not None
