"""The tray-style status window: a small always-on-top pywebview window on ``/status.html``.

Why a web page and not a Qt widget: the page is live over the same ``/ws/dashboard`` push as the
dashboard (with its own connection state and reconnects), needs no second client of the protocol
in Python, and works in a plain browser under ``--serve`` too. The page lives in
``frontend/status.html`` (script ``frontend/src/status/main.ts``) and is built into
``backend/web`` with the dashboard.

The window opens the private ``/status.html?token=`` address hidden; the page keeps the token in
its origin's storage and takes it out of the address, and the window shows itself once loaded.
The token is never displayed.
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
MARGIN = 16  # from the screen's top-right corner, where a tray popup would sit


class StatusApi:
    """What the status page may ask of the app (``window.pywebview.api``)."""

    def __init__(
        self,
        open_session: Callable[[str], None],
        open_dashboard: Callable[[], None],
    ) -> None:
        # Underscored so pywebview does not expose (or walk) them.
        self._open_session = open_session
        self._open_dashboard = open_dashboard

    def open_session(self, session_id: str) -> None:
        self._open_session(str(session_id))

    def open_dashboard(self) -> None:
        self._open_dashboard()


class StatusWindow:
    """Opens (once) and raises the status window; ``close()`` when the app quits."""

    def __init__(
        self,
        webview: Any,
        *,
        login_url: str,
        page_available: bool,
        api: StatusApi,
    ) -> None:
        self._webview = webview
        self._login_url = login_url
        self._page_available = page_available
        self._api = api
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

    def _corner(self) -> tuple[int | None, int | None]:
        try:
            screen = self._webview.screens[0]
            return max(0, int(screen.width) - WIDTH - MARGIN), MARGIN
        except Exception:  # no screen information: let the toolkit place it
            return None, None

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
