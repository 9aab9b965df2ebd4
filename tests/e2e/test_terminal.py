"""``/ws/terminal/{id}`` and attention against a real server and real tmux."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from backend import sessionprocs
from tests.helpers import DashboardClient, Server, all_sessions, until

pytestmark = pytest.mark.asyncio

TARGETS = [
    {"name": "shell", "type": "command", "command": "bash --norc --noprofile"},
    {"name": "sleeper", "type": "command", "command": "sleep 600"},
    {"name": "catv", "type": "command", "command": "cat -v"},
    {
        "name": "asker",
        "type": "command",
        "command": "printf 'Install 3 packages.\\nDo you want to continue? [Y/n] '; read answer; echo \"got:$answer\"; sleep 600",
    },
    {
        "name": "burst",
        "type": "command",
        "command": "sleep 1; head -c 7500000 /dev/urandom | base64; echo BURST-DONE; sleep 600",
    },
    {"name": "quitter", "type": "command", "command": "echo bye; sleep 0.5; exit 5"},
]


class Term:
    def __init__(self, server: Server, session_id: str) -> None:
        self.url = f"{server.ws_base}/ws/terminal/{session_id}"
        self.headers = server.headers
        self.messages: list[dict[str, Any]] = []
        self.ws: Any = None
        self.task: Any = None

    async def __aenter__(self) -> Term:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=None)
        self.task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.messages.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        await self.task

    async def send(self, data: str) -> None:
        await self.ws.send(json.dumps({"type": "input", "data": data}))

    def output(self) -> str:
        """What an xterm would have received since the last full."""
        out = ""
        for m in self.messages:
            if m["type"] == "full":
                out = m["content"]
            elif m["type"] == "append":
                out += m["content"]
        return out

    def appended(self) -> str:
        return "".join(m["content"] for m in self.messages if m["type"] == "append")

    async def wait_for(self, text: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{text!r} never appeared; got {self.output()[-300:]!r}")


@pytest.fixture
def srv(make_server: Callable[..., Server]) -> Server:
    return make_server({"run_targets": TARGETS})


def agent_runs(session_id: str, cmdline: bytes) -> bool:
    """Whether a process of the session (by its SCHMUX_SESSION_ID) runs ``cmdline``."""
    for pid in sessionprocs.find(session_id):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes() == cmdline:
                return True
    return False


def spawn(srv: Server, target: str) -> str:
    existing = srv.workspace("proj-001")
    where: dict[str, Any] = (
        {"workspace_id": "proj-001"} if existing else {"repo": "proj", "branch": "main"}
    )
    return srv.spawn(targets={target: 1}, **where)[0]["session_id"]


async def test_unknown_session_is_404_before_upgrade(srv: Server) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(
            f"{srv.ws_base}/ws/terminal/nope", additional_headers=srv.headers
        ):
            pass
    assert info.value.response.status_code == 404


async def test_foreign_origin_and_no_token_refused(srv: Server) -> None:
    sid = spawn(srv, "sleeper")
    for headers, status in [({}, 401), ({**srv.headers, "Origin": "http://evil.example"}, 403)]:
        with pytest.raises(websockets.InvalidStatus) as info:
            async with websockets.connect(
                f"{srv.ws_base}/ws/terminal/{sid}", additional_headers=headers
            ):
                pass
        assert info.value.response.status_code == status


async def test_echo_round_trip_and_first_message_is_full(srv: Server) -> None:
    sid = spawn(srv, "shell")
    async with Term(srv, sid) as t:
        await until(lambda: bool(t.messages))
        assert t.messages[0]["type"] == "full"
        await t.send("echo round-$((20+22))-trip\r")
        await t.wait_for("round-42-trip")


async def test_arrow_keys_and_paste_reach_the_pane_literally(srv: Server) -> None:
    sid = spawn(srv, "catv")
    async with Term(srv, sid) as t:
        await asyncio.sleep(0.3)
        await t.send("\x1b[A\x1b[D;$(x)\r")
        await t.wait_for("^[[A^[[D;$(x)")
        paste = "".join(f"line {i:04d} " + "x" * 60 + "\r" for i in range(60))  # ~4 KB
        await t.send(paste)
        await t.wait_for("line 0059")


async def test_ctrl_c_reaches_the_agent(srv: Server) -> None:
    sid = spawn(srv, "sleeper")
    async with Term(srv, sid) as t:
        await until(lambda: agent_runs(sid, b"sleep\x00600\x00"))  # the launcher started it
        await t.send("\x03")
        for _ in range(200):
            s = srv.session(sid)
            if s is not None and not s["running"] and s["exit_status"] is not None:
                break  # (the status can follow the stop by a moment: tmux records it later)
            await asyncio.sleep(0.05)
        s = srv.session(sid)
        assert s is not None and s["running"] is False and s["exit_status"] == 130


async def test_two_viewers_see_the_same_bytes(srv: Server) -> None:
    sid = spawn(srv, "shell")
    async with Term(srv, sid) as a, Term(srv, sid) as b:
        for _ in range(200):  # both have their full screen: from here on they share the stream
            if all(any(m["type"] == "full" for m in t.messages) for t in (a, b)):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        await a.send("for i in 1 2 3; do echo same-$i; done\r")
        await a.wait_for("same-3\r\n")
        await b.wait_for("same-3\r\n")
        # (the shell's own start-up output may reach one viewer before the other's full, and
        # its next prompt one before the other: compare the command's own stretch)
        tail_a, tail_b = (t.appended() for t in (a, b))
        tail_a, tail_b = (
            s[s.index("for i in") : s.index("same-3\r\n") + len("same-3\r\n")]
            for s in (tail_a, tail_b)
        )
        assert tail_a == tail_b
        assert "same-1" in tail_a


async def test_exited_agent_shows_exit_status(srv: Server) -> None:
    sid = spawn(srv, "quitter")
    async with Term(srv, sid) as t:
        await t.wait_for("exited (status 5)", timeout=10)  # the launcher's marker, streamed
        # then a fresh full screen once the app knows, with the status, the marker once
        for _ in range(100):
            if any(m["type"] == "full" and m.get("exit_status") == 5 for m in t.messages):
                break
            await asyncio.sleep(0.05)
        assert any(m["type"] == "full" and m.get("exit_status") == 5 for m in t.messages)
        # the app adds no marker of its own when the launcher wrote one
        last_full = [m for m in t.messages if m["type"] == "full"][-1]["content"]
        assert last_full.count("exited (") <= 1, last_full[-300:]
    # and a viewer arriving later still sees the output and the marker
    async with Term(srv, sid) as late:
        await late.wait_for("bye")
        await late.wait_for("exited (status 5)")


async def test_burst_does_not_stall_server_or_other_pushes(srv: Server) -> None:
    noisy = spawn(srv, "burst")
    quiet = spawn(srv, "sleeper")
    async with (
        Term(srv, noisy) as t,
        DashboardClient(srv) as dash,
        httpx.AsyncClient(base_url=srv.base, headers=srv.write_headers) as http,
    ):
        await dash.wait(lambda ws: quiet in all_sessions(ws))
        await asyncio.sleep(1.2)  # the burst is running now
        delays = []
        for i in range(8):
            t0 = time.monotonic()
            r = await http.put(f"/api/sessions-nickname/{quiet}", json={"nickname": f"q{i}"})
            assert r.status_code == 200
            arrived = await dash.wait(
                lambda ws, n=f"q{i}": all_sessions(ws)[quiet]["nickname"] == n
            )
            delays.append(arrived - t0)
            assert (await http.get("/api/healthz")).status_code == 200
            await asyncio.sleep(0.6)
        delays.sort()
        assert delays[len(delays) // 2] < 0.3, delays
        await t.wait_for("BURST-DONE", timeout=60)
        # the viewer still works after the flood
        await t.send("x")
    log = srv.data_dir / "logs" / f"{noisy}.log"
    assert log.stat().st_size > 9_000_000


async def test_detector_sets_needs_input_and_enter_clears_it(srv: Server) -> None:
    sid = spawn(srv, "asker")
    async with DashboardClient(srv) as dash:
        await dash.wait(
            lambda ws: all_sessions(ws).get(sid, {}).get("nudge_state") == "Needs Input", timeout=15
        )
        s = all_sessions(dash.workspaces or [])[sid]
        assert s["nudge_summary"] == "Do you want to continue? [Y/n]"
        async with Term(srv, sid) as t:
            await until(lambda: bool(t.messages))  # attached: its full screen arrived
            await t.send("y\r")
            await t.wait_for("got:y")
        await dash.wait(lambda ws: all_sessions(ws)[sid]["nudge_state"] == "", timeout=5)


async def test_api_nudge_visible_and_exit_marks_exited(srv: Server) -> None:
    sid = spawn(srv, "quitter")
    async with DashboardClient(srv) as dash:
        await dash.wait(
            lambda ws: all_sessions(ws).get(sid, {}).get("nudge_state") == "Exited", timeout=15
        )
        assert all_sessions(dash.workspaces or [])[sid]["nudge_summary"] == "exit status 5"
        sid2 = spawn(srv, "sleeper")
        r = httpx.post(
            f"{srv.base}/api/sessions/{sid2}/nudge",
            json={"state": "Completed", "summary": "done"},
            headers=srv.headers,
        )
        assert r.status_code == 200
        await dash.wait(lambda ws: all_sessions(ws).get(sid2, {}).get("nudge_state") == "Completed")


async def test_bad_frames_get_errors_not_disconnects(srv: Server) -> None:
    sid = spawn(srv, "shell")
    async with Term(srv, sid) as t:
        await t.ws.send("not json")
        await t.ws.send(json.dumps({"type": "resize", "cols": "wide", "rows": 10}))
        await t.ws.send(json.dumps({"type": "resize", "cols": 5000, "rows": 10}))
        await t.ws.send(json.dumps({"type": "resize", "cols": 100, "rows": 30}))
        await asyncio.sleep(0.3)
        errors = [m for m in t.messages if m["type"] == "error"]
        assert len(errors) == 3
        await t.send("tput cols\r")
        await t.wait_for("\r100\r\n")


async def test_log_rotation_keeps_the_live_stream(make_server: Callable[..., Server]) -> None:
    chatty = 'for i in $(seq 1 30); do yes x | head -c 60000; echo " chunk-$i"; sleep 0.1; done; echo ROTATION-DONE; sleep 600'
    srv = make_server({
        "run_targets": [{"name": "chatty", "type": "command", "command": chatty}],
        "sessions": {"log_max_bytes": 256 * 1024},
    })  # fmt: skip
    item = srv.spawn(repo="proj", branch="main", targets={"chatty": 1})[0]
    assert "session_id" in item, item
    sid = item["session_id"]
    async with Term(srv, sid) as t:
        await t.wait_for("ROTATION-DONE", timeout=30)
    # Not a byte lost across ~10 rotations: after the last full capture (a viewer that falls
    # far behind gets a fresh one), every chunk is whole and the chunk numbers run on.
    last_full = max(i for i, m in enumerate(t.messages) if m["type"] == "full")
    text = "".join(m["content"] for m in t.messages[last_full + 1 :] if m["type"] == "append")
    marks = list(re.finditer(r" chunk-(\d+)", text))
    numbers = [int(m.group(1)) for m in marks]
    assert len(numbers) >= 5 and numbers[-1] == 30, numbers
    assert numbers == list(range(numbers[0], 31)), numbers
    for a, b in itertools.pairwise(marks):
        assert text.count("x", a.end(), b.start()) == 30000, (a.group(0), b.group(0))
    log = srv.data_dir / "logs" / f"{sid}.log"
    rotated = srv.data_dir / "logs" / f"{sid}.log.1"
    assert rotated.stat().st_size == 256 * 1024  # the writer moves a log away when it is full
    assert log.stat().st_size < 256 * 1024
    everything = rotated.read_bytes() + log.read_bytes()
    assert everything.endswith(b"ROTATION-DONE\r\n")
