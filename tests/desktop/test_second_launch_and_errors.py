"""Under Xvfb: a second launch raises the running window; start-up errors show in a dialog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.desktop.conftest import Display, close_window, screenshot, window_titled, windows
from tests.helpers import ROOT, wait_for

ERROR_TITLE = "schmux-desktop: cannot start"


def stacking(display: Display) -> list[str]:
    """Top-level window titles, bottom to top (xwininfo lists the top one first)."""
    return [w.title for w in reversed(windows(display))]


def test_second_launch_raises_the_running_window(xdisplay: Display, desktop_app: Any) -> None:
    app = desktop_app("--demo", "--status-window")
    main_window = window_titled(xdisplay, "schmux-desktop")
    window_titled(xdisplay, "schmux-desktop status")
    # The window carries the app icon (packaging/icons/schmux-desktop.png, 256x256).
    icon = subprocess.run(
        ["xprop", "-id", str(main_window.id), "-f", "_NET_WM_ICON", "32c", "_NET_WM_ICON"],
        env=xdisplay.env(), capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert icon.startswith("_NET_WM_ICON(CARDINAL) = 256, 256, "), icon[:300]  # width, height
    app.page("/")
    app.page("/status.html")
    # The status window opened last, so it is above the main window.
    order = stacking(xdisplay)
    assert order.index("schmux-desktop status") > order.index("schmux-desktop"), order

    started = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "schmux_desktop", "--data-dir", str(app.data_dir), "--demo"],
        cwd=ROOT, env=xdisplay.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    took = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    lines = second.stdout.strip().splitlines()
    assert len(lines) == 1 and "already running" in lines[0], second.stdout
    assert f"pid {app.proc.pid}" in lines[0] and "front" in lines[0], lines[0]
    assert second.stderr == ""
    print(f"second launch answered in {took:.2f} s")

    # The running app raised its main window above the status window; nothing new opened.
    wait_for(
        lambda: (
            (o := stacking(xdisplay)).index("schmux-desktop") > o.index("schmux-desktop status")
        ),
        timeout=10,
    )
    assert [w.title for w in windows(xdisplay)].count("schmux-desktop") == 1
    assert app.proc.poll() is None

    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit(20) == 0, app.log()
    assert not (app.data_dir / "app.sock").exists()


def test_start_up_error_shows_a_dialog_and_exits_2(
    xdisplay: Display, short_dir: Path, shots_dir: Path
) -> None:
    bindir = short_dir / "bin"
    bindir.mkdir()
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    (bindir / "git").symlink_to(real_git)  # git but no tmux
    env = dict(xdisplay.env(), PATH=str(bindir))
    env.pop("SCHMUX_DESKTOP_NO_DIALOG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "schmux_desktop", "--data-dir", str(short_dir / "d")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        dialog = window_titled(xdisplay, ERROR_TITLE, timeout=30)
        shot = screenshot(xdisplay, shots_dir / "error-dialog.png", dialog)
        assert shot["colours"] > 3, shot
        assert proc.poll() is None  # waiting for the user
        close_window(xdisplay, dialog)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("schmux-desktop: error: tmux is not installed")
    assert stdout == ""
