"""Every registered route refuses a missing or wrong token (only healthz and static files open)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from backend.app import create_app
from backend.services import Settings
from tests.helpers import Server

OPEN_ENDPOINTS = {"api.healthz", "static_files.index", "static_files.asset"}


def _routes(tmp: Path) -> list[tuple[str, str, set[str], bool]]:
    app = create_app(Settings(data_dir=tmp, token="x"))
    routes = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", "some-id", rule.rule)
        methods = set(rule.methods or ()) - {"HEAD", "OPTIONS"}
        routes.append((rule.endpoint, path, methods, bool(rule.websocket)))
    return routes


def test_every_route_needs_the_token(server: Server, short_dir: Path) -> None:
    routes = _routes(short_dir / "introspect")
    assert len(routes) >= 12
    checked = 0
    for endpoint, path, methods, is_ws in routes:
        if endpoint in OPEN_ENDPOINTS:
            continue
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "schmux_token=wrong"}):
            if is_ws:

                async def attempt(h: dict[str, str] = headers, p: str = path) -> int:
                    try:
                        async with websockets.connect(server.ws_base + p, additional_headers=h):
                            return 101
                    except websockets.InvalidStatus as e:
                        return e.response.status_code

                assert asyncio.run(attempt()) == 401, (endpoint, headers)
                checked += 1
                continue
            for method in methods:
                r = httpx.request(method, server.base + path, headers=headers, json={})
                assert r.status_code == 401, (endpoint, method, headers, r.status_code)
                assert set(r.json()) == {"error"}
                checked += 1
    assert checked >= 30


def test_open_routes(server: Server) -> None:
    assert httpx.get(server.base + "/api/healthz").status_code == 200
    r = httpx.get(server.base + "/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]


def test_wrong_token_in_address_is_refused(server: Server) -> None:
    r = httpx.get(server.base + "/?token=wrong", follow_redirects=False)
    assert r.status_code == 401 and "set-cookie" not in r.headers


def test_cookie_from_address_authenticates_rest(server: Server) -> None:
    with httpx.Client(base_url=server.base) as c:
        r = c.get(f"/?token={server.token}", follow_redirects=False)
        assert r.status_code == 302
        assert c.get("/api/sessions").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "10.0.0.1"])
def test_no_auth_refuses_foreign_host_header(make_server: Callable[..., Server], host: str) -> None:
    srv = make_server(token=None)
    assert "?token=" not in srv.url
    assert httpx.get(srv.base + "/api/sessions").status_code == 200
    assert (
        httpx.get(srv.base + "/api/sessions", headers={"Host": f"localhost:{srv.port}"}).status_code
        == 200
    )
    r = httpx.get(srv.base + "/api/sessions", headers={"Host": host})
    assert r.status_code == 403 and "localhost" in r.json()["error"]
