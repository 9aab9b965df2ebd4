"""``state.json``: the one module that reads and writes it. Atomic, versioned."""

from __future__ import annotations

import json
import math
import re
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import StorageError
from .fileio import write_json_atomic
from .models import Session, Workspace, valid_id
from .reviews import ReviewComment, ReviewRound

SCHEMA_VERSION = 1
# Times are seconds since 1970; past year 9999 no timestamp can be shown (RFC 3339).
MAX_TIME = 253_402_300_799.0
MAX_INT = 2**63 - 1


class StateFileError(Exception):
    """state.json exists but cannot be used; the message names the file."""


@dataclass
class State:
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    # Rounds are replaced, never changed in place: a copy of this dict is a snapshot of them.
    reviews: dict[str, ReviewRound] = field(default_factory=dict)
    # Each workspace's pending review comments (tuples: a copy of the dict is a snapshot).
    pending: dict[str, tuple[ReviewComment, ...]] = field(default_factory=dict)

    def sessions_of(self, workspace_id: str) -> list[Session]:
        return [s for s in self.sessions.values() if s.workspace_id == workspace_id]

    def forget_reviews(self, workspace_id: str) -> None:
        """Drop a gone workspace's review rounds and pending comments: its id may be given to
        the next workspace of its repo, which must not inherit them."""
        self.reviews = {k: r for k, r in self.reviews.items() if r.workspace_id != workspace_id}
        self.pending.pop(workspace_id, None)

    def to_document(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "workspaces": [
                w.to_record() for w in sorted(self.workspaces.values(), key=lambda w: w.id)
            ],
            "sessions": [s.to_record() for s in sorted(self.sessions.values(), key=lambda s: s.id)],
            "reviews": [r.to_record() for r in sorted(self.reviews.values(), key=lambda r: r.id)],
            "pending": [
                {"workspace_id": wid, "comments": [c.to_record() for c in comments]}
                for wid, comments in sorted(self.pending.items())
            ],
        }


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> State:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return State()
        except (OSError, UnicodeDecodeError) as e:
            raise StateFileError(f"{self.path}: cannot read: {e}") from e
        try:
            doc = json.loads(text, parse_constant=_not_json)
        except json.JSONDecodeError as e:
            raise StateFileError(f"{self.path}: not valid JSON: {e.msg} (line {e.lineno})") from e
        except RecursionError:
            raise StateFileError(f"{self.path}: nested too deeply to be a state file") from None
        except ValueError as e:  # NaN, Infinity, an integer of thousands of digits
            raise StateFileError(f"{self.path}: not usable JSON: {e}") from None
        if not isinstance(doc, dict):
            raise StateFileError(f"{self.path}: expected a JSON object")
        version = doc.get("version")
        if version != SCHEMA_VERSION:
            raise StateFileError(
                f"{self.path}: schema version {version!r} is not supported (expected {SCHEMA_VERSION})"
            )
        try:
            workspaces = [
                Workspace.from_record(_checked(Workspace, r, f"workspaces[{i}]"))
                for i, r in enumerate(_list(doc, "workspaces"))
            ]
            sessions = [
                Session.from_record(_checked(Session, r, f"sessions[{i}]"))
                for i, r in enumerate(_list(doc, "sessions"))
            ]
            reviews = [ReviewRound.from_record(r) for r in _list(doc, "reviews")]
            pending = [_pending_record(r) for r in _list(doc, "pending")]
        except (TypeError, ValueError, AttributeError) as e:
            raise StateFileError(f"{self.path}: malformed record: {e}") from e
        known = {w.id for w in workspaces}
        return State(
            workspaces={w.id: w for w in workspaces},
            sessions={s.id: s for s in sessions if s.workspace_id in known},
            reviews={r.id: r for r in reviews if r.workspace_id in known},
            pending={wid: comments for wid, comments in pending if wid in known and comments},
        )

    def save(self, state: State) -> None:
        try:
            write_json_atomic(self.path, state.to_document(), indent=None)
        except OSError as e:
            raise StorageError(f"could not save {self.path}: {e.strerror or e}") from e


def _pending_record(record: Any) -> tuple[str, tuple[ReviewComment, ...]]:
    if not isinstance(record, dict) or not isinstance(record.get("workspace_id"), str):
        raise TypeError("a pending review must be an object with a workspace_id")
    comments = record.get("comments")
    if not isinstance(comments, list):
        raise TypeError("a pending review's comments must be a list")
    wid = record["workspace_id"]
    return wid, tuple(ReviewComment.from_record(c, f"{wid}-p{i}") for i, c in enumerate(comments))


def _not_json(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"{key} must be a list, not {type(value).__name__}")
    return value


_PY_TYPES: dict[type, tuple[type, ...]] = {
    str: (str,),
    bool: (bool,),
    int: (int,),
    float: (int, float),
}


def _allowed(hint: Any) -> tuple[tuple[type, ...], bool]:
    """The JSON types a field of type ``hint`` accepts, and whether null is allowed."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    allowed: tuple[type, ...] = ()
    for a in args:
        allowed += _PY_TYPES.get(a, ())
    return allowed, type(None) in args


def _checked(cls: type[Workspace] | type[Session], record: Any, where: str) -> dict[str, Any]:
    """``record`` if every known field has its type (checked here, at load, so no later read of
    the state can fail on it); else ``TypeError`` naming the field."""
    if not isinstance(record, dict):
        raise TypeError(f"{where} must be an object, not {type(record).__name__}")
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        if f.name not in record:
            if f.default is MISSING and f.default_factory is MISSING:
                raise TypeError(f"{where} has no {f.name}")
            continue
        value = record[f.name]
        allowed, nullable = _allowed(hints[f.name])
        here = f"{where}.{f.name}"
        if value is None and nullable:
            continue
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            wanted = " or ".join(_NAMES[t] for t in allowed) + (" or null" if nullable else "")
            raise TypeError(f"{here} must be {wanted}, not {_json_name(value)}")
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise TypeError(f"{here} holds an unpaired surrogate: not valid text") from None
        elif isinstance(value, float) and not math.isfinite(value):
            raise TypeError(f"{here} is not a finite number")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            top = MAX_TIME if float in allowed else MAX_INT
            if not -top <= value <= top:
                raise TypeError(f"{here} is out of range")
    for key in ("id", "workspace_id"):
        if key in record and not valid_id(record[key]):
            raise TypeError(f"{where}.{key} {str(record[key])[:80]!r} is not a valid id")
    if "tmux_name" in record and not _TMUX_NAME.match(record["tmux_name"]):
        raise TypeError(f"{where}.tmux_name {record['tmux_name'][:80]!r} is not a session name")
    return record


_TMUX_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")  # no '.' or ':' (they select in a target)
_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}


def _json_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "an object",
    }.get(type(value), "null" if value is None else type(value).__name__)
