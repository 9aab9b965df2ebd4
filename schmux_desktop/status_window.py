"""The tray-style status window: a small always-on-top pywebview window on ``/status.html``.

Why a web page and not a Qt widget: the page is live over the same ``/ws/dashboard`` push as the
dashboard (with its own connection state and reconnects), needs no second client of the protocol
in Python, and works in a plain browser under ``--serve`` too. The page lives in
``frontend/status.html`` (script ``frontend/src/status/main.ts``) and is built into
``backend/web`` with the dashboard.

The window opens the private ``/status.html?token=`` address hidden; the page keeps the token in
its origin's storage and takes it out of the address, and the window shows itself once loaded.
The token is never displayed.

Where it opens: where the user last put it (``D/window.json``, key ``status``) if that is still
on a screen; else the screen corner that covers the least of the main window (on a typical
screen, none of it), top-right first, like a tray popup. It is always on top, so opening it over
the dashboard's connection indicator and spawn form would hide what it summarises.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from webview import Window

log = logging.getLogger(__name__)

TITLE = "schmux-desktop status"
STATUS_PAGE = "/status.html"
WIDTH, HEIGHT = 320, 420

MISSING_PAGE = """<!doctype html><meta charset="utf-8"><title>schmux-desktop status</title>
<body style="font-family:sans-serif;padding:12px"><h1 style="font-size:15px">No status page</h1>
<p>This build of the dashboard has no <code>status.html</code>. Rebuild the frontend:
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p></body>"""
MARGIN = 16  # from the screen's edges

Rect = tuple[int, int, int, int]  # x, y, width, height
# The main window's place: x and y are None until it has one (the toolkit centres it).
MainRect = tuple[int | None, int | None, int, int]


def overlap(a: Rect, b: Rect) -> int:
    """The area two rectangles share."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def place(
    screen: tuple[int, int], main: Rect | None, saved: tuple[int, int] | None
) -> tuple[int, int]:
    """Where the status window opens on a ``screen`` (width, height).

    ``saved``: where the user last put it, kept while the window still fits on the screen.
    Else the corner covering the least of the main window (top-right, bottom-right,
    bottom-left, top-left on a tie)."""
    sw, sh = screen
    if saved is not None:
        x, y = saved
        if 0 <= x <= sw - WIDTH // 2 and 0 <= y <= sh - 40:
            return x, y
    right, bottom = max(0, sw - WIDTH - MARGIN), max(0, sh - HEIGHT - MARGIN)
    corners = [(right, MARGIN), (right, bottom), (MARGIN, bottom), (MARGIN, MARGIN)]
    if main is None:
        return corners[0]
    return min(corners, key=lambda c: overlap((c[0], c[1], WIDTH, HEIGHT), main))


def main_on(screen: tuple[int, int], main: MainRect | None) -> Rect | None:
    """The main window's rectangle; one not placed yet is where the toolkit puts it: centred."""
    if main is None:
        return None
    x, y, w, h = main
    if x is None or y is None:
        return (screen[0] - w) // 2, (screen[1] - h) // 2, w, h
    return x, y, w, h


class StatusApi:
    """What the status page may ask of the app (``window.pywebview.api``)."""

    def __init__(
        self,
        open_session: Callable[[str], None],
        open_dashboard: Callable[[], None],
        open_in_browser: Callable[[], None] | None = None,
    ) -> None:
        # Underscored so pywebview does not expose (or walk) them.
        self._open_session = open_session
        self._open_dashboard = open_dashboard
        self._open_in_browser = open_in_browser

    def open_session(self, session_id: str) -> None:
        self._open_session(str(session_id))

    def open_dashboard(self) -> None:
        self._open_dashboard()

    def open_in_browser(self) -> None:
        if self._open_in_browser is not None:
            self._open_in_browser()


class StatusWindow:
    """Opens (once) and raises the status window; ``close()`` when the app quits."""

    def __init__(
        self,
        webview: Any,
        *,
        login_url: str,
        page_available: bool,
        api: StatusApi,
        main_rect: Callable[[], MainRect | None] = lambda: None,
        saved: Callable[[], tuple[int, int] | None] = lambda: None,
        on_moved: Callable[[int, int], None] | None = None,
    ) -> None:
        self._webview = webview
        self._login_url = login_url
        self._page_available = page_available
        self._api = api
        self._main_rect = main_rect
        self._saved = saved
        self._on_moved = on_moved
        self._window: Window | None = None
        self._lock = threading.Lock()

    @property
    def window(self) -> Window | None:
        return self._window

    def open(self) -> None:
        """Create the window, or bring it to the front if it is open."""
        with self._lock:
            if self._window is not None:
                self._window.show()
                self._window.restore()
                return
            x, y = self._corner()
            if not self._page_available:
                self._window = self._webview.create_window(
                    TITLE, html=MISSING_PAGE, width=WIDTH, height=HEIGHT, x=x, y=y, on_top=True
                )
            else:
                self._window = self._webview.create_window(
                    TITLE,
                    url=self._login_url,
                    width=WIDTH,
                    height=HEIGHT,
                    x=x,
                    y=y,
                    min_size=(240, 260),
                    on_top=True,
                    hidden=True,
                    js_api=self._api,
                    text_select=True,
                )
                window = self._window
                window.events.loaded += lambda: self._on_loaded(window)
            assert self._window is not None
            window_ref = self._window
            window_ref.events.closed += lambda: self._on_closed(window_ref)
            if self._on_moved is not None:
                on_moved = self._on_moved
                window_ref.events.moved += lambda x, y: on_moved(int(x), int(y))

    def _corner(self) -> tuple[int | None, int | None]:
        try:
            screen = self._webview.screens[0]
            size = (int(screen.width), int(screen.height))
        except Exception:  # no screen information: let the toolkit place it
            return None, None
        return place(size, main_on(size, self._main_rect()), self._saved())

    def close(self) -> None:
        with self._lock:
            window, self._window = self._window, None
        if window is not None:
            window.destroy()

    def _on_loaded(self, window: Window) -> None:
        url = window.get_current_url() or ""
        if urlsplit(url).path == STATUS_PAGE:
            window.show()

    def _on_closed(self, window: Window) -> None:
        with self._lock:
            if self._window is window:
                self._window = None


def desktop_notify(title: str, body: str) -> None:
    """Show a desktop notification when the platform has a notifier; never fails."""
    notifier = shutil.which("notify-send")
    if notifier is None:
        log.info("notification (no notifier): %s: %s", title, body)
        return
    try:
        subprocess.Popen(
            [notifier, "--app-name=schmux-desktop", title, body],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as e:
        log.info("notification failed: %s", e)
