"""The desktop app: the backend on a thread, the dashboard in a pywebview (Qt) window.

pywebview owns the main thread; the backend serves on its own asyncio loop in a thread
(``background.BackgroundServer``) on a random loopback port, and the window opens only once the
port accepts. The window gets the token privately: it opens ``/?token=...``, the server sets the
session cookie and redirects to ``/``, so the address never shows it. Closing the main window (or
SIGTERM/SIGINT) closes every window and stops the server, closing each WebSocket with 1000.

Nothing here is imported by ``--serve``: the GUI toolkit is imported inside functions only.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

from backend.fileio import write_atomic

from .errors import UsageError

if TYPE_CHECKING:
    from webview import Window

    from .background import BackgroundServer
    from .instance import ControlServer, InstanceLock
    from .status_window import StatusWindow

log = logging.getLogger(__name__)

TITLE = "schmux-desktop"
GEOMETRY_FILE = "window.json"
DEFAULT_SIZE = (1200, 800)
MIN_SIZE = (640, 420)
INSTALL_HINT = "install it with: pip install 'schmux-desktop[desktop]' (or run with --serve)"
ERROR_TITLE = "schmux-desktop: cannot start"


def run_desktop(
    args: argparse.Namespace,
    data_dir: Path,
    token: str | None,
    *,
    lock: InstanceLock | None = None,
) -> int:
    check_display()  # before anything starts: the commonest desktop error
    from .background import BackgroundServer

    # The backend starts first and the window opens without waiting for it: the socket already
    # listens, so the page's first request waits in its backlog while the server thread builds
    # the app (importing the web stack) and serves, as Qt and QtWebEngine start. The cheap checks
    # (demo repo, config, state, port) run here first, so their errors come before any window;
    # DesktopApp.run makes sure the backend did start. Python's imports share one core (the
    # GIL), but QtWebEngine's start-up does not: 2.5 s to the painted dashboard became ~1.6 s.
    server = BackgroundServer(data_dir, token, demo=args.demo, port=args.port, deferred_build=True)
    server.start(wait=False)
    try:
        webview = load_toolkit()
    except BaseException:
        server.stop()
        raise
    app = DesktopApp(webview, server, data_dir)
    control = _control_server(data_dir, app) if lock is not None else None
    if lock is not None:
        lock.publish("desktop")
    try:
        app.run(
            show_status=bool(getattr(args, "status_window", False)),
            print_url=bool(getattr(args, "print_url", False)),
        )
    finally:
        if control is not None:
            control.stop()
        if not server.stop():
            log.warning("the backend did not stop in time")
    if app.error is not None:
        raise app.error
    return 0


def _control_server(data_dir: Path, app: DesktopApp) -> ControlServer | None:
    from .instance import ControlServer

    try:
        return ControlServer(data_dir, app.open_dashboard, app.server.login_url).start()
    except OSError as e:  # a second launch then says this one does not answer
        log.warning("cannot listen for a second launch: %s", e)
        return None


def show_error_dialog(message: str) -> bool:
    """Show a start-up error in a Qt message box when a display is usable; True if shown.

    The caller has printed it to stderr already; this blocks until the user closes the box.
    """
    if os.environ.get("SCHMUX_DESKTOP_NO_DIALOG"):
        return False
    try:
        check_display()
        import PySide6

        _check_qt_platform_plugin(Path(PySide6.__file__).parent)
        from PySide6.QtGui import QIcon
        from PySide6.QtWidgets import QApplication, QMessageBox
    except (UsageError, ImportError):
        return False
    qt_app = QApplication.instance() or QApplication([sys.argv[0] or TITLE])
    icon = _icon_path()
    if icon is not None:
        QApplication.setWindowIcon(QIcon(str(icon)))
    box = QMessageBox(QMessageBox.Icon.Critical, ERROR_TITLE, message)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.exec()
    del qt_app
    return True


def _icon_path() -> Path | None:
    from .resources import icon_file

    return icon_file()


# -- the toolkit ------------------------------------------------------------------------------


def check_display() -> None:
    """Fail early, in one line, when no display can be opened (Qt would abort the process)."""
    if sys.platform != "linux":
        return
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return  # offscreen, wayland, ...: let Qt decide
    display = os.environ.get("DISPLAY")
    if not display:
        if os.environ.get("WAYLAND_DISPLAY") and not platform:
            return
        raise UsageError("no display: run with --serve, or set DISPLAY")
    name = ctypes.util.find_library("xcb") or "libxcb.so.1"
    try:
        xcb = ctypes.CDLL(name)
    except OSError:
        raise UsageError(f"the desktop window needs libxcb (X11); {INSTALL_HINT}") from None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        failed = xcb.xcb_connection_has_error(conn) != 0
    finally:
        xcb.xcb_disconnect(conn)
    if failed:
        raise UsageError(f"no display: cannot open DISPLAY={display}; run with --serve")


def load_toolkit() -> ModuleType:
    """Import pywebview on PySide6 with QtWebEngine, or fail with a one-line UsageError."""
    check_display()
    os.environ["QT_API"] = "pyside6"
    os.environ.setdefault("PYWEBVIEW_GUI", "qt")
    quiet_toolkit_logs()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium refuses to run as root inside its sandbox.
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        if "--no-sandbox" not in flags.split():
            os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --no-sandbox".strip()
    try:
        import PySide6
    except ImportError:
        raise UsageError(f"the desktop window needs PySide6; {INSTALL_HINT}") from None
    _check_qt_platform_plugin(Path(PySide6.__file__).parent)
    try:
        import PySide6.QtWebEngineWidgets
    except ImportError as e:
        raise UsageError(f"the desktop window needs QtWebEngine ({e}); {INSTALL_HINT}") from None
    try:
        import webview
    except ImportError:
        raise UsageError(f"the desktop window needs pywebview; {INSTALL_HINT}") from None
    return webview


# Qt's warnings and Chromium's log lines (no Vulkan library, no GPU vendor, no DRI3, no system
# D-Bus, GPU command buffers) are about the machine, not the app, and look like errors to a
# user. Qt's critical messages and Chromium's fatal ones still show; SCHMUX_DESKTOP_DEBUG=1 (or
# the user's own QT_LOGGING_RULES / --log-level) shows everything.
QT_QUIET_RULES = "*.debug=false;*.info=false;*.warning=false"
CHROMIUM_QUIET_FLAG = "--log-level=3"


def quiet_toolkit_logs() -> None:
    if os.environ.get("SCHMUX_DESKTOP_DEBUG"):
        return
    os.environ.setdefault("QT_LOGGING_RULES", QT_QUIET_RULES)
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
    if not any(f.startswith("--log-level") for f in flags.split()):
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} {CHROMIUM_QUIET_FLAG}".strip()


def _check_qt_platform_plugin(pyside_dir: Path) -> None:
    """Qt aborts the process when its X11 plugin cannot load; say which library is missing."""
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return
    plugin = pyside_dir / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return
    try:
        ctypes.CDLL(str(plugin))
    except OSError as e:
        missing = str(e).split(":", 1)[0]
        raise UsageError(
            f"Qt cannot use the display: {missing} is missing "
            "(on Debian: apt-get install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 "
            "libxkbcommon-x11-0); run with --serve meanwhile"
        ) from None


# -- the app ----------------------------------------------------------------------------------


# The dashboard looks for ``window.schmuxDesktop`` (frontend/src/notify.ts): desktop
# notifications go through the app instead of the browser's Notification API.
HOOKS_JS = """
window.schmuxDesktop = {
  notify: function (title, body, sessionId) {
    var api = window.pywebview && window.pywebview.api;
    if (api && api.notify) return api.notify(String(title), String(body), String(sessionId || ""));
  },
  showStatusWindow: function () {
    var api = window.pywebview && window.pywebview.api;
    if (api && api.show_status_window) return api.show_status_window();
  },
};
"""


class MainApi:
    """What the dashboard may ask of the desktop shell (``window.pywebview.api``)."""

    def __init__(self, app: DesktopApp) -> None:
        self._app = app

    def show_status_window(self) -> None:
        self._app.status.open()

    def open_in_browser(self) -> None:
        self._app.open_in_browser()

    def notify(self, title: str, body: str, session_id: str = "") -> None:
        self._app.notify(str(title)[:200], str(body)[:1000])


class DesktopApp:
    def __init__(self, webview: ModuleType, server: BackgroundServer, data_dir: Path) -> None:
        from .resources import static_dir
        from .status_window import STATUS_PAGE, StatusApi, StatusWindow, desktop_notify

        self.webview = webview
        self.server = server
        self.geometry = Geometry(data_dir / GEOMETRY_FILE)
        self.geometry.load()
        static = static_dir()
        self.status: StatusWindow = StatusWindow(
            webview,
            login_url=server.login_url(STATUS_PAGE),
            page_available=static is not None and (static / "status.html").is_file(),
            api=StatusApi(self.open_session, self.open_dashboard, self.open_in_browser),
            main_rect=self.geometry.rect,
            saved=lambda: self.geometry.status,
            on_moved=self.geometry.status_moved,
        )
        self.notify = desktop_notify
        self.main: Window | None = None
        self.error: UsageError | None = None  # the backend failed to start
        self._closed = threading.Event()
        self._quit_lock = threading.Lock()
        self._quitting = False
        self._print_url = False

    def run(self, *, show_status: bool = False, print_url: bool = False) -> None:
        from webview.menu import Menu, MenuAction

        self._print_url = print_url
        width, height, x, y = self.geometry.load()
        self.main = self.webview.create_window(
            TITLE,
            url=self.server.login_url(),
            width=width,
            height=height,
            x=x,
            y=y,
            min_size=MIN_SIZE,
            js_api=MainApi(self),
            text_select=True,
            zoomable=True,
            background_color="#f5f6f8",
            menu=[
                Menu(
                    "Window",
                    [
                        MenuAction("Status window", self.status.open),
                        MenuAction("Dashboard home", lambda: self.open_session(None)),
                        MenuAction("Open in browser", self.open_in_browser),
                        MenuAction("Reload", self._reload),
                        MenuAction("Quit", self.quit),
                    ],
                )
            ],
        )
        main = self.main
        assert main is not None
        main.events.resized += self.geometry.resized
        main.events.moved += self.geometry.moved
        main.events.closing += self._stop_backend
        main.events.closed += self._on_main_closed
        main.events.loaded += self._install_hooks
        previous = self._install_signal_handlers()
        wakeup = _SignalWakeup(self.quit)
        icon = _icon_path()
        try:
            self.webview.start(
                lambda: self._started(show_status),
                gui="qt",
                private_mode=True,
                debug=bool(os.environ.get("SCHMUX_DESKTOP_DEBUG")),
                icon=str(icon) if icon is not None else None,
            )
        finally:
            wakeup.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.geometry.save()

    def _started(self, show_status: bool) -> None:
        """Once the GUI runs (on a pywebview thread): make sure the backend came up."""
        try:
            self.server.wait_ready()
        except UsageError as e:
            if self._closed.is_set() or self.server.stopping:
                return  # closed (or SIGTERM) before the backend was ready: not an error
            self.error = e
            self.quit()
            return
        if self._print_url:
            print(f"schmux-desktop running at {self.server.login_url()}", flush=True)
        if show_status:
            self.status.open()

    # -- actions (called from pywebview's threads) -------------------------------------------

    def open_dashboard(self) -> None:
        if self.main is not None:
            self.main.show()
            self.main.restore()  # raises and activates

    def open_in_browser(self) -> None:
        """The dashboard in the user's browser, signed in (the address carries the token)."""
        import webbrowser

        url = self.server.login_url()
        try:
            opened = webbrowser.open(url, new=2)
        except Exception as e:  # a broken $BROWSER must not end the app
            log.warning("cannot open a browser: %s", e)
            opened = False
        if not opened:
            self.notify(
                "schmux-desktop", "No browser could be opened; run: schmux-desktop --print-url"
            )

    def open_session(self, session_id: str | None) -> None:
        self.open_dashboard()
        if self.main is not None:
            route = f"#/session/{session_id}" if session_id else "#/"
            self.main.evaluate_js(f"window.location.hash = {json.dumps(route)}")

    def quit(self) -> None:
        with self._quit_lock:  # a signal can ask twice (its wakeup, then its handler)
            if self._quitting or self.main is None or self._closed.is_set():
                return
            self._quitting = True
        self._stop_backend()
        self.main.destroy()

    def _stop_backend(self) -> None:
        # While the page still lives: the server closes its WebSockets with 1000 and the page
        # answers, so nothing is left for Hypercorn's graceful timeout to wait for. (Stopped
        # after the page, the server would wait that timeout for the connections the page
        # dropped.) run_desktop's own stop() then finds it stopped.
        if not self.server.stop():
            log.warning("the backend did not stop in time")

    def _reload(self) -> None:
        if self.main is not None:
            self.main.evaluate_js("window.location.reload()")

    def _install_hooks(self) -> None:
        if self.main is not None:
            self.main.evaluate_js(HOOKS_JS)

    def _on_main_closed(self) -> None:
        self._closed.set()
        self.status.close()  # the app ends when its last window closes

    def _install_signal_handlers(self) -> dict[int, Any]:
        # Qt runs Python signal handlers on the main thread from pywebview's idle timer; closing
        # windows waits on that thread, so do it from another one.
        def handler(signum: int, frame: FrameType | None) -> None:
            threading.Thread(target=self.quit, name="schmux-quit", daemon=True).start()

        previous: dict[int, Any] = {}
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[sig] = signal.signal(sig, handler)
        return previous


class _SignalWakeup:
    """Quit as soon as SIGTERM/SIGINT/SIGHUP arrives. Under Qt, Python runs signal handlers only
    when something calls into Python (pywebview ticks every 500 ms), so the C-level handler's
    wakeup byte is read here by a thread instead, at once."""

    WATCHED = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})

    def __init__(self, on_signal: Callable[[], None]) -> None:
        self._on_signal = on_signal
        self._read, self._write = socket.socketpair()
        self._write.setblocking(False)
        self._previous = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        threading.Thread(target=self._watch, name="schmux-signals", daemon=True).start()

    def _watch(self) -> None:
        while True:
            try:
                data = self._read.recv(64)
            except OSError:
                return
            if not data:
                return
            if any(n in self.WATCHED for n in data):
                self._on_signal()

    def close(self) -> None:
        signal.set_wakeup_fd(self._previous)
        self._write.close()  # the watcher reads the end and leaves
        self._read.close()


class Geometry:
    """The main window's size and position, and where the status window was put, remembered in
    ``D/window.json``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.width, self.height = DEFAULT_SIZE
        self.x: int | None = None
        self.y: int | None = None
        self.status: tuple[int, int] | None = None
        self._changed = False

    def load(self) -> tuple[int, int, int | None, int | None]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        if isinstance(raw, dict):
            self.width = _int_in(raw.get("width"), MIN_SIZE[0], 10000, self.width)
            self.height = _int_in(raw.get("height"), MIN_SIZE[1], 10000, self.height)
            x, y = raw.get("x"), raw.get("y")
            if isinstance(x, int) and isinstance(y, int) and 0 <= x < 10000 and 0 <= y < 10000:
                self.x, self.y = x, y
            status = raw.get("status")
            if isinstance(status, dict):
                sx, sy = status.get("x"), status.get("y")
                if (
                    isinstance(sx, int)
                    and isinstance(sy, int)
                    and 0 <= sx < 10000
                    and 0 <= sy < 10000
                ):
                    self.status = sx, sy
        return self.width, self.height, self.x, self.y

    def rect(self) -> tuple[int | None, int | None, int, int]:
        return self.x, self.y, self.width, self.height

    def status_moved(self, x: int, y: int) -> None:
        self.status, self._changed = (int(x), int(y)), True

    def resized(self, width: int, height: int) -> None:
        self.width, self.height, self._changed = int(width), int(height), True

    def moved(self, x: int, y: int) -> None:
        self.x, self.y, self._changed = int(x), int(y), True

    def save(self) -> None:
        if not self._changed:
            return
        data: dict[str, Any] = {
            "width": self.width,
            "height": self.height,
            "x": self.x,
            "y": self.y,
        }
        if self.status is not None:
            data["status"] = {"x": self.status[0], "y": self.status[1]}
        try:
            write_atomic(self.path, json.dumps(data).encode())
        except OSError as e:
            log.warning("cannot remember the window geometry: %s", e)


def _int_in(value: object, low: int, high: int, default: int) -> int:
    return value if isinstance(value, int) and low <= value <= high else default
