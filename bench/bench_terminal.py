"""Keystroke → echo through /ws/terminal (issue 5 target: p50 ≤ 50 ms).

    python bench/bench_terminal.py [--keys 200]

Starts a real ``--serve`` with a ``bash`` session, opens its terminal socket, then sends one
printable key at a time and waits until the echo comes back in an ``append``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
import websockets
from common import BenchServer, summary


async def measure(s: BenchServer, keys: int) -> list[float]:
    async with httpx.AsyncClient(base_url=s.base, headers=s.headers) as http:
        r = await http.post(
            "/api/spawn", json={"workspace_id": "proj-001", "targets": {"shell": 1}}
        )
        sid = r.json()[0]["session_id"]
    await asyncio.sleep(1.0)
    url = s.base.replace("http://", "ws://") + f"/ws/terminal/{sid}"
    lat: list[float] = []
    async with websockets.connect(url, additional_headers=s.headers, max_size=None) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "full"
        for i in range(keys):
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
    return lat


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--keys", type=int, default=200)
    a = p.parse_args()
    s = BenchServer(
        workspaces=1,
        config={
            "run_targets": [
                {"name": "shell", "type": "command", "command": "bash --norc --noprofile"}
            ]
        },
    )
    s.prepare()
    try:
        s.start()
        s.adopt_and_spawn()
        lat = asyncio.run(measure(s, a.keys))
        print(f"keystroke → echo: {summary(lat)}   (target p50 ≤ 50 ms)")
    finally:
        s.stop()


if __name__ == "__main__":
    main()
