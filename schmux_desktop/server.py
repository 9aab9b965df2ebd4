"""Run the backend under Hypercorn on a socket we bind ourselves (so port 0 works)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # the web stack is imported when serving starts, not with bind_socket
    from hypercorn.config import Config as HypercornConfig
    from quart import Quart

    from backend.services import Services

log = logging.getLogger(__name__)

WS_MAX_MESSAGE = 64 * 1024
MISSED_PINGS = 3  # a peer silent for this many ping intervals is dropped
MAX_REQUEST_HEAD = 64 * 1024
LINGER = 0.05  # Hypercorn's graceful timeout: only idle connections are left by then


class BindError(Exception):
    pass


@dataclass(frozen=True)
class Tls:
    """``--tls-cert``/``--tls-key``: the listening socket speaks HTTPS/WSS."""

    cert: Path
    key: Path


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        hint = " (is another server using it? pick another --port)" if e.errno == 98 else ""
        raise BindError(f"cannot listen on {host}:{port}: {e.strerror or e}{hint}") from e
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int, scheme: str = "http") -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def login_url(base: str, token: str | None, page: str = "/") -> str:
    """The address that signs a browser in; the token percent-encoded (``+``, ``/``, ``=``...)."""
    return f"{base}{page}?token={quote(token, safe='')}" if token else f"{base}{page}"


def hypercorn_config(
    sock: socket.socket,
    *,
    ping_interval: float = 20.0,
    tls: Tls | None = None,
    plain_sock: socket.socket | None = None,
) -> HypercornConfig:
    """Serve ``sock`` (over TLS with ``tls``); ``plain_sock`` is an extra plain-HTTP listener.

    With certfile and keyfile set, Hypercorn wraps the sockets of ``bind`` in TLS and serves
    those of ``insecure_bind`` as plain HTTP (``Config.create_sockets``); without them it serves
    ``bind`` as plain HTTP and ignores ``insecure_bind``.
    """
    from hypercorn.config import Config as HypercornConfig

    config = HypercornConfig()
    config.bind = [f"fd://{sock.fileno()}"]
    if tls is not None:
        config.certfile = str(tls.cert)
        config.keyfile = str(tls.key)
        # HTTP/1.1 only: the WebSockets then upgrade exactly as over plain HTTP (no RFC 8441
        # extended CONNECT over HTTP/2), the path every test exercises.
        config.alpn_protocols = ["http/1.1"]
        if plain_sock is not None:
            config.insecure_bind = [f"fd://{plain_sock.fileno()}"]
    # By the time Hypercorn stops, our WebSockets are closed (1000) and no request is being
    # answered (Services.begin_shutdown): what remains is idle, keep-alive connections and the
    # ping sleepers of closed WebSockets, which would only notice after a ping interval.
    config.graceful_timeout = LINGER
    config.websocket_max_message_size = WS_MAX_MESSAGE
    # A request head (line and headers) may take this much before h11 refuses it with a bare 431:
    # at its default (16 KiB) a long URL parsed or not depending on how TCP cut it up.
    config.h11_max_incomplete_size = MAX_REQUEST_HEAD
    config.websocket_ping_interval = ping_interval
    # Hypercorn sends pings but ignores missing pongs; any incoming bytes (pongs included)
    # reset this timer, so a WebSocket peer that stops answering is dropped.
    config.read_timeout = int(ping_interval * MISSED_PINGS) + 1
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def _quiet_cancellation(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Connections still open at the graceful timeout are cancelled: that is not an error."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


async def run(
    app: Quart,
    sock: socket.socket,
    *,
    on_ready: Callable[[], None],
    stop: asyncio.Event | None = None,
    install_signals: bool = True,
    tls: Tls | None = None,
    plain_sock: socket.socket | None = None,
) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM), closing WebSockets with 1000 first."""
    from hypercorn.asyncio import serve

    from schmux_desktop.heap import tune_malloc
    from schmux_desktop.wscompression import refuse_websocket_compression

    tune_malloc()  # large pushes to many clients reuse their frame buffers (see heap.py)
    services: Services = app.config["SERVICES"]
    if not services.config.websocket_compression:
        refuse_websocket_compression()  # one push, not one compression per client (see there)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_cancellation)
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    async def shutdown_trigger() -> None:
        on_ready()  # Hypercorn calls the trigger once its servers accept connections
        await stop.wait()
        await services.begin_shutdown()

    ping = services.config.websocket_ping_interval_ms / 1000
    hc = hypercorn_config(sock, ping_interval=ping, tls=tls, plain_sock=plain_sock)
    serving: Any = serve(app, hc, shutdown_trigger=shutdown_trigger)
    try:
        await serving
    finally:
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
