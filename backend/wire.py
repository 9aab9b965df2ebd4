"""The wire encoding of ``/ws/dashboard`` messages: the one place that shapes a frame.

A message is built once per push (its body serialised once, whatever the number of clients) and
framed once: :func:`frame` stamps its ``seq``, so every message of every type carries one. A
connection's first messages are framed when they are sent (see ``broadcast.Client.take``).

Encoding never fails on data: strings are escaped to ASCII (a lone surrogate from a client or a
hand-edited config becomes ``\\ud800``, which is valid JSON text), values JSON cannot hold
(NaN, infinities, unknown objects, nesting too deep) are replaced, never raised. One client's
data can therefore never break a push to the others.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_DEPTH = 64  # deeper values are cut: nothing the app builds comes near it

_encoder = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def encode(value: Any) -> str:
    """JSON text for ``value``, never raising: ASCII only, non-JSON values replaced."""
    try:
        return _encoder.encode(value)
    except (ValueError, TypeError, RecursionError):
        log.warning("a pushed value held data JSON cannot carry; it was replaced")
        return _encoder.encode(_clean(value, 0))


def _clean(value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        return None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    return str(value)


@dataclass(frozen=True)
class Message:
    """One dashboard message without its ``seq``: its ``type`` and its other members, as JSON
    text (``"key":value,...``), serialised once."""

    type: str
    members: str


def message(type_: str, body: dict[str, Any]) -> Message:
    text = encode(body)  # "{...}": keep what is inside the braces
    return Message(type_, text[1:-1])


def sessions(workspaces: list[dict[str, Any]] | str) -> Message:
    """``workspaces``: the list, or its JSON text (encoded by the caller, e.g. in parts)."""
    if isinstance(workspaces, str):
        return Message("sessions", f'"workspaces":{workspaces}')
    return message("sessions", {"workspaces": workspaces})


def config(config: dict[str, Any]) -> Message:
    return message("config", {"config": config})


def hosts(hosts: list[dict[str, Any]]) -> Message:
    return message("hosts", {"hosts": hosts})


@dataclass(frozen=True)
class Frame:
    """A message and, once stamped, its text frame."""

    message: Message
    text: str = ""


def frame(msg: Message, seq: int) -> Frame:
    """The text frame ``{"type":...,"seq":N,...}``: the one place a frame is shaped."""
    sep = "," if msg.members else ""
    return Frame(msg, f'{{"type":{encode(msg.type)},"seq":{seq}{sep}{msg.members}}}')
