"""``--serve`` never imports the GUI toolkit, even while it serves pages and WebSockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import websockets.sync.client

from tests.helpers import ROOT

GUI_MODULES = ("PySide6", "webview", "qtpy", "shiboken6")


def test_serve_does_not_import_the_gui_toolkit(short_dir: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "schmux_desktop",
            "--serve",
            "--demo",
            "--data-dir",
            str(short_dir / "d"),
            "--token",
            "tok-0123456789abcdef",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "http://" in line, line
        base = line[line.index("http://") :].split("/?")[0]
        with httpx.Client(
            base_url=base, headers={"Authorization": "Bearer tok-0123456789abcdef"}
        ) as c:
            assert c.get("/").status_code == 200
            assert c.get("/api/sessions").status_code == 200
        ws_url = base.replace("http://", "ws://") + "/ws/dashboard"
        with websockets.sync.client.connect(
            ws_url, additional_headers={"Authorization": "Bearer tok-0123456789abcdef"}
        ) as ws:
            assert '"sessions"' in str(ws.recv(timeout=10))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
        subprocess.run(
            ["tmux", "-S", str(short_dir / "d" / "tmux.sock"), "kill-server"], capture_output=True
        )
    assert proc.returncode == 0
    imported = {
        row.split("|")[-1].strip() for row in stderr.splitlines() if row.startswith("import time:")
    }
    assert "schmux_desktop.server" in imported  # the import log is really there
    gui = sorted(m for m in imported if m.split(".")[0] in GUI_MODULES)
    assert gui == [], f"--serve imported the GUI toolkit: {gui}"
    assert "schmux_desktop.window" not in imported
