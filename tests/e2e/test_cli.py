"""The pinned command line: ready line, exit codes, clean shutdown, restart re-adoption."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT, Server, wait_for


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schmux_desktop", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--serve", "--port", "99999"], "port"),
        (["--serve", "--bogus"], "unrecognized"),
        (["--serve", "--no-auth", "--host", "0.0.0.0"], "loopback"),
        (["--serve", "--no-auth", "--host", "::"], "loopback"),
        (["--serve", "--no-auth", "--host", "192.0.2.10"], "loopback"),
        (["--serve", "--data-dir", "/proc/forbidden"], "not usable"),
        (["--serve", "--token", ""], "token"),
        (["--serve", "--token", "a"], "too short"),
        (["--serve", "--token", "fifteen-chars-x"], "at least 16"),
        (["--serve", "--token-file", "/nonexistent/token"], "--token-file"),
    ],
)
def test_bad_options_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    r = run_cli(*args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_token_file_must_be_private_and_printed_url_is_encoded(short_dir: Path) -> None:
    token = "ab+cd/ef==gh&i%j#k?l"  # every character a URL would misread
    f = short_dir / "token"
    f.write_text(token + "\n")
    f.chmod(0o644)
    d = short_dir / "data"
    r = run_cli("--serve", "--data-dir", str(d), "--token-file", str(f))
    assert r.returncode == 2 and "chmod 600" in r.stderr and token not in r.stderr, r.stderr
    r = run_cli("--serve", "--data-dir", str(d), "--token-file", str(f), "--token", "x" * 20)
    assert r.returncode == 2 and "not both" in r.stderr
    f.chmod(0o600)
    srv = Server(data_dir=d, token=None, extra_args=["--token-file", str(f)])
    srv.start()
    try:
        assert token not in srv.url  # percent-encoded
        r = httpx.get(srv.url)  # the printed address signs in: the dashboard, not signed out
        assert r.status_code == 200 and "Signed out" not in r.text
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(srv.base + "/api/sessions", headers=headers).status_code == 200
    finally:
        srv.stop()


def test_invalid_config_names_file_and_key(short_dir: Path) -> None:
    d = short_dir / "data"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"sessions": {"dashboard_debounce_ms": "soon"}}))
    r = run_cli("--serve", "--data-dir", str(d))
    assert r.returncode == 2
    assert str(d / "config.json") in r.stderr and "sessions.dashboard_debounce_ms" in r.stderr
    (d / "config.json").write_text("{oops")
    r = run_cli("--serve", "--data-dir", str(d))
    assert r.returncode == 2 and "not valid JSON" in r.stderr and "Traceback" not in r.stderr


def test_corrupt_state_file_is_refused_not_overwritten(short_dir: Path) -> None:
    d = short_dir / "data"
    d.mkdir()
    (d / "state.json").write_text("{half a file")
    r = run_cli("--serve", "--data-dir", str(d))
    assert r.returncode == 2 and "state.json" in r.stderr
    assert (d / "state.json").read_text() == "{half a file"


def test_serve_demo_token_env_and_sigterm(short_dir: Path) -> None:
    d = short_dir / "demo"
    env = dict(os.environ, SCHMUX_DESKTOP_TOKEN="from-env-0123456789")
    proc = subprocess.Popen(
        [sys.executable, "-m", "schmux_desktop", "--serve", "--demo", "--data-dir", str(d)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("schmux-desktop serving at http://127.0.0.1:")
        url = line.split()[-1]
        assert url.endswith("/?token=from-env-0123456789")
        base = url.split("/?")[0]
        r = httpx.get(base + "/api/config", headers={"Authorization": "Bearer from-env-0123456789"})
        cfg = r.json()
        assert [x["name"] for x in cfg["repos"]] == ["demo"]
        assert any(t["name"] == "shell" for t in cfg["run_targets"])
        assert (Path(cfg["repos"][0]["url"]) / ".git").is_dir()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        subprocess.run(["tmux", "-S", str(d / "tmux.sock"), "kill-server"], capture_output=True)


def test_sigint_exits_0(server: Server) -> None:
    assert server.stop(signal.SIGINT) == 0


def test_a_request_in_flight_at_sigterm_gets_its_answer(server: Server) -> None:
    """Shutdown waits for requests being answered (not for idle connections)."""
    host, port = server.base.removeprefix("http://").rsplit(":", 1)
    body = json.dumps({"nickname": "late"}).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"PUT /api/sessions-nickname/no-such-session HTTP/1.1\r\n"
            + f"Host: {host}:{port}\r\nAuthorization: Bearer {server.token}\r\n".encode()
            + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body[:5]
        )
        time.sleep(0.3)  # the request is being read
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # well past the 0.05 s left for idle connections
        sock.sendall(body[5:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}"):
                break
    assert answer.startswith(b"HTTP/1.1 404"), answer
    assert b"no session" in answer
    assert server.stop() == 0


def test_restart_readopts_live_sessions(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    item = srv.spawn(repo="proj", branch="main", targets={"sleeper": 1}, nickname="keep")[0]
    sid = item["session_id"]
    srv.stop()
    again = make_server(data_dir=srv.data_dir, config=None)
    s = again.session(sid)
    assert s is not None and s["running"] is True and s["nickname"] == "keep"
    with again.client() as c:
        assert c.post(f"/api/dispose/{sid}").status_code == 200
    again.kill_tmux()


def test_restart_knows_exits_from_while_it_was_down(
    make_server: Callable[..., Server], origin: Path
) -> None:
    srv = make_server(
        {
            "repos": [{"name": "p.exit", "url": str(origin)}],  # ids like p.exit-001-…
            "run_targets": [{"name": "later", "type": "command", "command": "sleep 1; exit 7"}],
        }
    )
    sid = srv.spawn(repo="p.exit", branch="main", targets={"later": 1})[0]["session_id"]
    srv.stop()
    stale = srv.data_dir / "run" / "gone.exit-001-deadbeef.exit"  # of a session long gone
    stale.write_text("0\n")
    time.sleep(1.5)  # the agent ends while the app is down
    again = make_server(data_dir=srv.data_dir, config=None)
    s = again.session(sid)
    assert s is not None and s["running"] is False and s["exit_status"] == 7
    assert not stale.exists()
    assert (srv.data_dir / "run" / f"{sid}.exit").read_text() == "7\n"
    again.kill_tmux()


def test_sigkill_during_spawns_leaves_valid_state(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    rng = random.Random(7)
    for round_ in range(4):
        stop = threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=srv.base, headers=srv.write_headers, timeout=10) as c:
                i = 0
                while not stop.is_set():
                    try:
                        c.post(
                            "/api/spawn",
                            json={
                                "repo": "proj",
                                "branch": f"r{round_}-{i}",
                                "targets": {"sleeper": 1},
                            },
                        )
                    except httpx.HTTPError:
                        return
                    i += 1

        t = threading.Thread(target=hammer)
        t.start()
        time.sleep(rng.uniform(0.3, 1.5))
        assert srv.proc is not None
        srv.proc.kill()
        srv.proc.wait()
        stop.set()
        t.join()
        doc = json.loads((srv.data_dir / "state.json").read_text())
        assert doc["version"] == 1
        srv.proc = None
        srv.port = 0
        srv.start()
        # every session in state is known to tmux or shown as not running; no orphans in tmux
        listed = {s["id"] for w in srv.sessions() for s in w["sessions"]}
        out = subprocess.run(
            ["tmux", "-S", str(srv.data_dir / "tmux.sock"), "ls", "-F", "#{session_name}"],
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        wait_for(lambda: True)
        assert set(out) <= {"schmux-" + sid.replace(".", "_") for sid in listed}
