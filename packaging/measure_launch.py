"""Measure the desktop app under a private Xvfb: launch → dashboard painted, memory, close time.

    python packaging/measure_launch.py [--runs 7] [--app dist/schmux-desktop/schmux-desktop]

"Painted" means the main window's page has rendered the first ``sessions`` push (the dashboard's
"Waiting for the first update" line is hidden): a promise evaluated in the page over QtWebEngine's
DevTools port checks every animation frame and reports the wall-clock time it saw it (the probe
itself polls nothing from outside, so it does not steal the CPU it measures). Runs reuse one data dir (made by a warm-up run with ``--demo``), as a user's launches do.
Memory is the whole process tree (the app and QtWebEngine's helpers): PSS summed from
``/proc/PID/smaps_rollup`` (shared pages counted once) and RSS summed, 3 s after painting.
Prints each run and the medians.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Resolves, inside the page, with the wall-clock time of the first frame in which the dashboard
# shows the first sessions push (checked every animation frame, so the probe costs nothing).
PAINTED = """new Promise((resolve) => {
  const check = () => {
    const l = document.querySelector('[data-testid=loading]');
    if (l && l.hidden) resolve(Date.now()); else requestAnimationFrame(check);
  };
  check();
})"""


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read_fd, 16)
        if not chunk:
            raise SystemExit("Xvfb did not start")
        number += chunk
    os.close(read_fd)
    return proc, f":{number.decode().strip()}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def evaluate(ws_url: str, expression: str) -> Any:
    from websockets.sync.client import connect

    with connect(ws_url, open_timeout=5) as ws:
        ws.send(
            json.dumps(
                {
                    "id": 1,
                    "method": "Runtime.evaluate",
                    "params": {
                        "expression": expression,
                        "returnByValue": True,
                        "awaitPromise": True,
                    },
                }
            )
        )
        while True:
            reply = json.loads(ws.recv(timeout=30))
            if reply.get("id") == 1:
                return reply.get("result", {}).get("result", {}).get("value")


def main_page(devtools: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{devtools}/json/list", timeout=1) as r:
            targets = json.loads(r.read())
    except OSError:
        return None
    for t in targets:
        url = str(t.get("url", ""))
        if t.get("type") == "page" and url.startswith("http://127.0.0.1:") and "/status" not in url:
            path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
            if path == "" or path.startswith("#"):
                return str(t["webSocketDebuggerUrl"])
    return None


def tree_memory(session: int) -> tuple[float, float]:
    """(PSS, RSS) in MB over every process in the app's session."""
    pss = rss = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:
                continue
            for line in (stat.parent / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return pss / 1024, rss / 1024


def run_once(cmd: list[str], display: str, data_dir: Path, *, demo: bool) -> dict[str, float]:
    devtools = free_port()
    env = dict(
        os.environ,
        DISPLAY=display,
        QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox",
        QTWEBENGINE_REMOTE_DEBUGGING=f"127.0.0.1:{devtools}",
    )
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)
    args = [*cmd, "--data-dir", str(data_dir), "--token", "measure"]
    if demo:
        args.append("--demo")
    started_wall = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        painted = None
        deadline = started + 60
        while painted is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(f"the app did not paint the dashboard (exit {proc.poll()})")
            ws = main_page(devtools)
            if ws is not None:
                with contextlib.suppress(Exception):
                    at = evaluate(ws, PAINTED)
                    if isinstance(at, (int, float)):
                        painted = at / 1000 - started_wall
                        break
            time.sleep(0.1)
        time.sleep(3)
        pss, rss = tree_memory(proc.pid)
        closing = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        closed = time.monotonic() - closing
        if code != 0:
            raise SystemExit(f"the app exited {code}")
        return {"painted_s": painted, "pss_mb": pss, "rss_mb": rss, "close_s": closed}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--app", type=Path, default=None, help="a frozen app's binary (default: source)")
    a = p.parse_args()
    cmd = [str(a.app)] if a.app else [sys.executable, "-m", "schmux_desktop"]
    if not a.app:  # the bytecode caches an installed app has (pip compiles them)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "backend", "schmux_desktop"],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    xvfb, display = start_xvfb()
    data_root = Path(tempfile.mkdtemp(prefix="sxm", dir="/tmp"))
    data_dir = data_root / "d"
    try:
        run_once(cmd, display, data_dir, demo=True)  # warm-up: creates the demo repo
        results = []
        for i in range(a.runs):
            r = run_once(cmd, display, data_dir, demo=False)
            results.append(r)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()), flush=True)
        print(
            "median: "
            + ", ".join(f"{k} {statistics.median(r[k] for r in results):.2f}" for k in results[0])
        )
        if a.app:
            size = sum(
                f.stat().st_size
                for f in a.app.parent.rglob("*")
                if f.is_file() and not f.is_symlink()
            )
            print(f"app folder: {size / 1e6:.0f} MB")
    finally:
        subprocess.run(
            ["tmux", "-S", str(data_dir / "tmux.sock"), "kill-server"], capture_output=True
        )
        shutil.rmtree(data_root, ignore_errors=True)
        xvfb.terminate()
        xvfb.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
