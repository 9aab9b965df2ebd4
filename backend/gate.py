"""The ASGI gate in front of the app: every request passes it before the app reads a byte of it.

In order, for HTTP requests and WebSocket upgrades alike:

1. ``Host``: under --no-auth only loopback names (DNS rebinding).
2. The cross-site rule (``auth.check_cross_site``) for every write and every API or socket path.
3. The token for every API or socket path but healthz: ``Authorization: Bearer``, or for a
   WebSocket a one-time ``?ticket=`` fetched with the header. Wrong attempts are answered slower
   per client (``auth.FailureThrottle``); the right token never waits.
4. A write must declare a JSON body (415 otherwise); one with no body at all from a page that
   passed the cross-site rule by its ``Origin`` is taken as ``{}`` (schmux's dashboard sends those).
5. A declared body over the size limit gets 413 once the gate has read and dropped it (up to
   ``DRAIN_LIMIT``): answered before its client finished sending, the close that follows would
   reset the connection, and the client would see no answer at all.

A refused request gets ``{"error": ...}`` (a WebSocket: that answer instead of the upgrade) without
its body ever being read, so unauthenticated bodies cost no memory. Every HTTP answer also gets
the headers that keep the pages out of frames and the token out of referrers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from . import auth
from .errors import AppError, PayloadTooLarge, Unauthorized

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Quart's own, more precise signature fits

# Scripts only from this server ('unsafe-eval': the desktop window's pywebview bridge builds
# its functions with ``new Function``); inline styles for xterm.js; never inside a frame.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_OURS = {name for name, _ in SECURITY_HEADERS}
DRAIN_LIMIT = 16 * 1024 * 1024  # read and dropped before a 413; a larger body may see a reset
DRAIN_SECONDS = 10.0


class Gate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        allowed_origins: Callable[[], tuple[str, ...]],
        tickets: auth.Tickets,
        throttle: auth.FailureThrottle,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_body: int | None = None,
    ) -> None:
        self.app = app
        self.token = token
        self.allowed_origins = allowed_origins
        self.tickets = tickets
        self.throttle = throttle
        self.sleep = sleep
        self.max_body = max_body
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            await self._check(scope)
        except AppError as e:
            self.refused += 1
            await _refuse(scope, send, e)
            return
        if kind == "http" and self.max_body is not None:
            length = _headers(scope).get("content-length", "")
            if length.isdigit() and int(length) > self.max_body:
                self.refused += 1
                await _drain(receive, int(length))
                limit = f"at most {self.max_body // 1024} KiB"
                await _refuse(
                    scope, send, PayloadTooLarge(f"the request body is too large ({limit})")
                )
                return
        await self.app(scope, receive, _with_security_headers(send) if kind == "http" else send)

    async def _check(self, scope: Scope) -> None:
        headers = _headers(scope)
        host = headers.get("host")
        websocket = scope["type"] == "websocket"
        method = "GET" if websocket else str(scope.get("method", "GET")).upper()
        path = str(scope.get("path", ""))
        protected = auth.is_protected(path)
        mutating = method in auth.MUTATING_METHODS
        auth.check_host(self.token is None, host)
        if protected or mutating:
            auth.check_cross_site(
                headers.get("origin"),
                headers.get("sec-fetch-site"),
                host,
                str(scope.get("scheme", "http")),
                self.allowed_origins(),
                (headers.get("x-forwarded-host"), headers.get("x-forwarded-proto")),
            )
        if protected and self.token is not None:
            await self._check_token(scope, headers, websocket)
        if mutating and not auth.is_empty_own_page_write(headers):
            auth.check_json_body(headers.get("content-type"))

    async def _check_token(self, scope: Scope, headers: dict[str, str], websocket: bool) -> None:
        assert self.token is not None
        authorization = headers.get("authorization")
        if websocket and authorization is None:
            ticket = _query_value(scope, "ticket")
            if ticket is not None:
                if self.tickets.redeem(ticket):
                    return
                await self._slow_down(scope)
                raise Unauthorized(
                    f"the WebSocket ticket is unknown, used or expired; {auth.SIGNED_OUT}"
                )
        try:
            auth.check_token(self.token, authorization)
        except AppError:
            if authorization is not None:  # a guess; a missing header is not one
                await self._slow_down(scope)
            raise

    async def _slow_down(self, scope: Scope) -> None:
        client = scope.get("client")
        address = str(client[0]) if client else "?"
        wait = self.throttle.failed(address)
        if wait > 0:
            await self.sleep(wait)


async def _drain(receive: Receive, length: int) -> None:
    """Read and drop a request body (at most ``DRAIN_LIMIT`` bytes, ``DRAIN_SECONDS``)."""
    if length > DRAIN_LIMIT:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while True:
                message = await receive()
                if message.get("type") != "http.request" or not message.get("more_body"):
                    return


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name; the first of repeated ones wins."""
    out: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        key = bytes(name).decode("latin-1").lower()
        if key not in out:
            out[key] = bytes(value).decode("latin-1")
    return out


def _query_value(scope: Scope, key: str) -> str | None:
    raw = bytes(scope.get("query_string", b"")).decode("latin-1")
    for k, v in parse_qsl(raw, keep_blank_values=True):
        if k == key:
            return v
    return None


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(n, v) for n, v in message.get("headers", ()) if bytes(n).lower() not in _OURS]
            message["headers"] = [*kept, *SECURITY_HEADERS]
        await send(message)

    return sending


async def _refuse(scope: Scope, send: Send, error: AppError) -> None:
    body = json.dumps({"error": error.message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *SECURITY_HEADERS,
    ]
    if scope["type"] == "http":
        # The body is left unread: the server closes the connection after this answer.
        headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {"type": "websocket.http.response.start", "status": error.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})
    else:  # a server without the denial-response extension answers a close with 403
        await send({"type": "websocket.close", "code": 1008})
