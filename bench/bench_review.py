"""Review benchmarks on a real ``--serve``:

* ``diff``: GET /api/diff of a workspace with 20 and with 1,000 changed files (half modified
  tracked files, half untracked), p50 against ≤ 50 ms / ≤ 1 s;
* ``forecast``: 20 workspaces of one repo; a file written in one of them that another already
  touches → the push whose ``conflicts`` shows the overlap (≤ 2 s), while a spawn into another
  workspace is measured at the same moment (spawn → push p50 ≤ 20 ms).

    python3 bench/bench_review.py diff|forecast|all [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
from common import BenchServer, Watcher, compile_sources, git, summary


def bench_diff(changed: int, repeat: int) -> None:
    s = BenchServer(workspaces=1)
    s.prepare()
    try:
        s.start()
        s.adopt_and_spawn()
        path = s.data / "workspaces" / "proj-001"
        tracked = changed // 2
        for i in range(tracked):
            (path / f"t{i:04}.txt").write_text("".join(f"line {j}\n" for j in range(40)))
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "tracked")
        for i in range(tracked):
            (path / f"t{i:04}.txt").write_text(
                "".join(f"line {j}{' changed' if j % 10 == 0 else ''}\n" for j in range(40))
            )
        for i in range(changed - tracked):
            (path / f"u{i:04}.txt").write_text("".join(f"new {j}\n" for j in range(30)))
        times = []
        size = 0
        with httpx.Client(base_url=s.base, headers=s.headers, timeout=60) as c:
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = c.get("/api/diff/proj-001")
                times.append(time.perf_counter() - t0)
                assert r.status_code == 200 and len(r.json()["files"]) == changed, r.text[:200]
                size = len(r.content)
        target = "≤ 50 ms" if changed <= 20 else "≤ 1 s"
        print(
            f"diff of {changed} changed files ({size / 1e6:.1f} MB answer): {summary(times)}"
            f"   (target p50 {target})"
        )
    finally:
        s.stop()


SPAWN_AFTER = 0.26


def bench_forecast(repeat: int) -> None:
    s = BenchServer(workspaces=20)
    s.prepare()
    try:
        s.start()
        s.adopt_and_spawn()
        ws = s.data / "workspaces"
        for r in range(repeat):  # what proj-020 already touches, one file per round
            (ws / "proj-020" / f"hot{r}.txt").write_text("theirs\n")

        async def run() -> tuple[list[float], list[float]]:
            w = Watcher(s.base, s.headers)
            await w.connect()
            await w.when(lambda x: True)  # the first snapshot
            forecast, spawn = [], []
            async with httpx.AsyncClient(base_url=s.base, headers=s.headers, timeout=30) as c:
                for r in range(repeat):
                    await asyncio.sleep(1.2)  # a quiet window before each round
                    since = len(w.got)
                    t0 = time.perf_counter()
                    (ws / "proj-001" / f"hot{r}.txt").write_text("mine\n")
                    # the status pass starts 0.15 s after the file event, the survey 0.1 s later:
                    # spawn while they run
                    await asyncio.sleep(SPAWN_AFTER)
                    t_spawn = time.perf_counter()
                    resp = await c.post(
                        "/api/spawn", json={"workspace_id": "proj-002", "targets": {"sleeper": 1}}
                    )
                    sid = resp.json()[0]["session_id"]
                    t_pushed = await w.when(
                        lambda x, sid=sid: any(
                            se["id"] == sid for wk in x for se in wk["sessions"]
                        ),
                        since,
                    )
                    spawn.append(t_pushed - t_spawn)
                    name = f"hot{r}.txt"
                    t1 = await w.when(
                        lambda x, name=name: any(
                            c["with"] == "proj-020" and name in c["files"]
                            for c in _conflicts(x, "proj-001")
                        ),
                        since,
                    )
                    forecast.append(t1 - t0)
                    await c.post(f"/api/dispose/{sid}", json={})
            await w.close()
            return forecast, spawn

        forecast, spawn = asyncio.run(run())
        print(
            f"conflict forecast, 20 workspaces: a file change → conflicts pushed: {summary(forecast)}   (target ≤ 2 s)"
        )
        print(f"spawn → push at the same moment: {summary(spawn)}   (target p50 ≤ 20 ms)")
    finally:
        s.stop()


def _conflicts(workspaces: list[dict[str, object]], wid: str) -> list[dict[str, list[str]]]:
    for w in workspaces:
        if w["id"] == wid:
            return w.get("conflicts", [])  # type: ignore[return-value]
    return []


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["diff", "forecast", "all"])
    p.add_argument("--repeat", type=int, default=20)
    a = p.parse_args()
    compile_sources()
    if a.what in ("diff", "all"):
        bench_diff(20, a.repeat)
        bench_diff(1000, max(5, a.repeat // 2))
    if a.what in ("forecast", "all"):
        bench_forecast(a.repeat)


if __name__ == "__main__":
    main()
