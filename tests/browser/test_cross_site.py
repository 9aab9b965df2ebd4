"""Attacks from real web pages in Chromium: a page on another port of the same machine (the same
site, as cookies see it) or on ``localhost`` against ``127.0.0.1`` tries to change the config and
start a command, with and without --no-auth, while the user is signed in in the same browser."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.browser.conftest import open_dashboard
from tests.helpers import Server

ATTACK = """<!doctype html><meta charset="utf-8"><title>a page the user happened to open</title>
<body><iframe name="sink" style="display:none"></iframe>
<form id="f" method="POST" action="TARGET/api/config" enctype="text/plain" target="sink">
<input name='{"run_targets":[{"name":"pwn2","type":"command","command":"touch MARKER2","x":"' value='"}]}'>
</form>
<form id="g" method="POST" action="TARGET/api/spawn" target="sink">
<input name="repo" value="proj"><input name="branch" value="main">
</form>
<script>
const T = "TARGET";
const results = {};
const done = (k, v) => { results[k] = v; };
async function attempt(k, f) {
  try { done(k, await f()); } catch (e) { done(k, "failed: " + e); }
}
async function run() {
  const cfg = JSON.stringify({run_targets: [{name: "pwn", type: "command", command: "touch MARKER"}]});
  const spawn = JSON.stringify({repo: "proj", branch: "main", targets: {pwn: 1, shell: 1}});
  await attempt("nocors-config", async () => (await fetch(T + "/api/config", {method: "POST", mode: "no-cors", body: cfg})).type);
  await attempt("nocors-spawn", async () => (await fetch(T + "/api/spawn", {method: "POST", mode: "no-cors", body: spawn})).type);
  await attempt("nocors-spawn-json", async () => (await fetch(T + "/api/spawn", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: spawn})).type);
  await attempt("cors-spawn", async () => (await fetch(T + "/api/spawn", {method: "POST", headers: {"Content-Type": "application/json"}, body: spawn})).status);
  await attempt("cors-read", async () => (await (await fetch(T + "/api/sessions")).text()));
  await attempt("ticket", async () => (await (await fetch(T + "/api/ws-ticket", {method: "POST", mode: "no-cors", body: "{}"})).type));
  await new Promise((resolve) => {
    const ws = new WebSocket(T.replace("http", "ws") + "/ws/dashboard");
    ws.onmessage = (e) => { done("ws", "message: " + e.data.slice(0, 80)); resolve(); };
    ws.onerror = () => { done("ws", "refused"); resolve(); };
    setTimeout(resolve, 3000);
  });
  for (const tag of ["img", "script"]) {
    await new Promise((resolve) => {
      const el = document.createElement(tag);
      el.onload = () => { done(tag, "loaded"); resolve(); };
      el.onerror = () => { done(tag, "error"); resolve(); };
      el.src = T + "/api/sessions";
      document.body.appendChild(el);
      setTimeout(resolve, 3000);
    });
  }
  document.getElementById("f").submit();
  await new Promise((r) => setTimeout(r, 500));
  document.getElementById("g").submit();
  await new Promise((r) => setTimeout(r, 500));
  window.__results = results;
}
run();
</script></body>"""


class _Attacker(http.server.BaseHTTPRequestHandler):
    page: ClassVar[bytes] = b""
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Attacker.seen.append(str(self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(_Attacker.page)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def attacker() -> Iterator[Callable[[str, Path], int]]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Attacker.seen = []

    def arm(target: str, marker_dir: Path) -> int:
        page = ATTACK.replace("TARGET", target)
        page = page.replace("MARKER2", str(marker_dir / "pwned2"))
        _Attacker.page = page.replace("MARKER", str(marker_dir / "pwned")).encode()
        return int(httpd.server_address[1])

    yield arm
    httpd.shutdown()


def _run_attack(page: Any, url: str) -> dict[str, str]:
    page.goto(url)
    page.wait_for_function("window.__results !== undefined", timeout=20_000)
    return dict(page.evaluate("window.__results"))


@pytest.mark.parametrize("auth", ["token", "no-auth"])
@pytest.mark.parametrize("attacker_host", ["127.0.0.1", "localhost"])
def test_a_foreign_page_changes_nothing_and_learns_nothing(
    make_server: Callable[..., Server],
    new_page: Callable[..., Any],
    attacker: Callable[[str, Path], int],
    short_dir: Path,
    auth: str,
    attacker_host: str,
) -> None:
    srv = make_server(token=None if auth == "no-auth" else "test-token-0123456789")
    before = httpx.get(srv.base + "/api/config", headers=srv.headers).json()
    victim = open_dashboard(new_page(), srv)  # the user is signed in, in this same browser
    port = attacker(srv.base, short_dir)
    page = new_page(context=victim.context)
    results = _run_attack(page, f"http://{attacker_host}:{port}/attack.html")

    assert httpx.get(srv.base + "/api/config", headers=srv.headers).json() == before
    assert httpx.get(srv.base + "/api/sessions", headers=srv.headers).json() == []
    assert not (short_dir / "pwned").exists() and not (short_dir / "pwned2").exists()
    assert results["ws"] == "refused", results
    assert results["cors-read"].startswith("failed"), results  # no CORS: nothing to read
    assert results["cors-spawn"].startswith("failed"), results  # its preflight is refused
    assert results["script"] == "error" and results["img"] == "error", results
    if srv.token is not None:
        # the attacker's own server, on another port of the same host, got no credential
        seen = "\n".join(_Attacker.seen)
        assert srv.token not in seen and "schmux_token" not in seen, seen
    # the user's own dashboard still works
    assert victim.get_by_test_id("connection-status").inner_text().startswith("Connected")


def test_the_signed_in_token_stays_in_its_origin(
    server: Server,
    new_page: Callable[..., Any],
    attacker: Callable[[str, Path], int],
    short_dir: Path,
) -> None:
    victim = open_dashboard(new_page(), server)
    port = attacker(server.base, short_dir)
    page = new_page(context=victim.context)
    page.goto(f"http://127.0.0.1:{port}/attack.html")
    assert page.evaluate("localStorage.getItem('schmux-desktop.token')") is None
    assert victim.context.cookies() == []
    stored = json.dumps(victim.evaluate("Object.assign({}, localStorage)"))
    assert str(server.token) in stored  # only the dashboard's own origin holds it
