"""JSON a client sent, read so that no value in it can fail later: refused with 400 at the edge.

Python's parser accepts what the rest of the app cannot hold: nesting deep enough to exhaust the
stack, integers of thousands of digits, ``NaN``/``Infinity`` (not JSON; they would make the state
file invalid), and strings with unpaired UTF-16 surrogates (``"\\ud800"``), which no file, log,
tmux command or WebSocket frame can encode. Each is refused here, naming where it was found.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import BadRequest

MAX_DEPTH = 32
MAX_INT_DIGITS = 18  # every count and size the API takes fits in 64 bits


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadRequest(
            f"a number in the request has {len(text)} digits; the most is {MAX_INT_DIGITS}"
        )
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"the number {text[:40]} is too large")
    return value


def _parse_constant(text: str) -> Any:
    raise BadRequest(f"{text} is not JSON")


def _check(value: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadRequest(f"the request is nested too deeply (at most {MAX_DEPTH} levels)")
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, f"{where}.{key[:50]}" if where else key[:50])
            _check(item, f"{where}.{key[:50]}" if where else key[:50], depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]", depth + 1)


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = where.encode("utf-8", "backslashreplace").decode() or "the request"
        raise BadRequest(
            f'"{shown}" holds an unpaired surrogate (like \\ud800): not valid text'
        ) from None


def parse(raw: bytes | str) -> Any:
    """The JSON value in ``raw``; ``BadRequest`` with a reason for anything unusable."""
    try:
        value = json.loads(
            raw,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        raise BadRequest(f"the request is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadRequest(f"the request body is not valid JSON: {e}") from None
    _check(value, "", 0)
    return value


def parse_object(raw: bytes | str) -> dict[str, Any]:
    value = parse(raw)
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value
