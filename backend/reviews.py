"""Review rounds: what a comment and a round are, how a request names them, and the message an
agent is sent (docs/API.md#review-rounds). ``reviewer.Reviewer`` is the use case built on them.

A comment is about a line or a range (``line`` to ``end_line``) of a working tree file. It keeps
its lines' content (``anchors.Anchor``) and a bounded ``quote`` of them from when it was made,
so that it can follow its lines when they move and say when they are gone (``outdated``). Its
status goes ``pending`` → ``sent`` → ``addressed`` (by the person, ``addressed_by: "user"``, or
found by the app when its lines changed after sending, ``"auto"``); the person can reopen an
addressed comment (back to ``sent``).

The message names each comment by ``path:line`` (``path:line-end_line`` for a range), quotes its
lines and gives the body. Bodies are text: a control character other than a tab or a newline
could end the paste early and type keys of its own, so it is refused (400).
"""

from __future__ import annotations

import asyncio
import enum
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from .anchors import MAX_RANGE, Anchor
from .errors import BadRequest, Conflict, NotFound

MAX_COMMENTS = 200  # per round, and per request
MAX_PENDING = 500  # waiting in one workspace's pending round
MAX_BODY = 20_000
MAX_PATH = 4096
MAX_MESSAGE = 512 * 1024
ENTER_DELAY = 0.15  # after the paste, before Enter: some agents' input boxes take a moment


class CommentStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    ADDRESSED = "addressed"


class AddressedBy(enum.Enum):
    USER = "user"  # the person marked it
    AUTO = "auto"  # its lines changed after it was sent


class RoundState(enum.Enum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def new_comment_id() -> str:
    return f"c-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class ReviewComment:
    path: str
    line: int
    body: str
    end_line: int | None = None  # the last line of a range (None: one line)
    status: CommentStatus = CommentStatus.PENDING
    quote: str | None = None  # its lines when it was made (None: no such lines in the file)
    id: str = field(default_factory=new_comment_id)
    anchor: Anchor | None = None  # its lines' content, to find them again
    outdated: bool = False  # its lines are no longer in the file as they were
    addressed_by: AddressedBy | None = None
    created_at: float = field(default_factory=time.time)

    @property
    def where(self) -> str:
        end = self.end_line
        return f"{self.path}:{self.line}" + (
            f"-{end}" if end is not None and end > self.line else ""
        )

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line,
            "body": self.body,
            "status": self.status.value,
            "quote": self.quote,
            "outdated": self.outdated,
            "line_changed": self.outdated,  # the first name of it (kept for older clients)
            "addressed_by": self.addressed_by.value if self.addressed_by else None,
            "created_at": self.created_at,
        }

    def to_record(self) -> dict[str, Any]:
        record = self.payload()
        del record["line_changed"]
        record["anchor"] = self.anchor.to_record() if self.anchor else None
        return record

    @classmethod
    def from_record(cls, c: Any, default_id: str) -> ReviewComment:
        """A comment from ``state.json`` (older files lack the newer keys)."""
        if not isinstance(c, dict):
            raise TypeError("a review comment must be an object")
        line, end_line = c.get("line"), c.get("end_line")
        if not _is_int(line) or (end_line is not None and not _is_int(end_line)):
            raise TypeError("a review comment's line and end_line must be integers")
        path, body, cid = c.get("path"), c.get("body"), c.get("id", default_id)
        if not isinstance(path, str) or not isinstance(body, str) or not isinstance(cid, str):
            raise TypeError("a review comment's id, path and body must be strings")
        quote = c.get("quote")
        if quote is not None and not isinstance(quote, str):
            raise TypeError("a review comment's quote must be a string or null")
        anchor = c.get("anchor")
        outdated, created_at = c.get("outdated", False), c.get("created_at", 0.0)
        if not isinstance(outdated, bool):
            raise TypeError("a review comment's outdated must be true or false")
        if not isinstance(created_at, int | float) or isinstance(created_at, bool):
            raise TypeError("a review comment's created_at must be a number")
        by = c.get("addressed_by")
        return cls(
            path,
            line,
            body,
            end_line=end_line,
            status=CommentStatus(c.get("status")),
            quote=quote,
            id=cid,
            anchor=Anchor.from_record(anchor) if anchor is not None else None,
            outdated=outdated,
            addressed_by=AddressedBy(by) if by is not None else None,
            created_at=float(created_at),
        )


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ReviewRound:
    id: str
    workspace_id: str
    session_id: str
    comments: tuple[ReviewComment, ...]
    created_at: float = field(default_factory=time.time)
    state: RoundState = RoundState.SENDING
    sent_at: float | None = None
    error: str = ""

    def payload(self) -> dict[str, Any]:
        return {**self._head(), "comments": [c.payload() for c in self.comments]}

    def to_record(self) -> dict[str, Any]:
        return {**self._head(), "comments": [c.to_record() for c in self.comments]}

    def _head(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "session_id": self.session_id,
            "created_at": self.created_at,
            "sent_at": self.sent_at,
            "state": self.state.value,
            "error": self.error,
        }

    @classmethod
    def from_record(cls, record: Any) -> ReviewRound:
        """A round from ``state.json``; ``TypeError``/``ValueError`` when it is not one."""
        if not isinstance(record, dict):
            raise TypeError("a review round must be an object")
        comments = record.get("comments")
        if not isinstance(comments, list):
            raise TypeError("a review round's comments must be a list")
        sent_at = record.get("sent_at")
        created_at = record.get("created_at")
        if not isinstance(created_at, int | float) or isinstance(created_at, bool):
            raise TypeError("a review round's created_at must be a number")
        if sent_at is not None and (
            not isinstance(sent_at, int | float) or isinstance(sent_at, bool)
        ):
            raise TypeError("a review round's sent_at must be a number or null")
        rid = _str(record, "id")
        return cls(
            id=rid,
            workspace_id=_str(record, "workspace_id"),
            session_id=_str(record, "session_id"),
            comments=tuple(
                ReviewComment.from_record(c, f"{rid}-{i}") for i, c in enumerate(comments)
            ),
            created_at=float(created_at),
            state=RoundState(record.get("state")),
            sent_at=float(sent_at) if sent_at is not None else None,
            error=_str(record, "error"),
        )


def _str(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise TypeError(f"a review round's {key} must be a string")
    return value


# -- reading a request ----------------------------------------------------------------------


def _clean_text(value: str, what: str, *, multiline: bool) -> str:
    value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    for ch in value:
        o = ord(ch)
        if (o < 0x20 and not (multiline and ch in "\n\t")) or 0x7F <= o < 0xA0:
            raise BadRequest(
                f"{what} holds a control character (U+{o:04X}): only text, tabs and newlines"
                " can be typed to an agent"
            )
    return value


def parse_comments(raw: Any) -> list[ReviewComment]:
    """The request's ``comments``: 1 to MAX_COMMENTS of ``{"path", "line", "body"}``, each with an
    optional ``"end_line"`` (>= ``line``) for a range; other keys are ignored."""
    shape = '{"path", "line", "body"} (and "end_line" for a range)'
    if not isinstance(raw, list) or not raw:
        raise BadRequest(f'"comments" must be a non-empty list of {shape}')
    if len(raw) > MAX_COMMENTS:
        raise BadRequest(f"at most {MAX_COMMENTS} comments per round")
    out: list[ReviewComment] = []
    for i, c in enumerate(raw):
        where = f'"comments[{i}]"'
        if not isinstance(c, dict):
            raise BadRequest(f"{where} must be an object {shape}")
        path, line, body = c.get("path"), c.get("line"), c.get("body")
        end_line = c.get("end_line")
        if not isinstance(path, str) or not path.strip() or len(path) > MAX_PATH:
            raise BadRequest(f"{where}.path must be a file's path (1 to {MAX_PATH} characters)")
        if not _is_int(line) or not 1 <= line <= 10**9:
            raise BadRequest(f"{where}.line must be a line number (1 or more)")
        if end_line is not None:
            if not _is_int(end_line) or not line <= end_line <= 10**9:
                raise BadRequest(
                    f"{where}.end_line must be the range's last line ({line} or more), or null"
                )
            if end_line - line >= MAX_RANGE:
                raise BadRequest(f"{where} spans more than {MAX_RANGE} lines")
            if end_line == line:
                end_line = None
        if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
            raise BadRequest(
                f"{where}.body must be the comment's text (1 to {MAX_BODY} characters)"
            )
        out.append(
            ReviewComment(
                _clean_text(path, f"{where}.path", multiline=False),
                line,
                _clean_text(body, f"{where}.body", multiline=True),
                end_line=end_line,
            )
        )
    return out


# -- the message ----------------------------------------------------------------------------


def message(branch: str, comments: list[ReviewComment]) -> str:
    n = len(comments)
    parts = [f"Review comments on branch {branch} ({n} comment{'s' if n != 1 else ''}):"]
    for c in comments:
        block = [c.where + (" (these lines have changed since)" if c.outdated else "")]
        if c.quote is not None:
            block.extend(f"> {q}" for q in c.quote.split("\n"))
        block.append(c.body.strip("\n"))
        parts.append("\n".join(block))
    return "\n\n".join(parts)


def new_round_id() -> str:
    return f"r-{int(time.time())}-{secrets.token_hex(4)}"


async def type_message(tmux: Any, tmux_name: str, text: str) -> None:
    """``text`` as one bracketed paste into the session's pane, then Enter."""
    buffer = f"schmux-review-{secrets.token_hex(6)}"
    await tmux.run("load-buffer", "-b", buffer, "-", input=text.encode("utf-8"))
    await tmux.run("paste-buffer", "-p", "-d", "-b", buffer, "-t", f"={tmux_name}:")
    await asyncio.sleep(ENTER_DELAY)
    await tmux.run("send-keys", "-t", f"={tmux_name}:", "Enter")


def check_target(session: Any, workspace_id: str) -> None:
    if session.workspace_id != workspace_id:
        raise BadRequest(f"session {session.id!r} is not in workspace {workspace_id!r}")
    if not session.running:
        raise Conflict(f"session {session.id!r} has ended: its agent cannot read the review")


def rounds_of(rounds: dict[str, ReviewRound], workspace_id: str) -> list[ReviewRound]:
    found = [r for r in rounds.values() if r.workspace_id == workspace_id]
    return sorted(found, key=lambda r: (r.created_at, r.id))


def find(rounds: dict[str, ReviewRound], round_id: str) -> ReviewRound:
    r = rounds.get(round_id)
    if r is None:
        raise NotFound(f"no review round {round_id!r}")
    return r
