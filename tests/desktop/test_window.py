"""The desktop app for real: Qt window under Xvfb, live dashboard, status window, clean close."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.desktop.conftest import (
    Display,
    close_window,
    port_open,
    screenshot,
    window_titled,
)
from tests.helpers import wait_for

MIN_COLOURS = 40  # a blank or single-colour window has a handful


def api(port: int, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def backend_port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def test_window_shows_live_dashboard_and_status_then_closes_cleanly(
    xdisplay: Display, desktop_app: Any, shots_dir: Path
) -> None:
    started = time.monotonic()
    app = desktop_app("--demo", "--status-window")
    main_window = window_titled(xdisplay, "schmux-desktop")
    status_window = window_titled(xdisplay, "schmux-desktop status")
    assert main_window.width >= 640 and status_window.width < main_window.width

    main, main_url = app.page("/")
    port = backend_port(main_url)
    # The token went in privately: the page keeps it in its origin's storage, not in the
    # address bar, and no cookie carries it.
    assert "token" not in main_url
    assert main.eval("document.cookie") == ""
    assert main.eval("localStorage.getItem('schmux-desktop.token')") == app.token
    # The dashboard's desktop notifications go through the app (frontend/src/notify.ts).
    main.wait("typeof (window.schmuxDesktop || {}).notify === 'function'")
    status, _ = app.page("/status.html")
    status.wait("document.getElementById('conn').dataset.state === 'connected'")
    painted = time.monotonic() - started

    # A change made over REST appears in both windows, pushed (nothing reloads).
    main.eval("window.__sameDocument = true")
    with api(port, app.token) as c:
        r = c.post("/api/spawn", json={"repo": "demo", "branch": "win", "targets": {"shell": 1}})
        assert r.status_code == 200, r.text
        session_id = r.json()[0]["session_id"]
        main.wait("document.body.innerText.includes('demo-001')")
        status.wait("document.querySelector('[data-testid=running]').textContent === '1'")

        r = c.post(
            f"/api/sessions/{session_id}/nudge",
            json={"state": "needs_input", "summary": "Approve the plan?"},
        )
        assert r.status_code == 200, r.text
        status.wait("document.querySelector('[data-testid=attention]').textContent === '1'")
        assert "Approve the plan?" in status.eval(
            "document.getElementById('attention-list').innerText"
        )
        workspace = c.get("/api/sessions").json()[0]
        Path(workspace["path"], "notes.txt").write_text("uncommitted\n")
        status.wait("document.querySelector('[data-testid=dirty]').textContent === '1'", 20)
    assert main.eval("window.__sameDocument") is True

    whole = screenshot(xdisplay, shots_dir / "desktop-window.png")
    assert whole["colours"] >= MIN_COLOURS, whole
    small = screenshot(xdisplay, shots_dir / "status-window.png", status_window)
    assert (small["width"], small["height"]) == (status_window.width, status_window.height)
    assert small["colours"] >= MIN_COLOURS // 2, small

    # One click in the status window opens the session in the main window.
    status.eval("document.querySelector('#attention-list button').click()")
    main.wait(f"window.location.hash === {json.dumps('#/session/' + session_id)}")
    screenshot(xdisplay, shots_dir / "desktop-session.png")

    print(f"dashboard painted {painted:.2f} s after launch; screenshots in {shots_dir}")

    # The close button ends the app: every window, the server, QtWebEngine's helpers.
    closing = time.monotonic()
    close_window(xdisplay, main_window)
    assert app.wait_exit(20) == 0, app.log()
    print(f"closed {time.monotonic() - closing:.2f} s after the close button")
    assert not port_open(port)
    wait_for(lambda: not app.session_processes(), timeout=10)
    assert "Traceback" not in app.log()


def test_sigterm_closes_the_window_and_stops_the_server(
    xdisplay: Display, desktop_app: Any
) -> None:
    app = desktop_app("--demo")
    window_titled(xdisplay, "schmux-desktop")
    _, url = app.page("/")
    port = backend_port(url)
    assert port_open(port)
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit(20) == 0, app.log()
    assert not port_open(port)
    assert "Traceback" not in app.log()


def test_window_opens_with_the_remembered_size(xdisplay: Display, desktop_app: Any) -> None:
    def launch() -> Any:
        return desktop_app()

    app = launch()
    app.proc.kill()  # only its data dir is wanted: start it again with a saved geometry
    app.proc.wait()
    app.data_dir.mkdir(parents=True, exist_ok=True)
    (app.data_dir / "window.json").write_text(json.dumps({"width": 900, "height": 640}))
    app.start()
    window = window_titled(xdisplay, "schmux-desktop")
    assert (window.width, window.height) == (900, 640)
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit(20) == 0, app.log()
