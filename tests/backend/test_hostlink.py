"""The link to one host on a virtual clock: its states, its backoff, its last workspaces.

The host is a real WebSocket server on loopback (or a port nobody listens on); only time and
chance are injected."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from backend.errors import HostUnavailable
from backend.hostclient import FixedUrl, HostClient
from backend.hostlimits import CallKind, HostLimits
from backend.hostlink import HostLink, LinkState
from backend.tasks import TaskGroup
from tests.helpers import until


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # released: nothing listens there


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def link_to(url: str, clock: Clock, log: list[str], **kw: Any) -> HostLink:
    link: HostLink

    def on_state() -> None:
        log.append(f"{link.state.value}@{link.since - 1_700_000_000.0:g}")

    link = HostLink(
        HostClient("gpu-box", "", FixedUrl(url)),
        on_sessions=lambda: log.append(f"sessions:{len(link.workspaces)}"),
        on_state=on_state,
        now=clock.now,
        wait=clock.wait,
        random=lambda: 0.5,
        **kw,
    )
    return link


async def test_a_host_that_refuses_goes_offline_after_three_attempts_and_keeps_trying() -> None:
    clock, log = Clock(), []
    link = link_to(f"http://127.0.0.1:{closed_port()}", clock, log, offline_after=3)
    assert link.state is LinkState.RECONNECTING
    group = TaskGroup()
    group.spawn(link.run(), name="link")
    await until(lambda: len(clock.waits) >= 5)
    await group.close()
    assert link.state is LinkState.OFFLINE and link.error == "connection refused"
    # reconnecting from the start (t=0); offline once the third attempt failed, after 2 waits
    # (backend.backoff: full jitter, here the middle of 0.5 s doubling)
    assert log[0] == "reconnecting@0" and log[1] == "offline@0.75"
    assert clock.waits[:5] == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert link.status() == {
        "name": "gpu-box",
        "state": "offline",
        "since": "2023-11-14T22:13:20Z",
        "error": "connection refused",
        "latency_ms": None,
        "repos": [],
        "run_targets": [],
    }


async def test_connected_on_the_first_sessions_message_and_stale_data_kept_on_drop() -> None:
    payload = [
        {
            "id": "proj-001",
            "host": "",
            "sessions": [{"id": "proj-001-abc", "workspace_id": "proj-001", "host": ""}],
            "conflicts": [{"with": "proj-002", "files": ["a"]}, {"with": "base", "files": ["b"]}],
        }
    ]
    drop = asyncio.Event()

    async def host(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "sessions", "seq": 1, "workspaces": payload}))
        config = {
            "repos": [{"name": "proj", "url": "/src/proj", "secret": "x"}, "junk"],
            "run_targets": [{"name": "claude", "type": "promptable", "command": "claude"}],
            "hosts": [{"name": "deeper", "url": "http://x", "token": ""}],
        }
        await ws.send(json.dumps({"type": "config", "seq": 2, "config": config}))
        await drop.wait()

    async with serve(host, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        clock, log = Clock(), []
        link = link_to(f"http://127.0.0.1:{port}", clock, log)
        group = TaskGroup()
        group.spawn(link.run(), name="link")
        await until(lambda: link.state is LinkState.CONNECTED)
        (w,) = link.workspaces
        assert w["id"] == "gpu-box:proj-001" and w["host"] == "gpu-box"
        assert w["sessions"][0]["id"] == "gpu-box:proj-001-abc"
        assert w["sessions"][0]["workspace_id"] == "gpu-box:proj-001"
        assert w["conflicts"] == [
            {"with": "gpu-box:proj-002", "files": ["a"]},
            {"with": "base", "files": ["b"]},
        ]
        assert link.has_session("proj-001-abc") and link.has_workspace("proj-001")
        await until(lambda: bool(link.status()["repos"]))
        assert link.status()["repos"] == [{"name": "proj", "url": "/src/proj"}]
        assert link.status()["run_targets"] == [{"name": "claude", "type": "promptable"}]
        await until(lambda: link.latency_ms is not None)  # the first ping, at once
        assert 0 <= link.status()["latency_ms"] < 1000
        clock.t += 7
        drop.set()  # the host closes: reconnecting at once, its workspaces kept
        await until(lambda: link.state is not LinkState.CONNECTED)
        assert link.state is LinkState.RECONNECTING and link.error
        assert [x["id"] for x in link.workspaces] == ["gpu-box:proj-001"]
        await group.close()
    assert log.index("connected@0") < log.index("sessions:1") < log.index("reconnecting@7")
    assert log.count("reconnecting@7") == 1


async def test_a_request_in_flight_ends_as_soon_as_the_link_is_lost() -> None:
    """A host that takes a request and never answers it, then drops its dashboard socket:
    the request ends at once with a 503 saying so, not after the HTTP client's own wait."""
    taken, drop, never = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def process_request(connection: ServerConnection, request: Any) -> Any:
        if request.path.startswith("/api/"):
            taken.set()
            await never.wait()  # in flight for as long as the test lasts
        return None

    async def host(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "sessions", "seq": 1, "workspaces": []}))
        await drop.wait()

    async with serve(host, "127.0.0.1", 0, process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        link = link_to(f"http://127.0.0.1:{port}", Clock(), [])
        group = TaskGroup()
        group.spawn(link.run(), name="link")
        await until(lambda: link.state is LinkState.CONNECTED)
        # one the caller gives up on itself goes on as a cancellation, not as the host's fault
        other = group.spawn(link.request("GET", "/api/diff/x", kind=CallKind.GIT), name="other")
        await until(taken.is_set)
        other.cancel()
        with pytest.raises(asyncio.CancelledError):
            await other
        taken.clear()
        call = group.spawn(link.request("GET", "/api/diff/x", kind=CallKind.CLONE), name="call")
        await until(taken.is_set)
        await asyncio.sleep(0.05)
        assert not call.done()
        drop.set()
        async with asyncio.timeout(5):
            with pytest.raises(HostUnavailable) as info:
                await call
        assert info.value.message == (
            "host gpu-box stopped answering (the host closed the connection)"
        )
        assert link.state is not LinkState.CONNECTED
        # and a request while it is not connected is refused at once
        with pytest.raises(HostUnavailable, match="offline"):
            await link.request("GET", "/api/diff/x", kind=CallKind.QUICK)
        never.set()
        await group.close()


def test_a_hosts_deadlines_come_from_its_config_message() -> None:
    assert HostLimits() == HostLimits(clone=300.0, git=30.0)
    limits = HostLimits.from_config(
        {"sessions": {"git_clone_timeout_ms": 60000, "git_status_timeout_ms": 5000}}
    )
    assert limits == HostLimits(clone=60.0, git=5.0)
    assert limits.read_timeout(CallKind.CLONE) == 60 + 5 + 30
    assert limits.read_timeout(CallKind.SNAPSHOT) == 5 + 120 + 30  # the host's snapshot floor
    assert limits.read_timeout(CallKind.GIT) == 5 + 30
    assert limits.read_timeout(CallKind.QUICK) == 30
    for odd in (None, "x", {"sessions": []}, {"sessions": {"git_clone_timeout_ms": True}}):
        assert HostLimits.from_config(odd) == HostLimits()
    assert HostLimits.from_config({"sessions": {"git_status_timeout_ms": -1}}) == HostLimits()


async def test_a_connection_cut_without_a_close_frame_is_said_in_plain_words() -> None:
    async def host(ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "sessions", "seq": 1, "workspaces": []}))
        await asyncio.sleep(0.1)
        ws.transport.abort()  # a host whose machine went away: no close frame

    async with serve(host, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        link = link_to(f"http://127.0.0.1:{port}", Clock(), [])
        group = TaskGroup()
        group.spawn(link.run(), name="link")
        await until(lambda: link.state is LinkState.CONNECTED)
        await until(lambda: link.state is not LinkState.CONNECTED)
        await group.close()
    assert link.error == "the connection dropped"  # not websockets' "no close frame received"
