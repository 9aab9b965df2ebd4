"""Requests to one configured host: its REST routes and socket upgrades, with its token.

The host's address comes from an ``Endpoint``: a url host's is fixed (``FixedUrl``); an ssh
host's is a local port its tunnel forwards, known only while the tunnel is up (``TunnelUrl``
wraps any object with ``state``, ``local_port``, ``error``, ``start`` and ``stop``). The token
goes in an ``Authorization`` header, to this host only; a socket is opened with a one-time
ticket fetched with it (docs/API.md#authentication), so the token never sits in a URL.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .errors import BadGateway, HostUnavailable

CONNECT_TIMEOUT = 5.0
# A request's own wait is given by its kind (``backend.hostlimits``, through the host's link);
# this is the wait of one that names none.
READ_TIMEOUT = 30.0
TICKET_TIMEOUT = 10.0  # a host that takes connections but answers nothing (frozen) is let go
MAX_MESSAGE = 64 * 1024 * 1024  # a dashboard payload of hundreds of workspaces fits many times


class Endpoint(Protocol):
    """Where a host's server can be reached now."""

    def base_url(self) -> str | None:
        """``http(s)://host:port`` with no trailing ``/``; None while it cannot be reached."""
        ...

    @property
    def error(self) -> str:
        """Why it could not be reached last; "" while it has not failed (still starting)."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class FixedUrl:
    """A url host: always the configured address."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.error = ""

    def base_url(self) -> str | None:
        return self.url

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class TunnelLike(Protocol):
    @property
    def state(self) -> Any: ...  # an enum whose value is "up" when the forward works

    @property
    def local_port(self) -> int | None: ...

    @property
    def error(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class TunnelUrl:
    """An ssh host: the loopback port its tunnel forwards to the host's server, while up."""

    def __init__(self, tunnel: TunnelLike) -> None:
        self.tunnel = tunnel

    def base_url(self) -> str | None:
        port = self.tunnel.local_port
        if getattr(self.tunnel.state, "value", self.tunnel.state) != "up" or port is None:
            return None
        return f"http://127.0.0.1:{port}"

    @property
    def error(self) -> str:
        return self.tunnel.error

    async def start(self) -> None:
        await self.tunnel.start()

    async def stop(self) -> None:
        await self.tunnel.stop()


class Unreachable:
    """A host this build cannot reach (an ssh host while no tunnel is plugged in)."""

    def __init__(self, error: str) -> None:
        self.error = error

    def base_url(self) -> str | None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str


def describe(e: BaseException) -> str:
    """One line for a person: what failed when talking to a host."""
    if isinstance(e, httpx.ConnectError | ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, httpx.TimeoutException | TimeoutError):
        return "no answer in time"
    if isinstance(e, ConnectionClosed):  # websockets' own words name frames, not what happened
        if e.rcvd is None:
            return "the connection dropped"
        reason = f": {e.rcvd.reason[:200]}" if e.rcvd.reason else ""
        return f"the host closed the connection (code {e.rcvd.code}{reason})"
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


class HostClient:
    def __init__(self, name: str, token: str, endpoint: Endpoint) -> None:
        self.name = name
        self.endpoint = endpoint
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT, pool=CONNECT_TIMEOUT),
            trust_env=False,  # a host is reached directly (or through its own ssh tunnel)
            follow_redirects=False,
        )

    def base_url(self) -> str:
        base = self.endpoint.base_url()
        if base is None:
            raise HostUnavailable(f"host {self.name} is offline")
        return base

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send one request to the host. Raises ``HostUnavailable`` while it has no address,
        ``BadGateway`` when it cannot be reached or fails (5xx); its 4xx answers are returned."""
        url = self.base_url() + path + (f"?{query}" if query else "")
        headers = dict(self._headers)
        if method not in ("GET", "HEAD"):
            headers["Content-Type"] = "application/json"
        try:
            r = await self._http.request(
                method,
                url,
                content=body,
                headers=headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as e:
            raise BadGateway(f"host {self.name} did not answer: {describe(e)}") from None
        if r.status_code >= 500:
            raise BadGateway(f"host {self.name} failed: {_error_text(r)}")
        if r.status_code == 401:
            if not self._headers:
                raise BadGateway(f"host {self.name} needs a token (none is configured)")
            raise BadGateway(f"host {self.name} refused the configured token")
        return Answer(r.status_code, r.content, r.headers.get("content-type", ""))

    async def ticket(self) -> str | None:
        """A one-time WebSocket pass from the host (None for a host without a token)."""
        if not self._headers:
            return None
        answer = await self.request("POST", "/api/ws-ticket", body=b"{}", timeout=TICKET_TIMEOUT)
        try:
            ticket = httpx.Response(200, content=answer.body).json()["ticket"]
        except (ValueError, KeyError, TypeError):
            raise BadGateway(f"host {self.name} gave no WebSocket ticket") from None
        if not isinstance(ticket, str):
            raise BadGateway(f"host {self.name} gave no WebSocket ticket")
        return ticket

    @asynccontextmanager
    async def socket(
        self, path: str, *, ping_interval: float | None, ping_timeout: float | None
    ) -> AsyncIterator[ClientConnection]:
        """A WebSocket to ``path`` on the host, opened with a fresh ticket."""
        base = self.base_url()
        ticket = await self.ticket()
        url = "ws" + base[len("http") :] + path
        if ticket is not None:
            url += "?ticket=" + urllib.parse.quote(ticket, safe="")
        async with connect(
            url,
            proxy=None,
            open_timeout=CONNECT_TIMEOUT * 2,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=1.0,
            max_size=MAX_MESSAGE,
            compression=None,
        ) as ws:
            yield ws


def _error_text(r: httpx.Response) -> str:
    try:
        error = r.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error)[:300] if error else f"HTTP {r.status_code}"
