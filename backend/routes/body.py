"""Reading a request's JSON body and its fields: one wording for every route's 400s."""

from __future__ import annotations

from typing import Any

from quart import request

from backend import untrusted
from backend.errors import BadRequest


async def json_object(*, required: bool = True) -> dict[str, Any]:
    raw = await request.get_data(as_text=False)
    if not raw.strip():
        if required:
            raise BadRequest("the request body must be a JSON object")
        return {}
    return untrusted.parse_object(raw)


def optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f'"{key}" must be a string')
    return value


def text(body: dict[str, Any], key: str) -> str:
    value = optional_text(body, key)
    if value is None:
        raise BadRequest(f'"{key}" is required')
    return value


def flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f'"{key}" must be true or false')
    return value
