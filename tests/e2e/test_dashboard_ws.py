"""``/ws/dashboard`` against a real server: every trigger pushes, nothing is lost."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.helpers import DashboardClient, Server, all_sessions, git, until

pytestmark = pytest.mark.asyncio


async def test_connect_gets_sessions_then_config(server: Server) -> None:
    async with DashboardClient(server) as c:
        await c.wait(lambda ws: ws == [], timeout=5)
        await until(lambda: len(c.messages) >= 2)
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
        ({"Authorization": "Bearer test-token-0123456789", "Origin": "http://evil.example"}, 403),
        ({"Authorization": "Bearer test-token-0123456789", "Origin": "http://127.0.0.1:1"}, 403),
    ],
)
async def test_refused_before_upgrade(server: Server, headers: dict[str, str], status: int) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(server.ws_base + "/ws/dashboard", additional_headers=headers):
            pass
    assert info.value.response.status_code == status
    assert b'"error"' in info.value.response.body


async def test_own_origin_with_a_ticket_is_accepted(server: Server) -> None:
    r = httpx.post(server.base + "/api/ws-ticket", headers=server.write_headers, content="{}")
    assert r.status_code == 200 and "set-cookie" not in r.headers
    async with websockets.connect(
        f"{server.ws_base}/ws/dashboard?ticket={r.json()['ticket']}",
        additional_headers={"Origin": server.base},
    ) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "sessions"


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
                ["tmux", "-S", str(server.data_dir / "tmux.sock"), "list-panes", "-t", f"=schmux-{sid}:", "-F", "#{pane_pid}"],
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
            assert [w["id"] for w in r.json()["added"]] == ["proj-007"]
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
        async with httpx.AsyncClient(
            base_url=srv.base, headers=srv.write_headers, timeout=30
        ) as http:
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


def _raw_ws(server: Server, rcvbuf: int | None = None) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads nor answers."""
    host, port = server.base.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, int(port)))
    sock.sendall(
        (
            f"GET /ws/dashboard HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {server.token}\r\n\r\n"
        ).encode()
    )
    return sock


async def test_client_that_stops_answering_is_dropped(make_server: Callable[..., Server]) -> None:
    srv = make_server({"server": {"websocket_ping_interval_ms": 500}})
    sock = _raw_ws(srv)
    sock.settimeout(10)
    t0 = time.monotonic()
    received = b""
    while True:
        chunk = await asyncio.to_thread(sock.recv, 65536)
        if not chunk:
            break
        received += chunk
    sock.close()
    assert received.startswith(b"HTTP/1.1 101")
    assert b"\x89" in received  # it was pinged
    assert time.monotonic() - t0 < 6  # and dropped after ~3 missed pings


async def test_shutdown_closes_every_socket_with_1000(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    async with DashboardClient(srv) as a, DashboardClient(srv) as b:
        await a.wait(lambda ws: True)
        await b.wait(lambda ws: True)
        assert srv.proc is not None
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        for _ in range(200):
            if a.closed_code is not None and b.closed_code is not None:
                break
            await asyncio.sleep(0.01)
        assert (a.closed_code, b.closed_code) == (1000, 1000)
        assert time.monotonic() - t0 < 1.5
        assert await asyncio.to_thread(srv.proc.wait, 10) == 0


async def test_stalled_client_does_not_delay_a_healthy_one(
    make_server: Callable[..., Server],
) -> None:
    srv = make_server({"sessions": {"dashboard_debounce_ms": 0}})
    items = srv.spawn(repo="proj", branch="main", targets={"sleeper": 1})
    sid = items[0]["session_id"]
    stalled = [_raw_ws(srv, rcvbuf=4096) for _ in range(3)]
    try:
        async with (
            DashboardClient(srv) as healthy,
            httpx.AsyncClient(base_url=srv.base, headers=srv.write_headers) as http,
        ):
            await healthy.wait(lambda ws: len(ws) == 1)
            long = "x" * 1900  # ~2 KB more per push: 300 KB fill the stalled sockets' buffers
            delays = []
            for i in range(150):
                summary = f"{i}-{long}"
                t0 = time.monotonic()
                r = await http.post(
                    f"/api/sessions/{sid}/nudge", json={"state": "Needs Input", "summary": summary}
                )
                assert r.status_code == 200
                arrived = await healthy.wait(
                    lambda ws, x=summary: all_sessions(ws)[sid]["nudge_summary"] == x
                )
                delays.append(arrived - t0)
            delays.sort()
            assert delays[len(delays) // 2] < 0.1, delays[-5:]
    finally:
        for s in stalled:
            s.close()


async def test_workspace_progress_is_pushed(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    srv = make_server({"repos": [
        {"name": "proj", "url": str(short_dir / "origin")},
        {"name": "gone", "url": str(short_dir / "missing")},
    ]})  # fmt: skip
    async with DashboardClient(srv) as c:
        await c.wait(lambda ws: True)
        async with httpx.AsyncClient(
            base_url=srv.base, headers=srv.write_headers, timeout=30
        ) as http:
            r = await http.post(
                "/api/spawn",
                json={
                    "repo": "proj",
                    "branch": "main",
                    "targets": {"sleeper": 1},
                    "request_id": "req-1",
                },
            )
            assert r.status_code == 200
            r = await http.post(
                "/api/spawn",
                json={
                    "repo": "gone",
                    "branch": "main",
                    "targets": {"sleeper": 1},
                    "request_id": "req-2",
                },
            )
            assert r.status_code == 400

        def last_stage(rid: str) -> str:
            mine = [m for m in c.of_type("workspace_progress") if m["request_id"] == rid]
            return str(mine[-1]["stage"]) if mine else ""

        await until(lambda: last_stage("req-1") == "ready" and last_stage("req-2") == "error")
        progress = c.of_type("workspace_progress")
        ok = [m for m in progress if m["request_id"] == "req-1"]
        assert ok[0]["stage"] == "fetching" and ok[-1]["stage"] == "ready"
        assert ok[-1]["workspace_id"] == "proj-001" and ok[-1]["percent"] == 100.0
        bad = [m for m in progress if m["request_id"] == "req-2"]
        assert bad[-1]["stage"] == "error" and "could not fetch" in bad[-1]["message"]


async def test_lone_surrogate_from_one_client_closes_no_dashboard(server: Server) -> None:
    # A spawn with "request_id": "\ud800" (any token holder can send it) once closed every
    # connected dashboard: the pushed progress message could not be encoded.
    clients = [DashboardClient(server) for _ in range(4)]
    for c in clients:
        await c.__aenter__()
    try:
        for c in clients:
            await c.wait(lambda ws: ws == [], timeout=5)
        body = '{"repo":"proj","branch":"main","targets":{"sleeper":1},"request_id":"\\ud800"}'
        async with httpx.AsyncClient(base_url=server.base, headers=server.headers) as http:
            r = await http.post(
                "/api/spawn", content=body, headers={"Content-Type": "application/json"}
            )
            assert r.status_code in (200, 400), r.text  # refused at the edge, or carried
            r = await http.post(
                "/api/spawn", json={"repo": "proj", "branch": "b2", "targets": {"sleeper": 1}}
            )
            assert r.status_code == 200, r.text
        sid = r.json()[0]["session_id"]
        for c in clients:
            await c.wait(lambda ws: sid in all_sessions(ws), timeout=10)
            assert c.closed_code is None
            for m in c.of_type("workspace_progress"):
                assert isinstance(m["seq"], int)
    finally:
        for c in clients:
            await c.__aexit__()


async def test_lone_surrogate_in_config_file_is_refused_at_start(
    make_server: Callable[..., Server], origin: Path, short_dir: Path
) -> None:
    """A hand-edited config.json with a lone surrogate escape used to start and then break every
    dashboard connect (its config message could not be encoded): it is refused at start, with one
    line naming the file and the key."""
    d = short_dir / "dsur"
    d.mkdir()
    cfg = {
        "repos": [{"name": "proj", "url": str(origin)}],
        "run_targets": [{"name": "sleeper", "type": "command", "command": "sleep 600"}],
        "note": "hand-edited \ud800 here",
    }
    (d / "config.json").write_text(json.dumps(cfg))  # the escape \ud800 in the file
    srv = make_server(data_dir=d, start=False)
    with pytest.raises(AssertionError) as info:
        srv.start()
    lines = [line for line in srv.stderr().splitlines() if line.strip()]
    assert len(lines) == 1 and "config.json" in lines[0] and "note" in lines[0], lines
    assert "Traceback" not in str(info.value)


async def test_a_persons_actions_are_not_held_behind_a_window(
    make_server: Callable[..., Server],
) -> None:
    # A long window makes a held push unmistakable: each action must show long before it ends.
    srv = make_server({"sessions": {"dashboard_debounce_ms": 4000}})
    async with (
        DashboardClient(srv) as c,
        httpx.AsyncClient(base_url=srv.base, headers=srv.headers, timeout=30) as http,
    ):
        await c.wait(lambda ws: ws == [], timeout=5)
        lags: dict[str, float] = {}

        async def timed(what: str, call: Any, shown: Callable[[list[dict[str, Any]]], Any]) -> Any:
            r = await call
            assert r.status_code == 200, r.text
            answered = time.monotonic()
            arrived = await c.wait(shown, timeout=10)
            lags[what] = arrived - answered
            return r

        # a spawn on a new branch: its workspace's push came first and opened a window
        r = await timed(
            "spawn new branch",
            http.post(
                "/api/spawn", json={"repo": "proj", "branch": "nb1", "targets": {"sleeper": 1}}
            ),
            lambda ws: len(all_sessions(ws)) == 1,
        )
        sid, wid = r.json()[0]["session_id"], r.json()[0]["workspace_id"]
        await timed(
            "spawn into it",
            http.post("/api/spawn", json={"workspace_id": wid, "targets": {"sleeper": 1}}),
            lambda ws: len(all_sessions(ws)) == 2,
        )
        await timed(
            "rename",
            http.put(f"/api/sessions-nickname/{sid}", json={"nickname": "fast"}),
            lambda ws: all_sessions(ws).get(sid, {}).get("nickname") == "fast",
        )
        await timed(
            "nudge",
            http.post(f"/api/sessions/{sid}/nudge", json={"state": "Needs Input", "summary": "?"}),
            lambda ws: all_sessions(ws).get(sid, {}).get("nudge_state") == "Needs Input",
        )
        await timed(
            "dispose",
            http.post(f"/api/dispose/{sid}", json={}),
            lambda ws: sid not in all_sessions(ws),
        )
        assert all(lag < 1.5 for lag in lags.values()), lags  # held ones wait ~4 s


async def test_websocket_compression_can_be_turned_off(make_server: Callable[..., Server]) -> None:
    """``server.websocket_compression: false``: a client offering permessage-deflate (every
    browser does) gets an uncompressed socket, so one push is not compressed once per client
    (schmux_desktop/wscompression.py), on both sockets; by default Hypercorn's deflate stays;
    a value that is not a boolean is refused with its key."""
    on = make_server()
    async with websockets.connect(
        on.ws_base + "/ws/dashboard", additional_headers=on.headers, compression="deflate"
    ) as ws:
        assert ws.response is not None
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
    srv = make_server({"server": {"websocket_compression": False}})
    sid = srv.spawn(repo="proj", branch="plain", targets={"shell": 1})[0]["session_id"]
    for path in ("/ws/dashboard", f"/ws/terminal/{sid}"):
        async with websockets.connect(
            srv.ws_base + path, additional_headers=srv.headers, compression="deflate"
        ) as ws:
            assert ws.request is not None and ws.response is not None
            assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
            assert "Sec-WebSocket-Extensions" not in ws.response.headers, path
            assert json.loads(await ws.recv())["type"]
    r = httpx.post(
        srv.base + "/api/config",
        headers=srv.write_headers,
        json={"server": {"websocket_compression": "yes"}},
    )
    assert r.status_code == 400 and "server.websocket_compression" in r.json()["error"], r.text
