"""Keystroke → echo through /ws/terminal (issue 5 target: p50 ≤ 50 ms).

    python bench/bench_terminal.py [--keys 200] [--against CHECKOUT]

Starts a real ``--serve`` with a ``bash`` session, opens its terminal socket, then sends one
printable key at a time and waits until the echo comes back in an ``append``. With
``--against`` (another checkout) both servers run at once and take turns, 20 keys each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from common import ROOT, BenchServer, summary


async def open_terminal(s: BenchServer) -> Any:
    async with httpx.AsyncClient(base_url=s.base, headers=s.headers) as http:
        r = await http.post(
            "/api/spawn", json={"workspace_id": "proj-001", "targets": {"shell": 1}}
        )
        sid = r.json()[0]["session_id"]
    await asyncio.sleep(1.0)
    url = s.base.replace("http://", "ws://") + f"/ws/terminal/{sid}"
    ws = await websockets.connect(url, additional_headers=s.headers, max_size=None)
    first = json.loads(await ws.recv())
    assert first["type"] == "full"
    return ws


async def keys(ws: Any, first: int, count: int, lat: list[float]) -> None:
    for i in range(first, first + count):
        ch = "abcdefghijklmnopqrstuvwxyz"[i % 26]
        t0 = time.perf_counter()
        await ws.send(json.dumps({"type": "input", "data": ch}))
        while True:
            m = json.loads(await ws.recv())
            if m["type"] == "append" and ch in m["content"]:
                break
        lat.append(time.perf_counter() - t0)
        if i % 40 == 39:
            await ws.send(json.dumps({"type": "input", "data": "\x15"}))  # clear the line
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.02)


async def measure(servers: list[BenchServer], count: int) -> list[list[float]]:
    sockets = [await open_terminal(s) for s in servers]
    lat: list[list[float]] = [[] for _ in servers]
    for first in range(0, count, 20):
        for ws, out in zip(sockets, lat, strict=True):
            await keys(ws, first, min(20, count - first), out)
    for ws in sockets:
        await ws.close()
    return lat


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=200)
    p.add_argument("--against", type=Path, help="another checkout, measured side by side")
    a = p.parse_args()
    codes = [ROOT] + ([a.against] if a.against is not None else [])
    servers = [
        BenchServer(
            workspaces=1,
            config={
                "run_targets": [
                    {"name": "shell", "type": "command", "command": "bash --norc --noprofile"}
                ]
            },
            code=code,
        )
        for code in codes
    ]
    try:
        for s in servers:
            s.prepare()
            s.start()
            s.adopt_and_spawn()
        results = asyncio.run(measure(servers, a.keys))
        for code, lat in zip(codes, results, strict=True):
            label = "" if a.against is None else f" [{code}]"
            print(f"keystroke → echo{label}: {summary(lat)}   (target p50 ≤ 50 ms)")
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    main()
