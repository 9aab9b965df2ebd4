"""Who may talk to the app: the token, one-time WebSocket tickets, and the cross-site rules.

Pure rules over header values, plus two small stateful helpers (``Tickets``, ``FailureThrottle``)
with an injectable clock; ``backend.gate`` applies them to every request before the app reads a
byte of its body.

No cookie ever authenticates anything: cookies reach every port of a host, so a page or a server
on another port of 127.0.0.1 would get them. A request proves itself with
``Authorization: Bearer <token>``; a browser's WebSocket (which cannot set that header) with a
one-time ticket that an authenticated request fetched a moment before.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import BadRequest, Forbidden, Unauthorized, UnsupportedMediaType

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MIN_TOKEN_LENGTH = 16
TICKET_TTL = 30.0  # seconds a WebSocket ticket stays valid (used once)

SIGNED_OUT = (
    "signed out: open the address schmux-desktop printed at start (it ends in ?token=...), "
    "or send 'Authorization: Bearer <token>'"
)


def is_protected(path: str) -> bool:
    """The API and the sockets need the token; healthz and the static files do not."""
    return path.startswith(("/api/", "/ws/")) and path != "/api/healthz"


def token_matches(expected: str, presented: str | None) -> bool:
    if presented is None:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def check_token(expected: str | None, authorization: str | None) -> None:
    if expected is None:
        return
    presented = bearer(authorization)
    if presented is None:
        raise Unauthorized(f"authentication required; {SIGNED_OUT}")
    if not token_matches(expected, presented):
        raise Unauthorized(f"the token is wrong; {SIGNED_OUT}")


def host_name(host_header: str) -> str:
    host = host_header.strip()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_host(host_header: str | None) -> bool:
    if not host_header:
        return False
    name = host_name(host_header).lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_HOST_HEADER = re.compile(r"^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9._-]{1,253})(:[0-9]{1,5})?$")


def valid_host_header(host_header: str) -> bool:
    """A name or address, with an optional port, that the web stack can take apart."""
    if not _HOST_HEADER.match(host_header):
        return False
    name = host_name(host_header)
    if name.startswith("["):
        return True
    try:
        name.encode("idna")  # empty or over-long labels ("a..b") fail here, as in the router
    except UnicodeError:
        return False
    return True


def check_host(no_auth: bool, host_header: str | None) -> None:
    """A Host the app can parse (400); under --no-auth only loopback names (DNS rebinding)."""
    if host_header is not None and not valid_host_header(host_header):
        raise BadRequest(f"the Host header {host_header[:100]!r} is not a valid host name")
    if no_auth and not is_loopback_host(host_header):
        raise Forbidden("this server runs without a token and only answers requests for localhost")


def check_origin(
    origin: str | None,
    host_header: str | None,
    scheme: str,
    allowed: tuple[str, ...],
    forwarded: tuple[str | None, str | None] = (None, None),
) -> None:
    """A browser's Origin must be the server's own (or a configured one); none is fine.

    Behind a reverse proxy the page's origin is the proxy's: one that says so with
    ``X-Forwarded-Host`` (and ``X-Forwarded-Proto``) makes that origin ours too. A page cannot
    set that header on another site's request (it is not CORS-safelisted, and this server grants
    no preflight), nor on a WebSocket.
    """
    if origin is None:
        return
    origin = origin.rstrip("/")
    if origin in allowed:
        return
    parts = urlsplit(origin)
    own_scheme = "https" if scheme in ("https", "wss") else "http"
    if host_header and parts.scheme == own_scheme and parts.netloc.lower() == host_header.lower():
        return
    fwd_host, fwd_proto = (v.split(",", 1)[0].strip() if v else "" for v in forwarded)
    fwd_scheme = fwd_proto.lower() or own_scheme
    if fwd_host and parts.scheme == fwd_scheme and parts.netloc.lower() == fwd_host.lower():
        return
    raise Forbidden(f"origin {origin[:200]!r} is not allowed to use this server")


def check_cross_site(
    origin: str | None,
    fetch_site: str | None,
    host_header: str | None,
    scheme: str,
    allowed: tuple[str, ...],
    forwarded: tuple[str | None, str | None] = (None, None),
) -> None:
    """The cross-site rule for writes, the API and the sockets.

    ``Sec-Fetch-Site: cross-site`` is refused outright. A browser names the page's ``Origin`` on
    every write and socket; it must be ours or a configured one. Without ``Origin``, a browser's
    ``same-site`` request (another port of the same host is the same site) is refused too: only
    scripts and agents' hooks, which send neither header, are judged by the token alone.
    """
    site = (fetch_site or "").strip().lower()
    if site == "cross-site":
        raise Forbidden("cross-site requests are refused: use the dashboard this server serves")
    if origin is not None:
        check_origin(origin, host_header, scheme, allowed, forwarded)
    elif site == "same-site":
        raise Forbidden("requests from another site's page are refused")


def is_empty_own_page_write(headers: Mapping[str, str]) -> bool:
    """A write with no body and no ``Content-Type`` that a page of ours (or an allowed origin) sent.

    schmux's dashboard posts its dispose and scan calls as ``fetch(url, {method: "POST"})``. Such
    a request carries no data, and its ``Origin`` (which a page cannot forge) has already passed
    the cross-site rule, so it is taken like a JSON write of ``{}``. Without ``Origin`` (scripts),
    with any ``Content-Type`` but JSON, or with a body, the JSON rule stands.
    """
    origin = headers.get("origin")
    return (
        origin is not None
        and origin.strip() not in ("", "null")
        and "content-type" not in headers
        and "transfer-encoding" not in headers
        and headers.get("content-length", "0").strip() == "0"
    )


def check_json_body(content_type: str | None) -> None:
    """Every write carries JSON: a form or ``text/plain`` body is what another page could send."""
    mimetype = (content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != "application/json":
        shown = f" (not {mimetype[:100]!r})" if mimetype else ""
        raise UnsupportedMediaType(
            f"send the request with 'Content-Type: application/json'{shown}, even with no body"
        )


class Tickets:
    """One-time, short-lived passes for a browser's WebSocket upgrade.

    ``issue`` is called by an authenticated request; ``redeem`` accepts a ticket once, within
    ``ttl`` seconds. At most ``limit`` are outstanding (the oldest go first).
    """

    def __init__(
        self,
        *,
        ttl: float = TICKET_TTL,
        limit: int = 1000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.limit = limit
        self._now = now
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def issue(self) -> str:
        now = self._now()
        self._prune(now)
        while len(self._expiry) >= self.limit:
            self._expiry.popitem(last=False)
        ticket = secrets.token_urlsafe(32)
        self._expiry[ticket] = now + self.ttl
        return ticket

    def redeem(self, ticket: str | None) -> bool:
        if not ticket:
            return False
        expiry = self._expiry.pop(ticket, None)
        return expiry is not None and self._now() <= expiry

    def __len__(self) -> int:
        self._prune(self._now())
        return len(self._expiry)

    def _prune(self, now: float) -> None:
        while self._expiry:
            first, expiry = next(iter(self._expiry.items()))
            if expiry >= now:
                return
            del self._expiry[first]


@dataclass
class _Failures:
    count: int = 0
    next_slot: float = 0.0
    last: float = 0.0


class FailureThrottle:
    """Slows wrong-token answers per client address; the right token is never delayed.

    The first ``free`` failures within ``forget_after`` seconds are answered at once; after that
    a client's failures are answered one per ``interval``, each waiting for its own slot, at most
    ``max_wait`` seconds. The right token is checked before this is asked, so a guesser on the
    same address (every local page is 127.0.0.1) never locks the user out.
    """

    def __init__(
        self,
        *,
        free: int = 10,
        interval: float = 0.5,
        max_wait: float = 10.0,
        forget_after: float = 60.0,
        limit: int = 10_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.interval = interval
        self.max_wait = max_wait
        self.forget_after = forget_after
        self.limit = limit
        self._now = now
        self._clients: OrderedDict[str, _Failures] = OrderedDict()

    def failed(self, client: str) -> float:
        """Record a failure; return how long to wait before answering it."""
        now = self._now()
        entry = self._clients.pop(client, None)
        if entry is None or now - max(entry.last, entry.next_slot) > self.forget_after:
            entry = _Failures()
        self._clients[client] = entry  # most recent last
        while len(self._clients) > self.limit:
            self._clients.popitem(last=False)
        entry.count += 1
        entry.last = now
        if entry.count <= self.free:
            return 0.0
        entry.next_slot = min(max(now, entry.next_slot) + self.interval, now + self.max_wait)
        return entry.next_slot - now

    def failures(self, client: str) -> int:
        entry = self._clients.get(client)
        return 0 if entry is None else entry.count
