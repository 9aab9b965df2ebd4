"""The desktop app as a newcomer meets it (issue 14), for real under Xvfb: the status window
opens away from the main window and where the user put it last; the app is reachable from a
browser ("Open in browser", ``--print-url``); Chromium's and Qt's machine noise stays off
stderr."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.desktop.conftest import Display, screenshot, window_titled
from tests.helpers import ROOT, wait_for

NOISE = re.compile(r"vulkan|dbus|DRI3|GPU vendor|command_buffer|zygote|ERROR:", re.IGNORECASE)


def position(display: Display, window_id: int) -> tuple[int, int, int, int]:
    out = subprocess.run(
        ["xwininfo", "-id", str(window_id)], env=display.env(), capture_output=True, text=True
    ).stdout

    def field(name: str) -> int:
        m = re.search(rf"{name}:\s+(-?\d+)", out)
        assert m, out
        return int(m.group(1))

    return (
        field("Absolute upper-left X"),
        field("Absolute upper-left Y"),
        field("Width"),
        field("Height"),
    )


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def move_window(display: Display, window_id: int, x: int, y: int) -> None:
    """What dragging the window does (there is no window manager): XMoveWindow."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XMoveWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.name.encode())
    assert dpy
    try:
        x11.XMoveWindow(dpy, window_id, x, y)
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


def relaunch_with(app: Any, geometry: dict[str, Any] | None, *extra: str) -> None:
    if app.proc.poll() is None:
        app.proc.send_signal(signal.SIGTERM)
        assert app.wait_exit(20) == 0, app.log()
    if geometry is not None:
        app.data_dir.mkdir(parents=True, exist_ok=True)
        (app.data_dir / "window.json").write_text(json.dumps(geometry))
    app.args = [a for a in app.args if a not in extra] + list(extra)
    app.start()


def test_status_window_opens_away_from_the_main_window_and_where_it_was_put(
    xdisplay: Display, desktop_app: Any, shots_dir: Path
) -> None:
    app = desktop_app()
    app.proc.kill()  # only its data dir is wanted: start again with a saved main geometry
    app.proc.wait()
    # The main window on the right: the top-right corner, where a tray popup sits, would cover it.
    relaunch_with(app, {"width": 900, "height": 640, "x": 500, "y": 0}, "--status-window")
    main = window_titled(xdisplay, "schmux-desktop")
    status = window_titled(xdisplay, "schmux-desktop status")
    main_at = wait_for(lambda: (p := position(xdisplay, main.id))[:2] == (500, 0) and p)
    status_at = wait_for(lambda: (p := position(xdisplay, status.id))[0] > 0 and p)
    assert overlap(main_at, status_at) == 0, (main_at, status_at)
    screenshot(xdisplay, shots_dir / "status-window-beside-main.png")

    move_window(xdisplay, status.id, 150, 420)
    wait_for(lambda: position(xdisplay, status.id)[:2] == (150, 420))
    relaunch_with(app, None)
    saved = json.loads((app.data_dir / "window.json").read_text())
    assert saved["status"] == {"x": 150, "y": 420}, saved
    status = window_titled(xdisplay, "schmux-desktop status")
    wait_for(lambda: position(xdisplay, status.id)[:2] == (150, 420), timeout=20)
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit(20) == 0, app.log()
    assert not NOISE.search(app.log()), app.log()


def test_open_in_browser_and_print_url_give_a_signed_in_address(
    xdisplay: Display, desktop_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(browser))

    app = desktop_app("--demo", "--status-window")
    status, _ = app.page("/status.html")
    status.wait("!document.getElementById('open-browser').hidden", timeout=30)
    status.eval("document.getElementById('open-browser').click()")
    url = wait_for(lambda: opened.exists() and opened.read_text().strip(), timeout=15)
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1", url
    token = parse_qs(parts.query)["token"][0]
    assert token == app.token
    r = httpx.get(
        f"{parts.scheme}://{parts.netloc}/api/sessions",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text

    # --print-url on the same data dir: the running app's address, and nothing starts.
    out = subprocess.run(
        [sys.executable, "-m", "schmux_desktop", "--data-dir", str(app.data_dir), "--print-url"],
        cwd=ROOT,
        env=xdisplay.env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == url
    assert len(windows_titled(xdisplay, "schmux-desktop")) == 1

    # --print-url on a fresh launch: this launch's address, once it serves.
    other = desktop_app("--demo", "--print-url")
    line = wait_for(
        lambda: re.search(r"schmux-desktop running at (http://\S+)", other.log()), timeout=30
    )
    assert httpx.get(line.group(1).split("/?", 1)[0] + "/api/healthz").status_code == 200
    assert f"token={other.token}" in line.group(1)
    assert not NOISE.search(app.log()), app.log()


def windows_titled(display: Display, title: str) -> list[Any]:
    from tests.desktop.conftest import windows

    return [w for w in windows(display) if w.title == title]
