"""Shared pieces for the benchmarks: a real server with N workspaces, dashboard clients, stats."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
GIT_ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@example.invalid",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@example.invalid",
)


def compile_sources() -> None:
    """Write the bytecode caches an installed app has (``pip install`` compiles them), so the
    server does not compile every module on each start when PYTHONDONTWRITEBYTECODE is set."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "backend", "schmux_desktop"],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    v = [x * scale for x in values]
    return (
        f"n={len(v)} p50={statistics.median(v):.1f}{unit} p90={pct(v, 90):.1f}{unit} "
        f"p99={pct(v, 99):.1f}{unit} min={min(v):.1f}{unit} max={max(v):.1f}{unit}"
    )


class BenchServer:
    def __init__(
        self,
        workspaces: int = 0,
        sessions_per_workspace: int = 0,
        config: dict[str, Any] | None = None,
        python: str = sys.executable,
        repos: list[dict[str, str]] | None = None,
        code: Path = ROOT,
    ) -> None:
        """``code``: the checkout whose server runs (another one to compare side by side)."""
        self.python = python
        self.code = code
        self.root = Path(tempfile.mkdtemp(prefix="sxb", dir="/tmp"))
        self.data = self.root / "d"
        self.token = "bench-token-0123456789"
        self.n_ws = workspaces
        self.n_sess = sessions_per_workspace
        self.config = config or {}
        self.repos = repos or []  # more repos, "ORIGIN" as url standing for the test repo
        self.proc: subprocess.Popen[str] | None = None
        self.base = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def prepare(self) -> None:
        origin = self.root / "origin"
        origin.mkdir()
        git(origin, "init", "-q", "-b", "main")
        for i in range(50):
            (origin / f"f{i}.txt").write_text("line\n" * 20)
        git(origin, "add", "-A")
        git(origin, "commit", "-q", "-m", "init")
        self.data.mkdir()
        cfg = {
            "repos": [{"name": "proj", "url": str(origin)}]
            + [{**r, "url": r["url"].replace("ORIGIN", str(origin))} for r in self.repos],
            "run_targets": [{"name": "sleeper", "type": "command", "command": "sleep 3600"}],
        }
        cfg.update(self.config)
        (self.data / "config.json").write_text(json.dumps(cfg))
        if self.n_ws:
            bare = self.data / "repos" / "proj.git"
            bare.parent.mkdir(parents=True)
            git(self.root, "init", "-q", "--bare", str(bare))
            git(bare, "config", "remote.origin.url", str(origin))
            git(bare, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
            git(bare, "fetch", "-q", "origin")
            git(bare, "remote", "set-head", "origin", "--auto")
            for i in range(1, self.n_ws + 1):
                path = self.data / "workspaces" / f"proj-{i:03d}"
                git(bare, "worktree", "add", "-q", "-b", f"b{i}", str(path), "origin/main")
                if i % 3 == 0:
                    (path / "f1.txt").write_text("changed\n" * 5)

    def start(self) -> float:
        """Start ``--serve``; return seconds from exec to the first healthz 200."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                self.python,
                "-m",
                "schmux_desktop",
                "--serve",
                "--data-dir",
                str(self.data),
                "--token",
                self.token,
            ],
            cwd=self.code,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.base = line[line.index("http://") :].split("/?")[0]
        # A plain http.client probe: httpx.get builds an SSL context per call (~50 ms here),
        # which would be counted as the server's start-up.
        host, port = self.base.removeprefix("http://").rsplit(":", 1)
        while True:
            conn = http.client.HTTPConnection(host, int(port), timeout=1)
            try:
                conn.request("GET", "/api/healthz")
                if conn.getresponse().status == 200:
                    return time.perf_counter() - t0
            except OSError:
                time.sleep(0.002)
            finally:
                conn.close()

    def adopt_and_spawn(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=120) as c:
            if self.n_ws:
                c.post("/api/workspaces/scan", json={}).raise_for_status()
            for w in c.get("/api/sessions").json():
                for _ in range(self.n_sess):
                    r = c.post(
                        "/api/spawn", json={"workspace_id": w["id"], "targets": {"sleeper": 1}}
                    )
                    r.raise_for_status()

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        subprocess.run(
            ["tmux", "-S", str(self.data / "tmux.sock"), "kill-server"], capture_output=True
        )
        subprocess.run(["rm", "-rf", str(self.root)])


class Watcher:
    """A dashboard client recording (arrival time, message)."""

    def __init__(self, base: str, headers: dict[str, str], *, compression: bool = True) -> None:
        self.url = base.replace("http://", "ws://") + "/ws/dashboard"
        self.headers = headers
        self.compression = compression
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.raw: list[tuple[float, str]] = []
        self.parse = True
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            additional_headers=self.headers,
            max_size=None,
            compression="deflate" if self.compression else None,
        )
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                if self.parse:
                    self.got.append((time.perf_counter(), json.loads(raw)))
                else:  # many clients in one process: keep the bytes, parse nothing
                    self.raw.append((time.perf_counter(), raw))
        except websockets.ConnectionClosed:
            pass

    async def when(self, pred: Any, since: int = 0, timeout: float = 30.0) -> float:
        deadline = time.perf_counter() + timeout
        i = since
        while time.perf_counter() < deadline:
            while i < len(self.got):
                t, m = self.got[i]
                if m.get("type") == "sessions" and pred(m["workspaces"]):
                    return t
                i += 1
            await asyncio.sleep(0.001)
        raise TimeoutError("state never arrived")

    async def when_raw(self, marker: str, since: int = 0, timeout: float = 30.0) -> float:
        """Arrival time of the first message from ``since`` on that contains ``marker``."""
        deadline = time.perf_counter() + timeout
        i = since
        while time.perf_counter() < deadline:
            while i < len(self.raw):
                t, text = self.raw[i]
                if marker in text:
                    return t
                i += 1
            await asyncio.sleep(0.001)
        raise TimeoutError(f"{marker!r} never arrived")

    async def close(self) -> None:
        await self.ws.close()
        if self.task:
            await self.task


class RawWatcher:
    """A minimal /ws/dashboard client for fan-out benchmarks: it completes the handshake and then
    only scans the raw bytes for markers (server frames are unmasked, so text appears as is).
    200 of these cost far less CPU than 200 full WebSocket clients decoding every frame, so the
    figure measures the server, not the benchmark's own parsing."""

    def __init__(self, base: str, token: str) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)
        self.token = token
        self.arrivals: dict[bytes, float] = {}
        self.watch: list[bytes] = []
        self.task: asyncio.Task[None] | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(
            (
                f"GET /ws/dashboard HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {self.token}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        self.writer = writer
        self.task = asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        tail = b""
        while True:
            chunk = await reader.read(1 << 20)
            if not chunk:
                return
            now = time.perf_counter()
            window = tail + chunk
            for m in self.watch:
                if m not in self.arrivals and m in window:
                    self.arrivals[m] = now
            tail = chunk[-128:]

    async def when(self, marker: bytes, timeout: float = 30.0) -> float:
        deadline = time.perf_counter() + timeout
        while marker not in self.arrivals:
            if time.perf_counter() > deadline:
                raise TimeoutError(marker)
            await asyncio.sleep(0.001)
        return self.arrivals[marker]

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.task is not None:
            self.task.cancel()
