"""Benchmark: a change on a host → the aggregating server's clients (target: p50 ≤ 10 ms after
the host's own push reached its own client), and a killed host → shown offline.

Starts a real ``--serve`` host and a real aggregating ``--serve`` configured with it, a
dashboard client on each; sets and clears a nudge on the host (straight to the host's API) and
times when each client sees it. Then kills the host and times the ``hosts`` message saying so.

    python bench/bench_hosts.py [--changes 50] [--gap 0.3]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import summary  # noqa: E402
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--changes", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.3, help="seconds between changes")
    args = ap.parse_args()
    asyncio.run(run(args.changes, args.gap))


if __name__ == "__main__":
    main()
