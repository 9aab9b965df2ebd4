"""The backend on its own asyncio loop in a thread, for hosts that own the main thread.

The desktop window (pywebview owns the main thread) and the self-test use it; ``--serve`` runs
the same ``server.run`` on the main thread instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .appbuild import build, preflight
from .errors import UsageError
from .server import BindError, bind_socket, login_url, run, url_for

if TYPE_CHECKING:
    from quart import Quart

    from backend.services import Services

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class BackgroundServer:
    """Build the app, bind ``host:port``, serve on a thread; ``stop()`` ends it cleanly.

    With ``deferred_build`` only the cheap start-up checks (``preflight``) and the bind happen
    here, and the app is built (its web stack imported, ~0.5 s) on the server thread: the
    desktop window starts meanwhile.
    """

    def __init__(
        self,
        data_dir: Path,
        token: str | None,
        *,
        demo: bool,
        host: str = "127.0.0.1",
        port: int = 0,
        deferred_build: bool = False,
    ) -> None:
        self.token = token
        self.host = host
        self._data_dir = data_dir
        self._app: Quart | None = None
        self.services: Services | None = None
        if deferred_build:
            preflight(data_dir, demo)
        else:
            self._build(demo)
        try:
            self._sock = bind_socket(host, port)
        except BindError as e:
            raise UsageError(str(e)) from e
        self.port: int = self._sock.getsockname()[1]
        self.base_url = url_for(host, self.port)
        if self.services is not None:
            self.services.public_url = self.base_url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._started_at = time.monotonic()
        self._error: BaseException | None = None
        self._stop_requested = threading.Event()
        self._serving = False
        self._thread = threading.Thread(target=self._main, name="schmux-backend", daemon=True)

    def _build(self, demo: bool) -> Quart:
        self._app, self.services = build(self._data_dir, self.token, demo)
        return self._app

    def login_url(self, page: str = "/") -> str:
        """The private address that signs a window's page in (never shown: the page keeps the
        token in its origin's storage and takes it out of the address at once)."""
        return login_url(self.base_url, self.token, page)

    def start(self, timeout: float = START_TIMEOUT, *, wait: bool = True) -> None:
        """Start serving; with ``wait``, return once the port accepts connections.

        The socket listens from construction on, so a client may connect before the server is
        ready: its connection waits in the backlog. Without ``wait``, call ``wait_ready()``.
        """
        self._started_at = time.monotonic()
        self._thread.start()
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Return once serving; ``UsageError`` if the backend failed or did not start in time."""
        deadline = self._started_at + timeout
        while not self._ready.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread.join(1.0)
                if isinstance(self._error, UsageError):
                    raise self._error
                reason = self._error or "timed out"
                raise UsageError(f"the backend did not start: {reason}")
        while not _accepts(self.host, self.port):
            if self.stopping or not self._thread.is_alive():
                raise UsageError("the backend stopped while starting")
            if time.monotonic() > deadline:
                raise UsageError(f"the backend does not accept connections on port {self.port}")
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the server to stop (WebSockets closed with 1000) and wait. True if it ended."""
        self._stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """``stop()`` was called (maybe before the server was ready)."""
        return self._stop_requested.is_set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_ignore_cancelled)
        self._loop = loop
        try:
            with asyncio.Runner(loop_factory=lambda: loop) as runner:
                runner.run(self._serve())
        except UsageError as e:  # a deferred build found a problem: wait_ready() says it
            self._error = e
        except BaseException as e:
            self._error = e
            log.exception("the backend stopped with an error")
        finally:
            if self._serving:
                self._sock.detach()  # Hypercorn owned and closed the descriptor
            else:
                self._sock.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = self._app
        if app is None:
            app = self._build(demo=False)  # preflight made the demo repo
            assert self.services is not None
            self.services.public_url = self.base_url
        if self._stop_requested.is_set():
            return
        self._serving = True
        await run(
            app,
            self._sock,
            on_ready=self._ready.set,
            stop=self._stop,
            install_signals=False,
        )


def _ignore_cancelled(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Python 3.11's StreamReaderProtocol logs "Exception in callback" with a CancelledError
    # traceback for connections still open when the loop closes (fixed in 3.12). Not an error.
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
