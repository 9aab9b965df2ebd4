"""HTTP and WebSocket routes: thin, each parses input, calls one service, serialises the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from quart import current_app

if TYPE_CHECKING:
    from backend.services import Services


def services() -> Services:
    return cast("Services", current_app.config["SERVICES"])
