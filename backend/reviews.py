"""Review rounds: comments on a workspace's lines, sent to one of its agents as one message.

POST /api/workspaces/{id}/review (docs/API.md#review-rounds) keeps the round in the state
(``state.json``: it survives a restart) with every comment ``pending``, types the round into the
chosen session's terminal as one bracketed paste (tmux ``paste-buffer -p``: the agent sees one
paste, not one Enter per line), then presses Enter; the comments are then ``sent``. A round
whose typing failed keeps its comments ``pending`` and says why.

The message names each comment by ``path:line``, quotes that line as the working tree has it
now (when it exists) and gives the body. Bodies are text: a control character other than a tab
or a newline could end the paste early and type keys of its own, so it is refused (400).
"""

from __future__ import annotations

import asyncio
import enum
import os
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import BadRequest, Conflict, NotFound

MAX_COMMENTS = 200
MAX_BODY = 20_000
MAX_PATH = 4096
MAX_MESSAGE = 512 * 1024
MAX_QUOTE = 300  # characters of the quoted line
ENTER_DELAY = 0.15  # after the paste, before Enter: some agents' input boxes take a moment


class CommentStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    ADDRESSED = "addressed"


class RoundState(enum.Enum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass
class ReviewComment:
    path: str
    line: int
    body: str
    status: CommentStatus = CommentStatus.PENDING
    quote: str | None = None  # the line as it was when the round was typed (None: no such line)

    def payload(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "body": self.body,
            "status": self.status.value,
            "quote": self.quote,
        }


@dataclass
class ReviewRound:
    id: str
    workspace_id: str
    session_id: str
    comments: list[ReviewComment]
    created_at: float = field(default_factory=time.time)
    state: RoundState = RoundState.SENDING
    sent_at: float | None = None
    error: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "session_id": self.session_id,
            "created_at": self.created_at,
            "sent_at": self.sent_at,
            "state": self.state.value,
            "error": self.error,
            "comments": [c.payload() for c in self.comments],
        }

    to_record = payload

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
        return cls(
            id=_str(record, "id"),
            workspace_id=_str(record, "workspace_id"),
            session_id=_str(record, "session_id"),
            comments=[_comment_record(c) for c in comments],
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


def _comment_record(c: Any) -> ReviewComment:
    if not isinstance(c, dict):
        raise TypeError("a review comment must be an object")
    line = c.get("line")
    if not isinstance(line, int) or isinstance(line, bool):
        raise TypeError("a review comment's line must be an integer")
    path, body = c.get("path"), c.get("body")
    if not isinstance(path, str) or not isinstance(body, str):
        raise TypeError("a review comment's path and body must be strings")
    quote = c.get("quote")
    if quote is not None and not isinstance(quote, str):
        raise TypeError("a review comment's quote must be a string or null")
    return ReviewComment(path, line, body, CommentStatus(c.get("status")), quote)


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
    """The request's ``comments``: 1 to MAX_COMMENTS of ``{"path", "line", "body"}``."""
    if not isinstance(raw, list) or not raw:
        raise BadRequest('"comments" must be a non-empty list of {"path", "line", "body"}')
    if len(raw) > MAX_COMMENTS:
        raise BadRequest(f"at most {MAX_COMMENTS} comments per round")
    out: list[ReviewComment] = []
    for i, c in enumerate(raw):
        where = f'"comments[{i}]"'
        if not isinstance(c, dict):
            raise BadRequest(f'{where} must be an object {{"path", "line", "body"}}')
        path, line, body = c.get("path"), c.get("line"), c.get("body")
        if not isinstance(path, str) or not path.strip() or len(path) > MAX_PATH:
            raise BadRequest(f"{where}.path must be a file's path (1 to {MAX_PATH} characters)")
        if isinstance(line, bool) or not isinstance(line, int) or not 1 <= line <= 10**9:
            raise BadRequest(f"{where}.line must be a line number (1 or more)")
        if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
            raise BadRequest(
                f"{where}.body must be the comment's text (1 to {MAX_BODY} characters)"
            )
        out.append(
            ReviewComment(
                _clean_text(path, f"{where}.path", multiline=False),
                line,
                _clean_text(body, f"{where}.body", multiline=True),
            )
        )
    return out


# -- the message ----------------------------------------------------------------------------


def quoted_line(root: Path, rel: str, line: int) -> str | None:
    """Line ``line`` of the working tree's ``rel`` (None when there is no such line), read
    without following a symbolic link out of the checkout."""
    from .diffs import MAX_FILE_BYTES, _read_beneath

    got = _read_beneath(os.fsencode(root), os.fsencode(rel), count_lines=False)
    if got.missing or b"\0" in got.data[:8000] or got.size > MAX_FILE_BYTES:
        return None
    lines = got.data.decode("utf-8", "replace").split("\n")
    if line > len(lines) or (line == len(lines) and lines[-1] == ""):
        return None
    text = lines[line - 1].rstrip("\r")
    text = "".join(ch if ch == "\t" or _printable(ch) else "?" for ch in text)
    return text[:MAX_QUOTE] + ("…" if len(text) > MAX_QUOTE else "")


def _printable(ch: str) -> bool:
    o = ord(ch)
    return o >= 0x20 and not 0x7F <= o < 0xA0


def message(branch: str, comments: list[ReviewComment], quotes: list[str | None]) -> str:
    n = len(comments)
    parts = [f"Review comments on branch {branch} ({n} comment{'s' if n != 1 else ''}):"]
    for c, q in zip(comments, quotes, strict=True):
        block = [f"{c.path}:{c.line}"]
        if q is not None:
            block.append(f"> {q}")
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


class Reviewer:
    """Sends review rounds and keeps them in the state (``Registry``); knows nothing of HTTP."""

    def __init__(self, registry: Any, tmux: Any) -> None:
        self.registry = registry
        self.tmux = tmux

    def rounds(self, workspace_id: str) -> list[ReviewRound]:
        return rounds_of(self.registry.state.reviews, workspace_id)

    def counts(self) -> dict[str, int]:
        """Rounds per workspace id (for the payload: no git, no tmux)."""
        out: dict[str, int] = {}
        for r in self.registry.state.reviews.values():
            out[r.workspace_id] = out.get(r.workspace_id, 0) + 1
        return out

    async def send(
        self, workspace: Any, session: Any, comments: list[ReviewComment]
    ) -> ReviewRound:
        from . import procs
        from .tmux import TmuxError

        check_target(session, workspace.id)
        root = Path(workspace.path)
        quotes = await procs.in_worker(
            lambda: [quoted_line(root, c.path, c.line) for c in comments]
        )
        text = message(workspace.branch, comments, quotes)
        if len(text.encode("utf-8")) > MAX_MESSAGE:
            raise BadRequest(f"the round is too long to type (at most {MAX_MESSAGE // 1024} KiB)")
        rnd = ReviewRound(new_round_id(), workspace.id, session.id, comments)
        self._put(rnd, "review round")
        try:
            await type_message(self.tmux, session.tmux_name, text)
        except TmuxError as e:
            self._put(replace(rnd, state=RoundState.FAILED, error=str(e)), "review round failed")
            raise Conflict(f"the review could not be typed into {session.id!r}: {e}") from None
        sent = replace(
            rnd,
            state=RoundState.SENT,
            sent_at=time.time(),
            comments=[
                replace(c, status=CommentStatus.SENT, quote=q)
                for c, q in zip(comments, quotes, strict=True)
            ],
        )
        self._put(sent, "review round sent")
        return sent

    def mark(self, workspace_id: str, round_id: str, index: int, *, addressed: bool) -> ReviewRound:
        """The person says comment ``index`` of a sent round is addressed (or not after all)."""
        rnd = find(self.registry.state.reviews, round_id)
        if rnd.workspace_id != workspace_id:
            raise NotFound(f"no review round {round_id!r} in workspace {workspace_id!r}")
        if not 0 <= index < len(rnd.comments):
            raise BadRequest(f'"index" must be 0 to {len(rnd.comments) - 1} (the comment\'s place)')
        comment = rnd.comments[index]
        if comment.status is CommentStatus.PENDING:
            raise Conflict("that comment was never typed to the agent: send the round first")
        status = CommentStatus.ADDRESSED if addressed else CommentStatus.SENT
        comments = list(rnd.comments)
        comments[index] = replace(comment, status=status)
        updated = replace(rnd, comments=comments)
        self._put(updated, "review comment marked")
        return updated

    async def with_changes(self, workspace: Any) -> list[dict[str, Any]]:
        """The workspace's rounds, each sent comment saying whether its line changed since."""
        from . import procs

        rounds = self.rounds(workspace.id)
        root = Path(workspace.path)

        def work() -> list[dict[str, Any]]:
            out = []
            for r in rounds:
                p = r.payload()
                for c, cp in zip(r.comments, p["comments"], strict=True):
                    sent = c.status is not CommentStatus.PENDING
                    cp["line_changed"] = sent and quoted_line(root, c.path, c.line) != c.quote
                out.append(p)
            return out

        return await procs.in_worker(work)

    def _put(self, rnd: ReviewRound, reason: str) -> None:
        with self.registry.change(reason) as st:
            st.reviews[rnd.id] = rnd
