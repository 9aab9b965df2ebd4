"""The app's ssh tunnel (``backend.tunnel``) for real: the user's OpenSSH client, a real sshd on a
loopback port (``tests/sshd.py``) and a real ``--serve`` behind it in token mode."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from backend.backoff import Backoff
from backend.tasks import TaskGroup
from backend.tunnel import Tunnel, TunnelState
from tests.helpers import ROOT, Server, until, wait_for
from tests.sshd import ALIAS, WRONG_KEY_ALIAS, Sshd, processes_with, running

pytestmark = pytest.mark.asyncio


@pytest.fixture
def sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    yield from running(tmp_path, monkeypatch)


@pytest.fixture
async def tasks() -> AsyncIterator[TaskGroup]:
    group = TaskGroup()
    yield group
    await group.close()


def ssh_pids(t: Tunnel) -> list[int]:
    """Live ssh processes carrying this tunnel's forward (from /proc; zombies excluded)."""
    return processes_with(f"127.0.0.1:{t.local_port}:127.0.0.1:{t.remote_port}")


def fetch(port: int, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=10)


async def test_api_and_dashboard_socket_through_the_tunnel_and_stop_leaves_no_ssh(
    sshd: Sshd, server: Server, tasks: TaskGroup
) -> None:
    changes: list[TunnelState] = []
    t = Tunnel("lab", ALIAS, server.port, lambda: changes.append(t.state), tasks=tasks)
    await t.start()
    await until(lambda: t.state is TunnelState.UP, timeout=20)
    assert changes[:2] == [TunnelState.STARTING, TunnelState.UP]
    port = t.local_port
    assert port is not None and port != server.port

    health = await asyncio.to_thread(fetch, port, "/api/healthz", None)
    assert health.status_code == 200
    assert (await asyncio.to_thread(fetch, port, "/api/sessions", None)).status_code == 401
    sessions = await asyncio.to_thread(fetch, port, "/api/sessions", server.token)
    assert sessions.status_code == 200
    assert sessions.json() == server.sessions()  # the same server, reached through ssh

    async with websockets.connect(
        f"ws://127.0.0.1:{port}/ws/dashboard", additional_headers=server.headers
    ) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        second = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert [first["type"], second["type"]] == ["sessions", "config"]

    [pid] = ssh_pids(t)
    await t.stop()
    assert t.state is TunnelState.STOPPED and t.local_port is None
    assert changes[-1] is TunnelState.STOPPED
    assert not Path(f"/proc/{pid}").exists()  # killed and reaped: not even a zombie
    assert not processes_with(f"127.0.0.1:{port}:127.0.0.1:{server.port}")
    with pytest.raises(httpx.ConnectError):
        await asyncio.to_thread(fetch, port, "/api/healthz", None)


async def test_sshd_killed_then_back_on_its_port_the_tunnel_recovers_by_itself(
    sshd: Sshd, server: Server, tasks: TaskGroup
) -> None:
    seen: list[tuple[TunnelState, str]] = []
    t = Tunnel(
        "lab",
        ALIAS,
        server.port,
        lambda: seen.append((t.state, t.error)),
        backoff=Backoff(initial=0.2, cap=1.0),  # short waits: the test sees several tries
        tasks=tasks,
    )
    await t.start()
    await until(lambda: t.state is TunnelState.UP, timeout=20)
    first_port = t.local_port
    assert first_port is not None

    sshd.kill()  # the host goes away: listener and connections
    await until(lambda: t.state is TunnelState.RECONNECTING, timeout=20)
    assert t.local_port is None and t.error  # what ssh said as the link went
    # While sshd is down, each try fails with ssh's own words.
    await until(lambda: "Connection refused" in t.error, timeout=20)

    sshd.start()  # same port, same host key
    await until(lambda: t.state is TunnelState.UP, timeout=30)
    assert t.local_port == first_port  # the same local address again
    r = await asyncio.to_thread(fetch, first_port, "/api/sessions", server.token)
    assert r.status_code == 200
    states = [s for s, _ in seen]
    assert states.count(TunnelState.UP) == 2
    await t.stop()


async def test_a_key_the_server_refuses_is_an_error_at_once_not_a_prompt(
    sshd: Sshd, server: Server, tasks: TaskGroup
) -> None:
    t = Tunnel("lab", WRONG_KEY_ALIAS, server.port, lambda: None, tasks=tasks)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await t.start()
    await until(lambda: t.error != "", timeout=20)
    took = loop.time() - began
    assert t.state is TunnelState.RECONNECTING
    assert "Permission denied (publickey)" in t.error, t.error
    assert took < 10, took  # BatchMode: no prompt waiting for nobody
    await t.stop()
    assert t.state is TunnelState.STOPPED


async def test_a_destination_starting_with_a_dash_never_reaches_ssh(
    sshd: Sshd, tmp_path: Path
) -> None:
    flag = tmp_path / "pwned"
    with pytest.raises(ValueError, match="starts with '-'"):
        Tunnel("lab", f"-oProxyCommand=touch {flag}", 8765, lambda: None)
    assert not flag.exists()


# A tunnel in a separate process, as the app would hold it; it prints the local port once up.
HOLDER = textwrap.dedent(
    """
    import asyncio, sys
    from backend.tunnel import Tunnel, TunnelState

    async def main() -> None:
        t = Tunnel("lab", sys.argv[1], int(sys.argv[2]), lambda: None)
        await t.start()
        while t.state is not TunnelState.UP:
            await asyncio.sleep(0.02)
        print(t.local_port, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def start_holder(destination: str, remote_port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, destination, str(remote_port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),  # SCHMUX_SSH_COMMAND included
    )


async def test_an_app_that_crashes_leaves_no_ssh_behind(sshd: Sshd, server: Server) -> None:
    holder = start_holder(ALIAS, server.port)
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 30)
        port = int(line)
        forward = f"127.0.0.1:{port}:127.0.0.1:{server.port}"
        assert len(processes_with(forward)) == 1
        assert (await asyncio.to_thread(fetch, port, "/api/healthz", None)).status_code == 200
        holder.send_signal(signal.SIGKILL)  # no stop(), no cleanup of any kind
        holder.wait()
        wait_for(lambda: not processes_with(forward), timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
