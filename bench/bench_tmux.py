"""Commands over the tmux control client: one at a time, and many at once.

    python bench/bench_tmux.py [--commands 2000] [--rounds 5] [--against CHECKOUT]

Starts a private tmux server with one session, attaches the app's control client
(``backend.tmux.Tmux``) and times ``display-message -p`` round trips: one after another (the
latency of a keystroke's ``send-keys``), and 300 at once (a burst). With ``--against`` the
same is run with another checkout's ``backend`` in turns, so both see the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, summary


async def inner(commands: int) -> dict[str, list[float]]:
    sys.path.insert(0, os.getcwd())  # the checkout under test
    from backend.tmux import Tmux

    d = Path(tempfile.mkdtemp(prefix="sxt", dir="/tmp"))
    t = Tmux(d / "tmux.sock", d / "tmux.conf", timeout=5.0)
    t.write_conf()
    subprocess.run(
        ["tmux", "-S", str(t.socket), "-f", str(t.conf), "new-session", "-d", "-s", "schmux-b"],
        check=True,
    )
    try:
        assert await t.start_control()
        one: list[float] = []
        for _ in range(commands):
            t0 = time.perf_counter()
            await t.run("display-message", "-p", "x")
            one.append(time.perf_counter() - t0)
        burst: list[float] = []
        for _ in range(10):
            t0 = time.perf_counter()
            await asyncio.gather(*(t.run("display-message", "-p", "x") for _ in range(300)))
            burst.append(time.perf_counter() - t0)
        return {"one": one, "burst": burst}
    finally:
        t.close()
        subprocess.run(["tmux", "-S", str(t.socket), "kill-server"], capture_output=True)
        subprocess.run(["rm", "-rf", str(d)])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--commands", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--against", type=Path)
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.inner:
        print(json.dumps(asyncio.run(inner(a.commands))))
        return
    codes = [ROOT] + ([a.against] if a.against is not None else [])
    got: dict[Path, dict[str, list[float]]] = {c: {"one": [], "burst": []} for c in codes}
    for _ in range(a.rounds):
        for code in codes:
            out = subprocess.run(
                [sys.executable, __file__, "--inner", "--commands", str(a.commands)],
                cwd=code, check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            for k, v in json.loads(out).items():
                got[code][k] += v
    for code in codes:
        label = "" if a.against is None else f" [{code}]"
        print(f"one command{label}: {summary(got[code]['one'], 'µs', 1e6)}")
        print(f"300 at once{label}: {summary(got[code]['burst'])}")


if __name__ == "__main__":
    main()
