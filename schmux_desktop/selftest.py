"""``--self-test``: prove an installed or frozen app works, headless, then exit 0 (or 1).

Starts the backend on a free loopback port with a demo repo in a temporary data dir and checks,
over real HTTP and a real WebSocket: ``/api/healthz``, the bundled dashboard and status pages,
that the API refuses a request without the token, ``/ws/dashboard`` with the token, and a spawn
of a ``shell`` session (so git, tmux and the session machinery work), which the WebSocket then
pushes. Everything it made is removed, its tmux server included.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .errors import UsageError

TIMEOUT = 20.0


class SelfTestError(Exception):
    pass


def run_self_test() -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="schmux-selftest-"))
    try:
        SelfTest(data_dir).run()
    except (SelfTestError, UsageError) as e:
        print(f"self-test FAILED: {e}", flush=True)
        return 1
    finally:
        subprocess.run(
            ["tmux", "-S", str(data_dir / "tmux.sock"), "kill-server"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(data_dir, ignore_errors=True)
    print("self-test passed", flush=True)
    return 0


class SelfTest:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.token = secrets.token_urlsafe(24)
        self.base = ""

    def run(self) -> None:
        from .background import BackgroundServer
        from .resources import static_dir

        for tool in ("git", "tmux"):
            if shutil.which(tool) is None:
                raise SelfTestError(f"{tool} is not on PATH")
        started = time.monotonic()
        server = BackgroundServer(self.data_dir, self.token, demo=True)
        server.start()
        self.base = server.base_url
        ok(f"backend serving at {self.base} in {time.monotonic() - started:.2f} s")
        try:
            self.check_healthz()
            self.check_static(static_dir())
            self.check_auth_required()
            with DashboardSocket("127.0.0.1", server.port, self.token) as ws:
                first = ws.next_message()
                if first.get("type") != "sessions":
                    raise SelfTestError(f"/ws/dashboard sent {first.get('type')!r} first")
                ok("/ws/dashboard with the token: sessions snapshot received")
                self.check_spawn(ws)
        finally:
            stopped = server.stop()
        if not stopped:
            raise SelfTestError("the backend did not stop within its timeout")
        ok("backend stopped")

    # -- checks --------------------------------------------------------------------------------

    def check_healthz(self) -> None:
        status, body = self.request("GET", "/api/healthz", auth=False)
        data = json.loads(body)
        if status != 200 or data.get("status") != "ok":
            raise SelfTestError(f"/api/healthz answered {status}: {body[:200]!r}")
        ok(f"/api/healthz: version {data.get('version')}")

    def check_static(self, static: Path | None) -> None:
        if static is None:
            raise SelfTestError("the dashboard frontend (backend/web) is not bundled")
        status, body = self.request("GET", "/", auth=False)
        if status != 200 or body != (static / "index.html").read_bytes():
            raise SelfTestError(f"GET / answered {status}, not the bundled index.html")
        assets = re.findall(rb'(?:src|href)="(/assets/[^"]+)"', body)
        if not assets:
            raise SelfTestError("the bundled index.html names no /assets/ files")
        for asset in assets:
            status, _ = self.request("GET", asset.decode(), auth=False)
            if status != 200:
                raise SelfTestError(f"GET {asset.decode()} answered {status}")
        status, _ = self.request("GET", "/status.html", auth=False)
        if status != 200:
            raise SelfTestError(f"GET /status.html answered {status}")
        ok(f"dashboard index, {len(assets)} assets and the status page served")

    def check_auth_required(self) -> None:
        status, _ = self.request("GET", "/api/sessions", auth=False)
        if status != 401:
            raise SelfTestError(f"/api/sessions without the token answered {status}, not 401")
        ok("/api/sessions refuses a request without the token (401)")

    def check_spawn(self, ws: DashboardSocket) -> None:
        body = {"repo": "demo", "branch": "self-test", "targets": {"shell": 1}}
        status, raw = self.request("POST", "/api/spawn", body)
        if status != 200:
            raise SelfTestError(f"spawn answered {status}: {raw[:300]!r}")
        result = json.loads(raw)
        if not result or "session_id" not in result[0]:
            raise SelfTestError(f"spawn failed: {result!r}")
        session_id = result[0]["session_id"]
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = ws.next_message(deadline - time.monotonic())
            if msg.get("type") == "sessions" and any(
                s["id"] == session_id and s["running"]
                for w in msg["workspaces"]
                for s in w["sessions"]
            ):
                break
        ok(f"spawned a shell session into the demo repo ({session_id}); pushed as running")
        status, raw = self.request("POST", f"/api/dispose/{session_id}", {})
        if status != 200:
            raise SelfTestError(f"dispose answered {status}: {raw[:300]!r}")
        ok("disposed it")

    # -- plumbing ------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: Any = None, *, auth: bool = True
    ) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        data = None
        if body is not None or method != "GET":  # every write is JSON, even without a body
            data = json.dumps({} if body is None else body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as e:
            return int(e.code), bytes(e.read())
        except OSError as e:
            raise SelfTestError(f"{method} {path} failed: {e}") from e


class DashboardSocket:
    """A minimal blocking WebSocket client (wsproto, which Hypercorn already brings)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        from wsproto import ConnectionType, WSConnection

        self._host, self._port, self._token = host, port, token
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._sock: socket.socket | None = None
        self._pending: list[dict[str, Any]] = []
        self._text: list[str] = []

    def __enter__(self) -> DashboardSocket:
        from wsproto.events import AcceptConnection, RejectConnection, Request

        self._sock = socket.create_connection((self._host, self._port), timeout=TIMEOUT)
        auth = f"Bearer {self._token}".encode()
        self._send(
            Request(
                host=f"{self._host}:{self._port}",
                target="/ws/dashboard",
                extra_headers=[(b"authorization", auth)],
            )
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            for event in self._events(deadline):
                if isinstance(event, AcceptConnection):
                    return self
                if isinstance(event, RejectConnection):
                    raise SelfTestError(f"/ws/dashboard refused the upgrade ({event.status_code})")

    def __exit__(self, *exc: object) -> None:
        from wsproto.events import CloseConnection

        if self._sock is None:
            return
        with contextlib.suppress(Exception):  # closing is best effort
            self._send(CloseConnection(code=1000))
        self._sock.close()
        self._sock = None

    def next_message(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + max(timeout, 0.0)
        while not self._pending:
            for _ in self._events(deadline):
                pass
        return self._pending.pop(0)

    def _send(self, event: Any) -> None:
        assert self._sock is not None
        self._sock.sendall(self._ws.send(event))

    def _events(self, deadline: float) -> list[Any]:
        from wsproto.events import CloseConnection, Ping, TextMessage

        assert self._sock is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SelfTestError("timed out waiting for /ws/dashboard")
        self._sock.settimeout(remaining)
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            raise SelfTestError("timed out waiting for /ws/dashboard") from None
        if not data:
            raise SelfTestError("/ws/dashboard closed the connection")
        self._ws.receive_data(data)
        events = list(self._ws.events())
        for event in events:
            if isinstance(event, TextMessage):
                self._text.append(event.data)
                if event.message_finished:
                    self._pending.append(json.loads("".join(self._text)))
                    self._text.clear()
            elif isinstance(event, Ping):
                self._send(event.response())
            elif isinstance(event, CloseConnection):
                raise SelfTestError(f"/ws/dashboard closed with {event.code}")
        return events


def ok(what: str) -> None:
    print(f"ok  {what}", flush=True)


if __name__ == "__main__":
    sys.exit(run_self_test())
