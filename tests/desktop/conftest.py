"""The real desktop app under Xvfb: a display, windows found by title, screenshots, the close button.

The app's web pages are inspected through QtWebEngine's own DevTools port
(``QTWEBENGINE_REMOTE_DEBUGGING``), so tests evaluate JavaScript in the real windows.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, short_tmp, wait_for

SCREEN = "1400x900x24"


@dataclass
class Display:
    name: str
    proc: subprocess.Popen[bytes]

    def env(self) -> dict[str, str]:
        env = dict(os.environ, DISPLAY=self.name, QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox")
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("QT_QPA_PLATFORM", None)
        return env


@pytest.fixture(scope="session")
def xdisplay() -> Iterator[Display]:
    """A private Xvfb on a free display number (Xvfb picks it and tells us over a pipe)."""
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is missing: run scripts/install-test-deps"
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", SCREEN, "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(read_fd, 16)
        if not chunk:
            break
        number += chunk
    os.close(read_fd)
    assert number.strip().isdigit(), "Xvfb did not start"
    yield Display(f":{number.decode().strip()}", proc)
    proc.terminate()
    proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- windows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XWindow:
    id: int
    title: str
    width: int
    height: int


def windows(display: Display) -> list[XWindow]:
    """Top-level windows with a title (xwininfo), tiny helper windows left out."""
    out = subprocess.run(
        ["xwininfo", "-root", "-tree"], env=display.env(), capture_output=True, text=True
    ).stdout
    found = []
    for m in re.finditer(r'^\s+(0x[0-9a-f]+) "(.*)": \(.*?\)\s+(\d+)x(\d+)', out, re.M):
        w = XWindow(int(m.group(1), 16), m.group(2), int(m.group(3)), int(m.group(4)))
        if w.width > 50 and w.height > 50:
            found.append(w)
    return found


def window_titled(display: Display, title: str, timeout: float = 30.0) -> XWindow:
    def find() -> XWindow | None:
        return next((w for w in windows(display) if w.title == title), None)

    return wait_for(find, timeout=timeout, interval=0.2)  # type: ignore[no-any-return]


def close_window(display: Display, window: XWindow) -> None:
    """What the close button does: send WM_DELETE_WINDOW (there is no window manager)."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_long,
        ctypes.c_void_p,
    ]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]

    class ClientMessage(ctypes.Structure):
        _fields_ = [
            ("type", ctypes.c_int),
            ("serial", ctypes.c_ulong),
            ("send_event", ctypes.c_int),
            ("display", ctypes.c_void_p),
            ("window", ctypes.c_ulong),
            ("message_type", ctypes.c_ulong),
            ("format", ctypes.c_int),
            ("data", ctypes.c_long * 5),
        ]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    dpy = x11.XOpenDisplay(display.name.encode())
    assert dpy, f"cannot open {display.name}"
    try:
        ev = XEvent()
        ev.xclient.type = 33  # ClientMessage
        ev.xclient.window = window.id
        ev.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        ev.xclient.format = 32
        ev.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        ev.xclient.data[1] = 0  # CurrentTime
        x11.XSendEvent(dpy, window.id, 0, 0, ctypes.byref(ev))
        x11.XFlush(dpy)
    finally:
        x11.XCloseDisplay(dpy)


GRAB = """
import json, sys
from PySide6.QtGui import QGuiApplication
app = QGuiApplication(sys.argv[:1])
img = app.primaryScreen().grabWindow(int(sys.argv[2])).toImage()
img.save(sys.argv[1])
colours = set()
for y in range(0, img.height(), 3):
    for x in range(0, img.width(), 3):
        colours.add(img.pixel(x, y))
print(json.dumps({"width": img.width(), "height": img.height(), "colours": len(colours)}))
"""


def screenshot(display: Display, path: Path, window: XWindow | None = None) -> dict[str, int]:
    """Save a PNG of the screen (or one window); return its size and how many colours it has."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", GRAB, str(path), str(window.id if window else 0)],
        env=dict(display.env(), QT_QPA_PLATFORM="xcb"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def shots_dir(tmp_path: Path) -> Path:
    """Screenshots go to $SCHMUX_SCREENSHOT_DIR when set (to look at them), else tmp_path."""
    d = os.environ.get("SCHMUX_SCREENSHOT_DIR")
    return Path(d) if d else tmp_path / "shots"


# -- DevTools ------------------------------------------------------------------------------------


class Page:
    """One page of the app, driven over the Chrome DevTools protocol."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(connect(ws_url, max_size=None, open_timeout=10))
        self._id = 0

    def close(self) -> None:
        self._stack.close()

    def eval(self, expression: str) -> Any:
        self._id += 1
        msg_id = self._id
        self.ws.send(
            json.dumps(
                {
                    "id": msg_id,
                    "method": "Runtime.evaluate",
                    "params": {"expression": expression, "returnByValue": True},
                }
            )
        )
        while True:
            reply = json.loads(self.ws.recv(timeout=10))
            if reply.get("id") == msg_id:
                result = reply["result"]
                if "exceptionDetails" in result:
                    raise AssertionError(f"{expression}: {result['exceptionDetails']}")
                return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 15.0) -> Any:
        """Wait until ``expression`` is truthy (a page still loading may throw meanwhile)."""
        return wait_for(
            lambda: self.eval(
                f"(() => {{ try {{ return {expression}; }} catch (e) {{ return null; }} }})()"
            ),
            timeout=timeout,
            interval=0.1,
        )


@dataclass
class DesktopApp:
    display: Display
    data_dir: Path
    token: str
    args: list[str]
    cmd: list[str] = field(default_factory=lambda: [sys.executable, "-m", "schmux_desktop"])
    proc: subprocess.Popen[str] | None = None
    devtools_port: int = 0
    pages: list[Page] = field(default_factory=list)
    log_path: Path | None = None

    def start(self) -> DesktopApp:
        self.devtools_port = free_port()
        env = dict(
            self.display.env(),
            QTWEBENGINE_REMOTE_DEBUGGING=f"127.0.0.1:{self.devtools_port}",
            PYTHONUNBUFFERED="1",
        )
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.proc = subprocess.Popen(
            [*self.cmd, "--data-dir", str(self.data_dir), "--token", self.token, *self.args],
            cwd=ROOT,
            env=env,
            stdout=open(self.log_path, "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def targets(self) -> list[dict[str, Any]]:
        url = f"http://127.0.0.1:{self.devtools_port}/json/list"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return [t for t in json.loads(r.read()) if t.get("type") == "page"]
        except OSError:
            return []

    def page(self, path: str, timeout: float = 30.0) -> tuple[Page, str]:
        """The page whose URL path is ``path``, once it is there; and its URL."""

        def find() -> dict[str, Any] | None:
            assert self.proc is not None and self.proc.poll() is None, self.log()
            for t in self.targets():
                m = re.match(r"http://127\.0\.0\.1:\d+(/[^?#]*)", t.get("url", ""))
                if m and m.group(1) == path:
                    return t
            return None

        target = wait_for(find, timeout=timeout, interval=0.2)
        page = Page(target["webSocketDebuggerUrl"])
        self.pages.append(page)
        return page, str(target["url"])

    def wait_exit(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def session_processes(self) -> list[int]:
        """Processes still in the app's session (QtWebEngine helpers included)."""
        assert self.proc is not None
        sid = self.proc.pid
        left = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":  # session id, not a zombie
                left.append(int(stat.parent.name))
        return left

    def stop(self) -> None:
        for p in self.pages:
            with contextlib.suppress(Exception):
                p.close()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        subprocess.run(
            ["tmux", "-S", str(self.data_dir / "tmux.sock"), "kill-server"], capture_output=True
        )


@pytest.fixture
def desktop_app(xdisplay: Display) -> Iterator[Any]:
    apps: list[DesktopApp] = []
    dirs: list[Path] = []

    def factory(*args: str, cmd: list[str] | None = None) -> DesktopApp:
        d = short_tmp("sxd")
        dirs.append(d)
        app = DesktopApp(xdisplay, d / "data", "desktop-test-token-0123456789", list(args))
        if cmd is not None:
            app.cmd = cmd
        apps.append(app)
        return app.start()

    yield factory
    for app in apps:
        app.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
