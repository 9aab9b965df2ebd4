"""Server-level benchmarks. Prints figures; docs/PERFORMANCE.md has the targets and the results.

python bench/bench_server.py start      # --serve start → healthz 200 (repeated)
python bench/bench_server.py idle       # 100 workspaces: RSS, pushes and CPU over 60 s idle
python bench/bench_server.py spawn      # spawn into an existing workspace → sessions push
python bench/bench_server.py branch     # spawn on a new branch (new worktree) → sessions push
python bench/bench_server.py clone      # the first spawn of a repo (clone) → sessions push
python bench/bench_server.py burst      # changes 50 ms apart → final state at every client
python bench/bench_server.py fanout     # 200 clients, 100 ws × 3 sessions: one change → all
python bench/bench_server.py all
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import time
from pathlib import Path

import httpx
from common import ROOT, BenchServer, RawWatcher, Watcher, compile_sources, summary


def bench_start(repeat: int, python: str) -> None:
    times = []
    for _ in range(repeat):
        s = BenchServer(python=python)
        s.prepare()
        try:
            times.append(s.start())
        finally:
            s.stop()
    print(f"start → healthz 200 ({python}): {summary(times)}   (target ≤ 500 ms)")


def bench_idle(seconds: float) -> None:
    s = BenchServer(workspaces=100)
    s.prepare()
    try:
        s.start()
        s.adopt_and_spawn()
        time.sleep(3)  # let the first passes settle

        async def run() -> tuple[int, float, float]:
            w = Watcher(s.base, s.headers)
            await w.connect()
            await asyncio.sleep(0.5)
            before = len(w.got)
            cpu0, t0 = s.cpu_seconds(), time.perf_counter()
            await asyncio.sleep(seconds)
            cpu = (s.cpu_seconds() - cpu0) / (time.perf_counter() - t0)
            pushes = len(w.got) - before
            await w.close()
            return pushes, cpu, s.rss_mb()

        pushes, cpu, rss = asyncio.run(run())
        print(
            f"idle {seconds:.0f} s with 100 workspaces: pushes={pushes} (target 0), "
            f"CPU={cpu * 100:.2f}% (target < 0.5%), RSS={rss:.1f} MB (target ≤ 80 MB)"
        )
    finally:
        s.stop()


def bench_spawn(n: int, others: int, against: Path | None = None) -> None:
    """With ``others`` sessions already running (the usual case: several agents at once; tmux
    commands then go over the control client attached to one of them) or none. With
    ``against`` (another checkout) both servers run at once and the spawns alternate."""
    codes = [ROOT] + ([against] if against is not None else [])
    servers = [BenchServer(workspaces=1, sessions_per_workspace=others, code=c) for c in codes]
    try:
        for s in servers:
            s.prepare()
            s.start()
            s.adopt_and_spawn()

        async def run() -> list[list[float]]:
            watchers = [Watcher(s.base, s.headers) for s in servers]
            clients = [httpx.AsyncClient(base_url=s.base, headers=s.headers) for s in servers]
            for w in watchers:
                await w.connect()
            out: list[list[float]] = [[] for _ in servers]
            for _ in range(n):
                for k, (w, c) in enumerate(zip(watchers, clients, strict=True)):
                    await asyncio.sleep(1.1)  # a quiet window (> debounce) before each spawn
                    since = len(w.got)
                    t0 = time.perf_counter()
                    r = await c.post(
                        "/api/spawn", json={"workspace_id": "proj-001", "targets": {"sleeper": 1}}
                    )
                    sid = r.json()[0]["session_id"]
                    t1 = await w.when(
                        lambda ws, sid=sid: any(x["id"] == sid for x in ws[0]["sessions"]), since
                    )
                    out[k].append(t1 - t0)
                    await c.post(f"/api/dispose/{sid}", json={})
            for w in watchers:
                await w.close()
            for c in clients:
                await c.aclose()
            return out

        for code, lat in zip(codes, asyncio.run(run()), strict=True):
            label = "" if against is None else f" [{code}]"
            print(
                f"spawn → push ({others} other sessions running){label}: {summary(lat)}"
                "   (target p50 ≤ 20 ms, p99 ≤ 60 ms)"
            )
    finally:
        for s in servers:
            s.stop()


def bench_spawn_new(n: int, *, clone: bool, against: Path | None = None) -> None:
    """Spawn into a NEW workspace: on a new branch off the existing clone (a new worktree), or,
    with ``clone``, the first spawn of a repo (the clone included). POST sent → the `sessions`
    push holding the session, next to the HTTP answer's own time. With ``against`` (another
    checkout, e.g. a `git worktree` of the previous commit) both servers run at once and the
    spawns alternate between them, so both see the same load on a shared machine."""
    repos = [{"name": f"c{i:02d}", "url": "ORIGIN"} for i in range(n)] if clone else None
    codes = [ROOT] + ([against] if against is not None else [])
    # clone: a fresh server whose first spawn is the first spawn after its start
    servers = [
        BenchServer(workspaces=0 if clone else 1, sessions_per_workspace=1, repos=repos, code=code)
        for code in codes
    ]
    try:
        for s in servers:
            s.prepare()
            s.start()
            s.adopt_and_spawn()

        async def one(
            s: BenchServer, w: Watcher, c: httpx.AsyncClient, i: int
        ) -> tuple[float, float]:
            since = len(w.got)
            body = {"repo": f"c{i:02d}" if clone else "proj", "branch": f"nb{i}"}
            t0 = time.perf_counter()
            r = await c.post("/api/spawn", json={**body, "targets": {"sleeper": 1}})
            answered = time.perf_counter() - t0
            r.raise_for_status()
            sid, wid = r.json()[0]["session_id"], r.json()[0]["workspace_id"]
            t1 = await w.when(
                lambda ws, sid=sid: any(x["id"] == sid for wk in ws for x in wk["sessions"]),
                since,
            )
            await c.post(f"/api/dispose/{sid}", json={})
            (await c.post(f"/api/dispose-workspace/{wid}", json={})).raise_for_status()
            return t1 - t0, answered

        async def run() -> list[tuple[list[float], list[float]]]:
            out: list[tuple[list[float], list[float]]] = [([], []) for _ in servers]
            watchers = [Watcher(s.base, s.headers) for s in servers]
            clients = [
                httpx.AsyncClient(base_url=s.base, headers=s.headers, timeout=60) for s in servers
            ]
            for w in watchers:
                await w.connect()
            for i in range(n):
                for k in range(len(servers)):
                    await asyncio.sleep(1.1)  # a quiet window (> debounce) before each spawn
                    lat, answer = await one(servers[k], watchers[k], clients[k], i)
                    out[k][0].append(lat)
                    out[k][1].append(answer)
            for w in watchers:
                await w.close()
            for c in clients:
                await c.aclose()
            return out

        results = asyncio.run(run())
        what = "first spawn of a repo (clone)" if clone else "spawn on a new branch (worktree)"
        target = "≤ 200 ms" if clone else "p50 ≤ 60 ms"
        for code, (lat, answer) in zip(codes, results, strict=True):
            label = "" if against is None else f" [{code}]"
            print(f"{what} → push{label}: {summary(lat)}   (target {target})")
            print(f"  its HTTP answer: {summary(answer)}")
    finally:
        for s in servers:
            s.stop()


def bench_burst(rounds: int) -> None:
    s = BenchServer(workspaces=1, sessions_per_workspace=1)
    s.prepare()
    try:
        s.start()
        s.adopt_and_spawn()

        async def run() -> list[float]:
            clients = [Watcher(s.base, s.headers) for _ in range(3)]
            for c in clients:
                await c.connect()
            late = []
            async with httpx.AsyncClient(base_url=s.base, headers=s.headers) as http:
                sid = (await http.get("/api/sessions")).json()[0]["sessions"][0]["id"]
                for r in range(rounds):
                    await asyncio.sleep(1.0)
                    since = [len(c.got) for c in clients]
                    for i in range(10):
                        name = f"r{r}-{i}"
                        await http.put(f"/api/sessions-nickname/{sid}", json={"nickname": name})
                        t_last = time.perf_counter()
                        if i < 9:
                            await asyncio.sleep(0.05)
                    for c, k in zip(clients, since, strict=True):
                        t = await c.when(
                            lambda ws, n=name: ws[0]["sessions"][0]["nickname"] == n, k
                        )
                        late.append(t - t_last)
            for c in clients:
                await c.close()
            return late

        late = asyncio.run(run())
        print(
            f"burst 50 ms apart, last change → final state at every client: {summary(late)}   (target ≤ window 500 + 50 ms, 0 lost)"
        )
    finally:
        s.stop()


def _stall(base: str, token: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(
        (
            f"GET /ws/dashboard HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return sock


def bench_fanout(clients: int, rounds: int) -> None:
    s = BenchServer(workspaces=100, sessions_per_workspace=3)
    s.prepare()
    try:
        s.start()
        s.adopt_and_spawn()
        time.sleep(2)

        async def run(stalled: int) -> list[float]:
            ws = [RawWatcher(s.base, s.token) for _ in range(clients)]
            for w in ws:
                await w.connect()
            stall = [_stall(s.base, s.token) for _ in range(stalled)]
            await asyncio.sleep(1.0)
            lat: list[float] = []
            async with httpx.AsyncClient(base_url=s.base, headers=s.headers) as http:
                sid = (await http.get("/api/sessions")).json()[0]["sessions"][0]["id"]
                for r in range(rounds):
                    await asyncio.sleep(0.7)
                    name = f"f{stalled}-{r}"
                    marker = f'"nickname":"{name}"'.encode()
                    for w in ws:
                        w.watch.append(marker)
                    t0 = time.perf_counter()
                    await http.put(f"/api/sessions-nickname/{sid}", json={"nickname": name})
                    for w in ws:
                        lat.append(await w.when(marker) - t0)
            for w in ws:
                await w.close()
            for sk in stall:
                sk.close()
            return lat

        base = asyncio.run(run(0))
        print(
            f"{clients} clients, 100 ws × 3 sessions, one change → all clients: {summary(base)}   (target p99 ≤ 100 ms)"
        )
        stalled = asyncio.run(run(1))
        print(
            f"  same with one stalled client: {summary(stalled)}; p50 delta {1000 * (statistics.median(stalled) - statistics.median(base)):+.1f} ms (target ≤ 5 ms)"
        )
    finally:
        s.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "what", choices=["start", "idle", "spawn", "branch", "clone", "burst", "fanout", "all"]
    )
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--idle-seconds", type=float, default=60)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the server of `start`, e.g. a fresh venv's (`pip install .`)",
    )
    p.add_argument(
        "--against",
        type=Path,
        help="spawn/branch/clone: another checkout run side by side (spawns alternate)",
    )
    a = p.parse_args()
    compile_sources()
    if a.what in ("start", "all"):
        bench_start(a.repeat, a.python)
    if a.what in ("spawn", "all"):
        bench_spawn(max(a.repeat, 50), others=1, against=a.against)
        bench_spawn(max(a.repeat, 50), others=0, against=a.against)
    if a.what in ("branch", "all"):
        bench_spawn_new(max(a.repeat, 12), clone=False, against=a.against)
    if a.what in ("clone", "all"):
        bench_spawn_new(max(a.repeat, 12), clone=True, against=a.against)
    if a.what in ("burst", "all"):
        bench_burst(a.repeat)
    if a.what in ("fanout", "all"):
        bench_fanout(a.clients, a.repeat)
    if a.what in ("idle", "all"):
        bench_idle(a.idle_seconds)


if __name__ == "__main__":
    main()
