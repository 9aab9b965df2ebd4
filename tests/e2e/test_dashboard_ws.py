"""``/ws/dashboard`` against a real server: every trigger pushes, nothing is lost."""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from tests.helpers import DashboardClient, Server, all_sessions, git

pytestmark = pytest.mark.asyncio


async def test_connect_gets_sessions_then_config(server: Server) -> None:
    async with DashboardClient(server) as c:
        await c.wait(lambda ws: ws == [], timeout=5)
        await asyncio.sleep(0.2)
        kinds = [m["type"] for _, m in c.messages]
        assert kinds[:2] == ["sessions", "config"]
        assert c.of_type("config")[0]["config"]["sessions"]["dashboard_debounce_ms"] == 500
        seqs = [m["seq"] for _, m in c.messages]
        assert seqs == sorted(seqs)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "Bearer test-token", "Origin": "http://evil.example"}, 403),
        ({"Authorization": "Bearer test-token", "Origin": "http://127.0.0.1:1"}, 403),
    ],
)
async def test_refused_before_upgrade(server: Server, headers: dict[str, str], status: int) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(server.ws_base + "/ws/dashboard", additional_headers=headers):
            pass
    assert info.value.response.status_code == status
    assert b'"error"' in info.value.response.body


async def test_own_origin_and_cookie_are_accepted(server: Server) -> None:
    r = httpx.get(server.base + f"/?token={server.token}", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    value = r.cookies["schmux_token"]
    headers = {"Cookie": f"schmux_token={value}", "Origin": server.base}
    async with DashboardClient(server, headers=headers) as c:
        await c.wait(lambda ws: ws == [], timeout=5)


async def test_oversized_client_frame_closes_1009(server: Server) -> None:
    async with DashboardClient(server) as c:
        await c.wait(lambda ws: True)
        await c.ws.send("x" * (65 * 1024))
        for _ in range(100):
            if c.closed_code is not None:
                break
            await asyncio.sleep(0.05)
        assert c.closed_code == 1009


async def test_small_client_frames_are_ignored(server: Server) -> None:
    async with DashboardClient(server) as c:
        await c.wait(lambda ws: True)
        await c.ws.send('{"type":"hello"}')
        await asyncio.sleep(0.2)
        assert c.closed_code is None
        server.spawn(repo="proj", branch="main", targets={"sleeper": 1})
        await c.wait(lambda ws: len(ws) == 1)


async def test_every_trigger_pushes(server: Server, origin: Path) -> None:
    async with DashboardClient(server) as a, DashboardClient(server) as b:
        await a.wait(lambda ws: ws == [])
        # spawn
        items = server.spawn(repo="proj", branch="main", targets={"sleeper": 1})
        sid, wid = items[0]["session_id"], items[0]["workspace_id"]
        for c in (a, b):
            await c.wait(lambda ws: sid in all_sessions(ws))
        with server.client() as http:
            # nickname
            http.put(f"/api/sessions-nickname/{sid}", json={"nickname": "nick"}).raise_for_status()
            await a.wait(lambda ws: all_sessions(ws)[sid]["nickname"] == "nick")
            # nudge set and clear
            http.post(
                f"/api/sessions/{sid}/nudge", json={"state": "Needs Input", "summary": "?"}
            ).raise_for_status()
            await a.wait(lambda ws: all_sessions(ws)[sid]["nudge_state"] == "Needs Input")
            http.delete(f"/api/sessions/{sid}/nudge").raise_for_status()
            await a.wait(lambda ws: all_sessions(ws)[sid]["nudge_state"] == "")
            # git change: a commit in the workspace
            path = Path(server.workspace(wid)["path"])  # type: ignore[index]
            (path / "new.txt").write_text("one\ntwo\n")
            await a.wait(
                lambda ws: ws[0]["git_dirty"] and ws[0]["git_lines_added"] == 2, timeout=15
            )
            git(path, "add", "-A")
            git(path, "commit", "-q", "-m", "work")
            await a.wait(lambda ws: ws[0]["git_ahead"] == 1 and not ws[0]["git_dirty"], timeout=15)
            # process exiting (kill the agent process directly)
            pane_pid = subprocess.run(
                ["tmux", "-S", str(server.data_dir / "tmux.sock"), "list-panes", "-a", "-F", "#{pane_pid}"],
                capture_output=True, text=True, check=True,
            ).stdout.split()[0]  # fmt: skip
            subprocess.run(["pkill", "-TERM", "-g", pane_pid], check=False)
            await a.wait(lambda ws: all_sessions(ws)[sid]["running"] is False, timeout=10)
            # session dispose
            http.post(f"/api/dispose/{sid}").raise_for_status()
            await a.wait(lambda ws: sid not in all_sessions(ws))
            # config change pushes a config message
            http.post(
                "/api/config", json={"sessions": {"dashboard_debounce_ms": 400}}
            ).raise_for_status()
            for _ in range(100):
                if any(
                    m["config"]["sessions"]["dashboard_debounce_ms"] == 400
                    for m in a.of_type("config")
                ):
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("no config push")
            # workspace dispose (commit it upstream first so nothing is lost)
            git(path, "push", "-q", "origin", "HEAD:refs/heads/pushed")
            git(Path(server.data_dir / "repos" / "proj.git"), "fetch", "-q", "origin")
            r = http.post(f"/api/dispose-workspace/{wid}")
            assert r.status_code == 200, r.text
            await a.wait(lambda ws: ws == [])
            # scan: a worktree added by hand appears
            bare = server.data_dir / "repos" / "proj.git"
            hand = server.data_dir / "workspaces" / "proj-007"
            git(bare, "worktree", "add", "-q", "-b", "by-hand", str(hand), "origin/main")
            r = http.post("/api/workspaces/scan")
            assert r.json()["added"] == ["proj-007"]
            await a.wait(lambda ws: [w["id"] for w in ws] == ["proj-007"])
        await b.wait(lambda ws: [w["id"] for w in ws] == ["proj-007"])


async def test_tmux_session_vanishing_marks_not_running(server: Server) -> None:
    async with DashboardClient(server) as c:
        sid = server.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]["session_id"]
        await c.wait(lambda ws: sid in all_sessions(ws) and all_sessions(ws)[sid]["running"])
        server.kill_tmux()
        await c.wait(lambda ws: all_sessions(ws)[sid]["running"] is False, timeout=10)
        # and the app still spawns
        sid2 = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]["session_id"]
        await c.wait(lambda ws: sid2 in all_sessions(ws) and all_sessions(ws)[sid2]["running"])


async def test_no_lost_update_under_random_mutations(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    window = 0.5
    items = srv.spawn(repo="proj", branch="main", targets={"sleeper": 3})
    ids = [i["session_id"] for i in items]
    wid = items[0]["workspace_id"]
    rng = random.Random(1234)
    async with DashboardClient(srv) as a, DashboardClient(srv) as b, DashboardClient(srv) as c:
        clients = (a, b, c)
        for cl in clients:
            await cl.wait(lambda ws: len(all_sessions(ws)) == 3)
        async with httpx.AsyncClient(base_url=srv.base, headers=srv.headers, timeout=30) as http:
            for i in range(300):
                op = rng.random()
                sid = rng.choice(ids)
                if op < 0.45:
                    r = await http.put(f"/api/sessions-nickname/{sid}", json={"nickname": f"n{i}"})
                elif op < 0.75:
                    r = await http.post(
                        f"/api/sessions/{sid}/nudge",
                        json={"state": "Needs Input", "summary": f"s{i}"},
                    )
                elif op < 0.9:
                    r = await http.delete(f"/api/sessions/{sid}/nudge")
                elif op < 0.95 and len(ids) < 8:
                    r = await http.post(
                        "/api/spawn", json={"workspace_id": wid, "targets": {"sleeper": 1}}
                    )
                    ids.append(r.json()[0]["session_id"])
                elif len(ids) > 2:
                    victim = ids.pop(rng.randrange(len(ids)))
                    r = await http.post(f"/api/dispose/{victim}")
                else:
                    continue
                assert r.status_code == 200, r.text
                await asyncio.sleep(rng.choice([0, 0, 0.005, 0.02, 0.05, 0.1]))
            last_change = time.monotonic()
            truth = (await http.get("/api/sessions")).json()
        for cl in clients:
            arrived = await cl.wait(lambda ws: ws == truth, timeout=window + 2)
            assert arrived - last_change <= window + 0.1, (
                f"final state late by {arrived - last_change:.3f} s"
            )
