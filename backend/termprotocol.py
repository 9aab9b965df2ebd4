"""``/ws/terminal/<id>`` frames: the client's parsed and validated here, the server's built here.

    server → client  {"type":"full","content","rows","running","exit_status"}  reset, then write
                     {"type":"append","content"}                               write
                     {"type":"error","error"}                                  a bad client frame
    client → server  {"type":"input","data"}  {"type":"resize","cols","rows"}
                     {"type":"resize","data":"{\"cols\":C,\"rows\":R}"}   schmux's client's form

A client frame is read with ``backend.untrusted`` (no value in it can fail later), then checked
against the limits below; a bad one becomes a ``BadRequest`` whose message the route sends back
as an ``error`` frame, and the connection stays open. A frame of another ``type`` is ignored, so
a newer client's frames do not break an older server. The frontend's counterpart is
``frontend/src/terminal/protocol.ts``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import untrusted
from .errors import BadRequest

MAX_INPUT = 64 * 1024  # characters of one input frame
MIN_COLS, MAX_COLS = 2, 1000
MIN_ROWS, MAX_ROWS = 2, 500


@dataclass(frozen=True)
class Input:
    data: str

    @property
    def submits(self) -> bool:
        """Ends a line: the agent was answered (its nudge is cleared)."""
        return "\r" in self.data or "\n" in self.data


@dataclass(frozen=True)
class Resize:
    cols: int
    rows: int


Frame = Input | Resize | None  # None: a frame of a type this server does not know


def _bools(*values: Any) -> bool:
    return any(isinstance(v, bool) for v in values)  # True is an int to Python


def _size(message: dict[str, Any]) -> tuple[Any, Any]:
    """``cols`` and ``rows`` of a resize frame: at its top level, or (schmux's dashboard sends
    every frame as ``{"type", "data": string}``) inside ``data`` as a JSON object."""
    if "cols" not in message and "rows" not in message and isinstance(message.get("data"), str):
        try:
            inner: Any = untrusted.parse(message["data"])
        except BadRequest:
            return None, None
        if isinstance(inner, dict):
            return inner.get("cols"), inner.get("rows")
        return None, None
    return message.get("cols"), message.get("rows")


def parse(raw: str | bytes) -> Frame:
    """One client frame; ``BadRequest`` saying what is wrong with it."""
    try:
        message: Any = untrusted.parse(raw)
    except BadRequest as e:
        raise BadRequest(f"frames must be JSON objects: {e.message}") from None
    if not isinstance(message, dict):
        raise BadRequest("frames must be JSON objects")
    kind = message.get("type")
    if kind == "input":
        data = message.get("data")
        if not isinstance(data, str):
            raise BadRequest('"input" needs a string "data"')
        if len(data) > MAX_INPUT:
            raise BadRequest(f"input is too large (at most {MAX_INPUT} characters per message)")
        return Input(data)
    if kind == "resize":
        cols, rows = _size(message)
        if not isinstance(cols, int) or not isinstance(rows, int) or _bools(cols, rows):
            raise BadRequest('"resize" needs integer "cols" and "rows"')
        if not (MIN_COLS <= cols <= MAX_COLS and MIN_ROWS <= rows <= MAX_ROWS):
            raise BadRequest(
                f"resize needs {MIN_COLS} ≤ cols ≤ {MAX_COLS} and {MIN_ROWS} ≤ rows ≤ {MAX_ROWS}"
            )
        return Resize(cols, rows)
    return None


def _encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def full(content: str, *, rows: int, running: bool, exit_status: int | None) -> str:
    """The screen as it is: the viewer resets its terminal and writes ``content``."""
    return _encode(
        {
            "type": "full",
            "content": content,
            "rows": rows,
            "running": running,
            "exit_status": exit_status,
        }
    )


def append(content: str) -> str:
    return _encode({"type": "append", "content": content})


def error(message: str) -> str:
    return json.dumps({"type": "error", "error": message})
