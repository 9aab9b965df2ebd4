"""``--serve --tls-cert --tls-key``: HTTPS and WSS with a throwaway self-signed certificate."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from tests.helpers import ROOT, all_sessions, wait_for

TOKEN = "tls-test-token-0123456789"


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """Trust exactly this certificate (verification stays on)."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="module")
def cert_pair(tmp_path_factory: pytest.TempPathFactory) -> CertPair:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    if shutil.which("openssl"):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
    else:
        _make_cert_with_cryptography(cert, key)
    return CertPair(cert, key)


def _make_cert_with_cryptography(cert: Path, key: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@dataclass
class TlsServer:
    proc: subprocess.Popen[str]
    url: str
    base: str
    port: int
    data_dir: Path


@pytest.fixture
def tls_server(cert_pair: CertPair, short_dir: Path, origin: Path) -> Iterator[TlsServer]:
    data = short_dir / "data"
    data.mkdir()
    hook = (
        'echo "URL=$SCHMUX_URL"; '
        'curl -s -o /dev/null -w "NUDGE=%{http_code}\\n" -X POST '
        '"$SCHMUX_URL/api/sessions/$SCHMUX_SESSION_ID/nudge" '
        '-H "Authorization: Bearer $SCHMUX_TOKEN" -H "Content-Type: application/json" '
        '-d \'{"state":"needs_input","summary":"over the agents URL"}\'; sleep 600'
    )
    (data / "config.json").write_text(
        json.dumps(
            {
                "repos": [{"name": "proj", "url": str(origin)}],
                "run_targets": [{"name": "hook", "type": "command", "command": hook}],
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "schmux_desktop", "--serve", "--data-dir", str(data),
         "--token", TOKEN, "--tls-cert", str(cert_pair.cert), "--tls-key", str(cert_pair.key)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        assert line.startswith("schmux-desktop serving at https://127.0.0.1:"), (
            line + proc.stderr.read() if proc.poll() is not None and proc.stderr else line
        )
        url = line.split()[-1]
        base = url.split("/?")[0]
        yield TlsServer(proc, url, base, int(base.rsplit(":", 1)[1]), data)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
        subprocess.run(["tmux", "-S", str(data / "tmux.sock"), "kill-server"], capture_output=True)
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr


def test_https_wss_ticket_origin_and_agents_url(tls_server: TlsServer, cert_pair: CertPair) -> None:
    ctx = cert_pair.client_context()
    assert tls_server.url == f"{tls_server.base}/?token={TOKEN}"

    # HTTPS, with the certificate verified (it is the CA here), not verify=False.
    with httpx.Client(base_url=tls_server.base, verify=ctx, timeout=30) as c:
        r = c.get("/api/healthz")
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert c.get("/api/sessions").status_code == 401
        # The printed URL serves the page (which keeps the token itself); no cookie is set.
        r = c.get(f"/?token={TOKEN}")
        assert r.status_code == 200 and "set-cookie" not in r.headers
        assert c.get("/api/sessions").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        ticket = c.post("/api/ws-ticket", headers=auth, content="{}").json()["ticket"]
    # The TLS port does not answer plain HTTP.
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.port}/api/healthz", timeout=5)

    # WSS with a ticket, as the page opens it, from the page's own https origin.
    ws_url = tls_server.base.replace("https://", "wss://") + "/ws/dashboard"
    with websockets.sync.client.connect(
        f"{ws_url}?ticket={ticket}", ssl=ctx, origin=Origin(tls_server.base), open_timeout=10
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "sessions"
    # WSS with the token; the page's own https origin is accepted, an http one is not.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with websockets.sync.client.connect(
        ws_url,
        ssl=ctx,
        additional_headers=auth,
        origin=Origin(tls_server.base),
        open_timeout=10,
    ) as ws:
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "sessions"

        # A session's SCHMUX_URL reaches the server without TLS trouble (plain curl, as the
        # agent hooks in docs/AGENT-HOOKS.md do) and its nudge is pushed over WSS.
        write = {**auth, "Content-Type": "application/json"}
        with httpx.Client(base_url=tls_server.base, verify=ctx, headers=write, timeout=30) as c:
            r = c.post(
                "/api/spawn", json={"repo": "proj", "branch": "main", "targets": {"hook": 1}}
            )
            assert r.status_code == 200, r.text
            sid = r.json()[0]["session_id"]
        while True:
            msg = json.loads(ws.recv(timeout=20))
            sessions = all_sessions(msg.get("workspaces", []))
            if sessions.get(sid, {}).get("nudge_summary") == "over the agents URL":
                break
    out = wait_for(lambda: (t := log_text(Logs(tls_server.data_dir), sid)) and "NUDGE=" in t and t)
    assert "URL=http://127.0.0.1:" in out and "NUDGE=200" in out, out
    assert f":{tls_server.port}" not in out.split("URL=")[1].split()[0]  # a separate listener

    with pytest.raises(InvalidStatus):
        websockets.sync.client.connect(
            ws_url,
            ssl=ctx,
            additional_headers=auth,
            origin=Origin(tls_server.base.replace("https://", "http://")),
            open_timeout=10,
        )


def log_text(server: Logs, session_id: str) -> str:
    p = server.data_dir / "logs" / f"{session_id}.log"
    return p.read_text(errors="replace") if p.exists() else ""


@dataclass
class Logs:
    data_dir: Path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "schmux_desktop", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip


def test_tls_option_errors_exit_2_with_one_line(
    cert_pair: CertPair, short_dir: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cert, key, d = str(cert_pair.cert), str(cert_pair.key), str(short_dir / "d")
    cases = [
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", key], "--tls-cert"),
        (["--tls-cert", cert, "--tls-key", str(tmp_path / "missing.pem")], "--tls-key"),
        (["--tls-cert", cert], "go together"),
        (["--tls-key", key], "go together"),
        (["--tls-cert", str(garbage), "--tls-key", key], "cannot use --tls-cert"),
        (["--tls-cert", cert, "--tls-key", cert], "cannot use --tls-cert"),
    ]
    for args, fragment in cases:
        r = run_cli("--serve", "--data-dir", d, *args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and fragment in lines[0], (args, r.stderr)
        assert r.stdout == ""
    # TLS is for --serve: the window talks to its own loopback server.
    r = run_cli("--data-dir", d, "--tls-cert", cert, "--tls-key", key)
    assert r.returncode == 2 and "are for --serve" in r.stderr, r.stderr
