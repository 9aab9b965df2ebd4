"""The app factory: ``create_app(settings)`` builds the Quart app and its services."""

from __future__ import annotations

import logging
from typing import Any

from flask.json.provider import DefaultJSONProvider
from quart import Quart, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import AppError, BadGateway, HostUnavailable
from .gate import Gate
from .inbound import BoundedWebsocketConnection
from .routes import api, compat, dashboard_ws, remote, services, static, terminal_ws
from .services import Services, Settings

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024


def _error(message: str, status: int) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def create_app(settings: Settings) -> Quart:
    app = Quart(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["JSON_SORT_KEYS"] = False
    assert isinstance(app.json, DefaultJSONProvider)  # Quart's own provider
    app.json.sort_keys = False
    app.config["SERVICES"] = svc = Services(settings)
    app.asgi_websocket_class = BoundedWebsocketConnection
    inner = Gate(
        app.asgi_app,
        token=settings.token,
        allowed_origins=lambda: svc.config.allowed_origins,
        tickets=svc.tickets,
        throttle=svc.throttle,
        max_body=MAX_BODY,
    )

    async def counting_requests(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        svc.requests_in_flight += 1
        try:
            await inner(scope, receive, send)
        finally:
            svc.requests_in_flight -= 1

    # Wrapping the ASGI entry point is what a middleware does; mypy forbids assigning to a method.
    app.asgi_app = counting_requests  # type: ignore[method-assign]
    app.url_map.converters["asset"] = static.AssetConverter

    app.register_blueprint(api.bp)
    app.register_blueprint(compat.bp)
    app.register_blueprint(dashboard_ws.bp)
    app.register_blueprint(terminal_ws.bp)
    app.register_blueprint(static.bp)

    @app.before_serving
    async def start_services() -> None:
        await services().start()

    @app.after_serving
    async def stop_services() -> None:
        await services().stop()

    @app.before_request
    async def read_body() -> None:
        # The gate let this request in (auth, cross-site rule). Read the (size-capped) body
        # before any early answer, so the connection stays reusable: a response sent before
        # its request body is consumed forces a close.
        await request.get_data()

    # A host's ids go to that host (after the body is read: the hook forwards it).
    app.before_request(remote.forward)

    @app.errorhandler(AppError)
    async def app_error(e: AppError) -> tuple[Response, int]:
        if isinstance(e, BadGateway | HostUnavailable):
            log.info("%s", e.message)  # another machine's state, not this app's failure
        elif e.status >= 500:
            log.error("%s", e.message)
        return _error(e.message, e.status)

    @app.errorhandler(HTTPException)
    async def http_error(e: HTTPException) -> tuple[Response, int]:
        status = e.code or 500
        messages = {
            404: f"no such route: {request.path if request else ''}",
            405: f"method {request.method if request else ''} is not allowed here",
            413: f"the request body is too large (at most {MAX_BODY // 1024} KiB)",
        }
        response, status = _error(messages.get(status, e.description or e.name), status)
        if status == 413:
            # The rest of the body is left unread, and the server closes the connection after
            # this answer: said, so a client does not send its next request into a closed socket.
            response.headers["Connection"] = "close"
        return response, status

    @app.errorhandler(Exception)
    async def unexpected(e: Exception) -> tuple[Response, int]:
        log.exception("unexpected error")
        return _error("internal error; see the schmux-desktop log", 500)

    return app
