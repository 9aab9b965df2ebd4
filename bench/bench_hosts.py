"""Benchmarks of hosts (docs/API.md#hosts); docs/PERFORMANCE.md has the targets and results.

``link`` (the default): a change on a host → the aggregating server's clients (target: p50 ≤
10 ms after the host's own push reached its own client), and a killed host → shown offline.
Starts a real ``--serve`` host and a real aggregating ``--serve`` configured with it, a
dashboard client on each; sets a nudge on the host (straight to the host's API) and times when
each client sees it. Then kills the host and times the ``hosts`` message saying so.

``scale``: 10 real ``--serve`` hosts, each with 100 workspaces (real worktrees adopted by a
scan) and a ``sleep`` session in each (``--sessions``), and an aggregating ``--serve`` with 50
dashboard clients (target: one change on a host → all 50 clients, p99 ≤ 150 ms). Each round
sets a nudge on one host (the hosts take turns) and times, for that change, the host's own
dashboard client and each of the 50 aggregating clients; then states the aggregating server's
memory per host at that size.

    python bench/bench_hosts.py [link] [--changes 50] [--gap 0.3]
    python bench/bench_hosts.py scale [--hosts 10] [--workspaces 100] [--sessions 1]
                                      [--clients 50] [--deflate 0] [--changes 100] [--gap 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BenchServer, RawWatcher, compile_sources, summary  # noqa: E402
from schmux_desktop.heap import tune_malloc  # noqa: E402
from tests.helpers import DashboardClient, Server, all_sessions, make_repo, short_tmp  # noqa: E402

TARGETS = [{"name": "sleeper", "type": "command", "command": "sleep 600"}]


def nudge(workspaces: list[dict[str, Any]], session_id: str) -> str:
    return str(all_sessions(workspaces)[session_id]["nudge_state"])


async def run(changes: int, gap: float) -> None:
    root = short_tmp("hb")
    repo = make_repo(root / "origin")
    host = Server(data_dir=root / "host", token="host-token-0123456789")
    host.write_config({"repos": [{"name": "proj", "url": str(repo)}], "run_targets": TARGETS})
    host.start()
    local = Server(data_dir=root / "local", token="local-token-0123456789")
    local.write_config({"hosts": [{"name": "gpu", "url": host.base, "token": host.token}]})
    local.start()
    try:
        sid = host.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]["session_id"]
        far = f"gpu:{sid}"
        delays: list[float] = []
        async with DashboardClient(host) as near, DashboardClient(local) as agg:
            await agg.wait(lambda ws: far in all_sessions(ws))
            with host.client() as c:
                for i in range(changes):
                    state = f"Needs Input {i}"
                    c.post(f"/api/sessions/{sid}/nudge", json={"state": state})
                    t_host = await near.wait(lambda ws, s=state: nudge(ws, sid) == s)
                    t_agg = await agg.wait(lambda ws, s=state: nudge(ws, far) == s)
                    delays.append(t_agg - t_host)
                    await asyncio.sleep(gap)
            print(f"host push → aggregating server's client: {summary(delays)}")
            # memory per host: ten more links (to the same host, under other names)
            with local.client() as c:
                before = c.get("/api/stats").json()["rss_mb"]
                more = [
                    {"name": f"gpu{i}", "url": host.base, "token": host.token} for i in range(10)
                ]
                first = c.get("/api/config").json()["hosts"]
                c.post("/api/config", json={"hosts": first + more})
                await agg.wait(lambda ws: sum(w["host"] != "" for w in ws) >= 11)
                after = c.get("/api/stats").json()["rss_mb"]
                c.post("/api/config", json={"hosts": first})
            print(f"memory: {before} MB with 1 host, {after} MB with 11 (1 workspace each)")
            killed = time.monotonic()
            host.stop(signal.SIGKILL)
            seen: dict[str, float] = {}
            while "offline" not in seen and time.monotonic() - killed < 30:
                for arrived, m in agg.messages:
                    state = m["hosts"][0]["state"] if m.get("type") == "hosts" else ""
                    if state in ("reconnecting", "offline") and arrived >= killed:
                        seen.setdefault(state, arrived - killed)
                await asyncio.sleep(0.01)
            print(
                "killed host: "
                + ", ".join(f"{state} after {t * 1000:.0f} ms" for state, t in seen.items())
            )
    finally:
        local.stop()
        host.stop()
        host.kill_tmux()
        shutil.rmtree(root, ignore_errors=True)


class FrameWatcher(RawWatcher):
    """A ``RawWatcher`` that reads whole frames: it answers the server's pings (so a long run is
    never dropped as silent) and, with ``deflate``, offers ``permessage-deflate`` as browsers do
    and inflates what it gets, so the server compresses every push for it as it would for a
    browser (when the server takes the offer)."""

    def __init__(self, base: str, token: str, *, deflate: bool = False) -> None:
        super().__init__(base, token)
        self.deflate = deflate
        self.deflated = False  # the server took the offer

    async def connect(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if self.deflate else ""
        writer.write(
            (
                f"GET /ws/dashboard HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"{offer}Authorization: Bearer {self.token}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head[:200]
        # The server may refuse the offer (schmux_desktop/wscompression.py): then plain frames.
        self.deflated = self.deflate and b"permessage-deflate" in head.lower()
        self.writer = writer
        self.task = asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buf = bytearray()
        parts: list[bytes] = []
        compressed = False
        inflate = zlib.decompressobj(-15)
        while True:
            chunk = await reader.read(1 << 20)
            if not chunk:
                return
            buf += chunk
            while len(buf) >= 2:
                length, offset = buf[1] & 0x7F, 2
                if length == 126:
                    length, offset = int.from_bytes(buf[2:4], "big"), 4
                elif length == 127:
                    length, offset = int.from_bytes(buf[2:10], "big"), 10
                if len(buf) < offset + length:
                    break
                first, opcode = buf[0], buf[0] & 0x0F
                payload = bytes(buf[offset : offset + length])
                del buf[: offset + length]
                if opcode == 0x9:  # ping: a masked pong with the same payload (≤ 125 bytes)
                    assert self.writer is not None
                    self.writer.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                    continue
                if opcode in (0x1, 0x2):
                    parts, compressed = [], bool(first & 0x40)
                if opcode not in (0x0, 0x1, 0x2):
                    continue
                parts.append(payload)
                if not first & 0x80:
                    continue
                data = b"".join(parts)
                if compressed:
                    data = inflate.decompress(data + b"\x00\x00\xff\xff")
                now = time.perf_counter()
                for m in self.watch:
                    if m not in self.arrivals and m in data:
                        self.arrivals[m] = now


async def scale(
    n_hosts: int,
    n_ws: int,
    n_sess: int,
    n_clients: int,
    changes: int,
    gap: float,
    deflate: int,
    profile: str = "",
) -> None:
    """``deflate``: how many of the ``n_clients`` offer permessage-deflate (as browsers do)."""
    hosts = [BenchServer(workspaces=n_ws, sessions_per_workspace=n_sess) for _ in range(n_hosts)]
    local: BenchServer | None = None
    pool = concurrent.futures.ThreadPoolExecutor(4)
    loop = asyncio.get_running_loop()
    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(loop.run_in_executor(pool, h.prepare) for h in hosts))
        for h in hosts:
            h.start()
        await asyncio.gather(*(loop.run_in_executor(pool, h.adopt_and_spawn) for h in hosts))
        print(
            f"{n_hosts} hosts × {n_ws} workspaces × {n_sess} sessions ready in "
            f"{time.perf_counter() - t0:.0f} s; host RSS {min(h.rss_mb() for h in hosts):.0f}–"
            f"{max(h.rss_mb() for h in hosts):.0f} MB"
        )
        local = BenchServer()
        local.prepare()
        local.start()
        entries = [{"name": f"h{i}", "url": h.base, "token": h.token} for i, h in enumerate(hosts)]
        rss: list[float] = []  # with no host, one, all: the first link loads the client code
        async with httpx.AsyncClient(base_url=local.base, headers=local.headers) as http:
            for count in (0, 1, n_hosts):
                (await http.post("/api/config", json={"hosts": entries[:count]})).raise_for_status()
                while len((await http.get("/api/sessions")).json()) < count * n_ws:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                await asyncio.sleep(3.0)  # the pushes of the hosts' first status passes settle
                rss.append(local.rss_mb())
            sids = []
            for h in hosts:
                async with httpx.AsyncClient(base_url=h.base, headers=h.headers) as c:
                    first = (await c.get("/api/sessions")).json()[0]
                    sids.append(first["sessions"][0]["id"])
            size = len((await http.get("/api/sessions")).content)
        total = n_hosts * n_ws
        per_host = (rss[2] - rss[1]) / max(1, n_hosts - 1)
        print(
            f"aggregating server: {total} workspaces, payload {size / 1e6:.2f} MB; RSS "
            f"{rss[0]:.1f} MB with no host, {rss[1]:.1f} MB with 1, {rss[2]:.1f} MB with "
            f"{n_hosts}: {per_host:.1f} MB per host of {n_ws} workspaces"
        )
        near = [FrameWatcher(h.base, h.token) for h in hosts]
        far = [FrameWatcher(local.base, local.token, deflate=i < deflate) for i in range(n_clients)]
        for w in near + far:
            await w.connect()
        await asyncio.sleep(2.0)
        rss_clients = local.rss_mb()
        spy = None
        if profile:  # py-spy (pip install py-spy) samples the aggregating server meanwhile
            spy = subprocess.Popen(  # noqa: ASYNC220
                ["py-spy", "record", "-p", str(local.proc.pid if local.proc else 0), "-o", profile, "-r", "200",
                 "-f", "speedscope" if profile.endswith(".json") else "flamegraph"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1.0)
        cpu0, own0 = local.cpu_seconds(), time.process_time()
        via_host: list[float] = []  # the host's own client saw it → the last aggregating client
        from_post: list[float] = []  # the POST → the last aggregating client
        every: list[float] = []  # the POST → each aggregating client
        host_own: list[float] = []  # the POST → the host's own client
        clients = [httpx.AsyncClient(base_url=h.base, headers=h.headers) for h in hosts]
        try:
            for r in range(changes):
                k = r % n_hosts
                marker = f'"nudge_summary":"scale-{r}"'.encode()
                for w in (near[k], *far):
                    w.watch.append(marker)
                start = time.perf_counter()
                answer = await clients[k].post(
                    f"/api/sessions/{sids[k]}/nudge",
                    json={"state": "Needs Input", "summary": f"scale-{r}"},
                )
                answer.raise_for_status()
                t_host = await near[k].when(marker)
                seen = [await w.when(marker) for w in far]
                host_own.append(t_host - start)
                via_host.append(max(seen) - t_host)
                from_post.append(max(seen) - start)
                every.extend(t - start for t in seen)
                await asyncio.sleep(gap)
        finally:
            for c in clients:
                await c.aclose()
        cpu, own = local.cpu_seconds() - cpu0, time.process_time() - own0
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
            print(f"profile of the aggregating server: {profile}")
        print(
            f"{n_clients} clients ({deflate} of them offered permessage-deflate, "
            f"{sum(w.deflated for w in far)} got it), {n_hosts} hosts × "
            f"{n_ws} workspaces; one change on a host:"
        )
        print(f"  POST → the host's own client:            {summary(host_own)}")
        print(f"  host's own client → last of {n_clients} clients: {summary(via_host)}")
        print(f"  POST → last of {n_clients} clients:           {summary(from_post)}"
              "   (target p99 ≤ 150 ms)")  # fmt: skip
        print(f"  POST → each client:                      {summary(every)}")
        print(
            f"  CPU per change: aggregating server {cpu / changes * 1000:.0f} ms, these "
            f"{n_clients} clients {own / changes * 1000:.0f} ms; aggregating server's RSS "
            f"{rss_clients:.1f} MB with the {n_clients} clients"
        )
        for w in near + far:
            await w.close()
    finally:
        pool.shutdown()
        for s in ([local] if local else []) + hosts:
            s.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="?", choices=["link", "scale"], default="link")
    ap.add_argument("--changes", type=int, help="changes timed (link: 50, scale: 100)")
    ap.add_argument("--gap", type=float, help="seconds between changes (link: 0.3, scale: 0.2)")
    ap.add_argument("--hosts", type=int, default=10, help="scale: hosts")
    ap.add_argument("--workspaces", type=int, default=100, help="scale: workspaces per host")
    ap.add_argument("--sessions", type=int, default=1, help="scale: sessions per workspace")
    ap.add_argument("--clients", type=int, default=50, help="scale: aggregating server's clients")
    ap.add_argument("--profile", default="", help="scale: py-spy output (.svg, or .json)")
    ap.add_argument(
        "--deflate", type=int, default=0, help="scale: how many clients offer permessage-deflate"
    )
    args = ap.parse_args()
    compile_sources()
    tune_malloc()  # the 50 clients here read 1.3 MB each per change, as the server sends them
    if args.what == "link":
        asyncio.run(run(args.changes or 50, 0.3 if args.gap is None else args.gap))
    else:
        asyncio.run(
            scale(
                args.hosts, args.workspaces, args.sessions, args.clients,
                args.changes or 100, 0.2 if args.gap is None else args.gap, args.deflate, args.profile,
            )
        )  # fmt: skip


if __name__ == "__main__":
    main()
