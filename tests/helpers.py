"""Real things for tests: git repos, a real ``--serve`` server in a subprocess, waiting."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def git(cwd: Path, *args: str, check: bool = True) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)
    return out.stdout.strip()


def make_repo(
    path: Path, files: dict[str, str] | None = None, branches: tuple[str, ...] = ()
) -> Path:
    """A small origin repo on ``main`` with one commit (and optional extra branches)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in (files or {"README.md": "hello\n", "src/app.py": "print('hi')\n"}).items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    for b in branches:
        git(path, "branch", b)
    return path


def short_tmp(prefix: str = "sx") -> Path:
    """tmux sockets need short paths; pytest's tmp_path can be too long."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """``wait_for`` on the event loop: wait for a state the test can see, never for a guessed
    time (a loaded machine only makes it come later)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() >= deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


@dataclass
class Server:
    data_dir: Path
    token: str | None
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    base: str = ""
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    stderr_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self, timeout: float = 20.0) -> Server:
        args = [sys.executable, "-m", "schmux_desktop", "--serve", "--data-dir", str(self.data_dir)]
        args += ["--port", str(self.port)]
        if self.token is None:
            if "--token-file" not in self.extra_args:  # else the token comes from the file
                args.append("--no-auth")
        else:
            args += ["--token", self.token]
        args += self.extra_args
        self.stderr_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.log"
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=open(self.stderr_path, "a"),  # noqa: SIM115
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "http://" in line or not line:
                break
        if "http://" not in line:
            self.stop()
            raise AssertionError(f"server did not start: {line!r}\n{self.stderr()}")
        self.url = line[line.index("http://") :].split()[0]
        self.base = self.url.split("/?")[0].rstrip("/")
        self.port = int(self.base.rsplit(":", 1)[1])
        return self

    def stderr(self) -> str:
        return (
            self.stderr_path.read_text() if self.stderr_path and self.stderr_path.exists() else ""
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def write_headers(self) -> dict[str, str]:
        """What a script sends: the token, and JSON declared even for a write with no body."""
        return {**self.headers, "Content-Type": "application/json"}

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=self.write_headers, timeout=30.0)

    @property
    def ws_base(self) -> str:
        return self.base.replace("http://", "ws://")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        return code

    def kill_tmux(self) -> None:
        sock = self.data_dir / "tmux.sock"
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True)

    def write_config(self, config: dict[str, Any]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "config.json").write_text(json.dumps(config))

    def state(self) -> dict[str, Any]:
        return json.loads((self.data_dir / "state.json").read_text())

    # conveniences ------------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        with self.client() as c:
            r = c.get("/api/sessions")
            r.raise_for_status()
            return r.json()  # type: ignore[no-any-return]

    def session(self, session_id: str) -> dict[str, Any] | None:
        for w in self.sessions():
            for s in w["sessions"]:
                if s["id"] == session_id:
                    return s  # type: ignore[no-any-return]
        return None

    def workspace(self, workspace_id: str) -> dict[str, Any] | None:
        for w in self.sessions():
            if w["id"] == workspace_id:
                return w
        return None

    def spawn(self, **body: Any) -> list[dict[str, Any]]:
        with self.client() as c:
            r = c.post("/api/spawn", json=body)
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]


def log_text(server: Server, session_id: str) -> str:
    p = server.data_dir / "logs" / f"{session_id}.log"
    return p.read_text(errors="replace") if p.exists() else ""


class DashboardClient:
    """A real WebSocket client of /ws/dashboard that records every message with its arrival time."""

    def __init__(self, server: Server, headers: dict[str, str] | None = None) -> None:
        self.server = server
        self.headers = server.headers if headers is None else headers
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.ws: Any = None
        self._task: Any = None
        self.closed_code: int | None = None

    async def __aenter__(self) -> DashboardClient:
        import asyncio

        import websockets

        self.ws = await websockets.connect(
            self.server.ws_base + "/ws/dashboard", additional_headers=self.headers, max_size=None
        )
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        import websockets

        try:
            async for raw in self.ws:
                self.messages.append((time.monotonic(), json.loads(raw)))
        except websockets.ConnectionClosed as e:
            self.closed_code = e.rcvd.code if e.rcvd else None
        else:
            self.closed_code = self.ws.close_code

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        if self._task is not None:
            await self._task

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m.get("type") == kind]

    @property
    def workspaces(self) -> list[dict[str, Any]] | None:
        sessions = self.of_type("sessions")
        return sessions[-1]["workspaces"] if sessions else None

    async def wait(
        self, predicate: Callable[[list[dict[str, Any]]], Any], timeout: float = 10.0
    ) -> float:
        """Wait until the latest sessions state satisfies ``predicate``; return when it arrived."""
        import asyncio

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arrived, m in reversed(self.messages):
                if m.get("type") == "sessions":
                    if predicate(m["workspaces"]):
                        return arrived
                    break
            await asyncio.sleep(0.01)
        raise AssertionError(
            f"dashboard never showed the expected state; last: {self.workspaces!r}"
        )


def all_sessions(workspaces: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for w in workspaces for s in w["sessions"]}
