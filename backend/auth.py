"""Who may talk to the app: token (header or cookie), Origin and Host checks.

Pure functions over header values, so the web layer stays thin and the rules are testable.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlsplit

from .errors import Forbidden, Unauthorized

COOKIE_NAME = "schmux_token"


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


def check_token(expected: str | None, authorization: str | None, cookie: str | None) -> None:
    if expected is None:
        return
    presented = bearer(authorization)
    if presented is not None:
        if token_matches(expected, presented):
            return
        raise Unauthorized("the token is wrong")
    if token_matches(expected, cookie):
        return
    raise Unauthorized(
        "authentication required: send 'Authorization: Bearer <token>' or open the dashboard "
        "URL with ?token=<token> that schmux-desktop printed at start"
    )


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


def check_host(no_auth: bool, host_header: str | None) -> None:
    """Under --no-auth only loopback Host names are served (blocks DNS rebinding)."""
    if no_auth and not is_loopback_host(host_header):
        raise Forbidden("this server runs without a token and only answers requests for localhost")


def check_origin(
    origin: str | None, host_header: str | None, scheme: str, allowed: tuple[str, ...]
) -> None:
    """A browser's Origin must be the server's own (or a configured one); none is fine."""
    if origin is None:
        return
    origin = origin.rstrip("/")
    if origin in allowed:
        return
    parts = urlsplit(origin)
    own_scheme = "https" if scheme in ("https", "wss") else "http"
    if host_header and parts.scheme == own_scheme and parts.netloc.lower() == host_header.lower():
        return
    raise Forbidden(f"origin {origin[:200]!r} is not allowed to use this server")
