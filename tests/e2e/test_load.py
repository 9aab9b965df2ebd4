"""Load held (issue 7): many clients, steady mutations, minutes long; no lost update, no leak.

Marked ``slow``; CI runs it. ``SCHMUX_LOAD_SECONDS`` shortens it for a quick local look.
Figures are printed (run with ``-s``) and recorded in docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.helpers import Server, git

pytestmark = [pytest.mark.slow, pytest.mark.asyncio, pytest.mark.timeout(1200)]

SEQ = re.compile(rb'^\{"type":"(\w+)","seq":(\d+)')


class Counter:
    """A lightweight client: keeps only the last sessions message (raw) and its seq."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.last_sessions: bytes = b""
        self.messages = 0
        self.ws: Any = None
        self.task: Any = None

    async def start(self) -> None:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=None)
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                data = raw.encode() if isinstance(raw, str) else raw
                self.messages += 1
                if data.startswith(b'{"type":"sessions"'):
                    self.last_sessions = data
        except websockets.ConnectionClosed:
            pass

    def workspaces(self) -> Any:
        return json.loads(self.last_sessions)["workspaces"] if self.last_sessions else None

    async def stop(self) -> None:
        await self.ws.close()
        await self.task


def prepare_workspaces(srv: Server, n: int) -> None:
    bare = srv.data_dir / "repos" / "proj.git"
    with srv.client() as c:  # one real spawn creates the bare clone
        r = c.post("/api/spawn", json={"repo": "proj", "branch": "seed", "targets": {"sleeper": 1}})
        r.raise_for_status()
    for i in range(2, n + 1):
        git(
            bare,
            "worktree",
            "add",
            "-q",
            "-b",
            f"load-{i}",
            str(srv.data_dir / "workspaces" / f"proj-{i:03d}"),
            "origin/main",
        )
    with srv.client() as c:
        c.post("/api/workspaces/scan").raise_for_status()
        for w in c.get("/api/sessions").json():
            if not w["sessions"]:
                c.post(
                    "/api/spawn", json={"workspace_id": w["id"], "targets": {"sleeper": 1}}
                ).raise_for_status()


async def test_200_clients_steady_mutations_no_lost_update_memory_flat(
    make_server: Callable[..., Server],
) -> None:
    seconds = float(os.environ.get("SCHMUX_LOAD_SECONDS", "300"))
    srv = make_server()
    prepare_workspaces(srv, 100)
    url = srv.ws_base + "/ws/dashboard"
    clients = [Counter(url, srv.headers) for _ in range(200)]
    for i in range(0, 200, 25):
        await asyncio.gather(*(c.start() for c in clients[i : i + 25]))
    rng = random.Random(7)
    latencies: list[float] = []
    rss: list[float] = []
    async with httpx.AsyncClient(base_url=srv.base, headers=srv.write_headers, timeout=30) as http:
        ids = [s["id"] for w in (await http.get("/api/sessions")).json() for s in w["sessions"]]
        assert len(ids) == 100
        probe = clients[0]
        pending: list[tuple[bytes, float]] = []  # sampled changes not yet seen by the probe

        async def watch_probe() -> None:
            while True:
                now = time.monotonic()
                for item in list(pending):
                    if item[0] in probe.last_sessions:
                        latencies.append(now - item[1])
                        pending.remove(item)
                await asyncio.sleep(0.002)

        watcher = asyncio.get_running_loop().create_task(watch_probe())
        t_end = time.monotonic() + seconds
        next_rss = time.monotonic()
        failures: list[str] = []

        async def mutate(i: int) -> None:
            sid = rng.choice(ids)
            op = rng.random()
            sent = time.monotonic()
            if op < 0.6:
                r = await http.put(f"/api/sessions-nickname/{sid}", json={"nickname": f"n{i}"})
                marker = f'"nickname":"n{i}"'.encode()
            elif op < 0.85:
                r = await http.post(
                    f"/api/sessions/{sid}/nudge", json={"state": "Needs Input", "summary": f"s{i}"}
                )
                marker = f'"nudge_summary":"s{i}"'.encode()
            else:
                r = await http.delete(f"/api/sessions/{sid}/nudge")
                marker = b""
            if r.status_code != 200:
                failures.append(r.text)
            if marker and i % 10 == 0:  # sample change → push latency at one client
                pending.append((marker, sent))

        inflight: set[asyncio.Task[None]] = set()
        i = 0
        tick = time.monotonic()
        while time.monotonic() < t_end:  # one mutation every 50 ms, not waiting for answers
            task = asyncio.get_running_loop().create_task(mutate(i))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            if time.monotonic() >= next_rss:
                rss.append((await http.get("/api/stats")).json()["rss_mb"])
                next_rss += max(1.0, seconds / 30)
            i += 1
            tick += 0.05
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        if inflight:
            await asyncio.gather(*inflight)
        assert not failures, failures[:3]
        last_change = time.monotonic()
        truth = (await http.get("/api/sessions")).json()
        # every client converges on the final state within the debounce window (+ margin)
        deadline = last_change + 5
        while time.monotonic() < deadline and any(c.workspaces() != truth for c in clients):
            await asyncio.sleep(0.05)
        behind = sum(c.workspaces() != truth for c in clients)
        watcher.cancel()
        converged_after = time.monotonic() - last_change
        stats = (await http.get("/api/stats")).json()
    for c in clients:
        await c.stop()
    latencies.sort()
    third = max(1, len(rss) // 3)
    first, last = statistics.mean(rss[:third]), statistics.mean(rss[-third:])
    report = {
        "seconds": seconds,
        "mutations": i,
        "clients": len(clients),
        "workspaces": 100,
        "lost_updates_clients": behind,
        "converged_after_s": round(converged_after, 3),
        "push_latency_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
        "push_latency_p99_ms": round(1000 * latencies[int(len(latencies) * 0.99) - 1], 1),
        "rss_first_third_mb": round(first, 1),
        "rss_last_third_mb": round(last, 1),
        "rss_max_mb": max(rss),
        "pushes": stats["pushes"],
    }
    print("\nLOAD", json.dumps(report))
    Path(os.environ.get("SCHMUX_LOAD_REPORT", "/tmp/schmux-load-report.json")).write_text(
        json.dumps(report, indent=2)
    )
    assert behind == 0, f"{behind} clients never got the final state"
    assert converged_after <= 2.0  # window 0.5 s + the last in-flight requests + 200 deliveries
    assert last <= first * 1.15 + 5, f"memory grew: {first:.1f} → {last:.1f} MB"


async def test_1000_connects_and_disconnects_leak_nothing(
    make_server: Callable[..., Server],
) -> None:
    # Hypercorn keeps a closed socket's ping task (and so its connection task) until the next
    # ping is due; a short ping interval lets the test tell that lag from a real leak.
    srv = make_server({"server": {"websocket_ping_interval_ms": 1000}})
    srv.spawn(repo="proj", branch="main", targets={"sleeper": 1})
    async with httpx.AsyncClient(base_url=srv.base, headers=srv.write_headers) as http:
        await asyncio.sleep(0.5)
        before = (await http.get("/api/stats")).json()

        async def one(k: int) -> None:
            async with websockets.connect(
                srv.ws_base + "/ws/dashboard", additional_headers=srv.headers
            ) as ws:
                await ws.recv()
                if k % 3 == 0:
                    await ws.recv()  # some read both greetings, some leave at once

        for batch in range(0, 1000, 50):
            await asyncio.gather(*(one(k) for k in range(batch, batch + 50)))
        # abrupt disconnects too: TCP closed without a close frame
        for _ in range(50):
            ws = await websockets.connect(
                srv.ws_base + "/ws/dashboard", additional_headers=srv.headers
            )
            ws.transport.abort()
        await asyncio.sleep(3.5)
    # A new connection: the first one sat idle past the server's keep-alive timeout, and reusing
    # it races the server's close ("Server disconnected without sending a response").
    async with httpx.AsyncClient(base_url=srv.base, headers=srv.write_headers) as http:
        after = (await http.get("/api/stats")).json()
    print("\nCHURN", json.dumps({"before": before, "after": after}))
    assert after["dashboard_clients"] == 0
    assert after["asyncio_tasks"] <= before["asyncio_tasks"] + 3
    assert after["open_fds"] <= before["open_fds"] + 3
