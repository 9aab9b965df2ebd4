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
from typing import TYPE_CHECKING, Any, cast

from .cli import UsageError, build
from .server import BindError, bind_socket, run, url_for

if TYPE_CHECKING:
    from backend.services import Services

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


class BackgroundServer:
    """Build the app, bind ``host:port``, serve on a thread; ``stop()`` ends it cleanly."""

    def __init__(
        self,
        data_dir: Path,
        token: str | None,
        *,
        demo: bool,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.host = host
        app, services = build(data_dir, token, demo)
        self.services = cast("Services", services)
        try:
            self._sock = bind_socket(host, port)
        except BindError as e:
            raise UsageError(str(e)) from e
        self.port: int = self._sock.getsockname()[1]
        self.base_url = url_for(host, self.port)
        self.services.public_url = self.base_url
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="schmux-backend", daemon=True)

    @property
    def login_url(self) -> str:
        """The private URL that trades the token for the session cookie (never shown)."""
        return f"{self.base_url}/?token={self.token}" if self.token else f"{self.base_url}/"

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start serving; return once the port accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread.join(1.0)
                reason = self._error or "timed out"
                raise UsageError(f"the backend did not start: {reason}")
        while not _accepts(self.host, self.port):
            if time.monotonic() > deadline:
                raise UsageError(f"the backend does not accept connections on port {self.port}")
            time.sleep(0.02)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the server to stop (WebSockets closed with 1000) and wait. True if it ended."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

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
        except BaseException as e:
            self._error = e
            log.exception("the backend stopped with an error")
        finally:
            self._sock.detach()  # Hypercorn owned and closed the descriptor

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        await run(
            self._app,  # type: ignore[arg-type]
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
