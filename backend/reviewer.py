"""The review use case: a workspace's pending round, sending a round to an agent, marking its
comments, and keeping every comment on its lines as the files change (docs/API.md#review-rounds).

Everything is kept in the state (``state.json`` through the registry: atomic, survives a
restart): the pending comments per workspace (``State.pending``) and the rounds sent
(``State.reviews``). Knows nothing of HTTP.

Re-anchoring. When the git status loop sees a workspace's files change it calls ``mark``; ``run``
then re-anchors that workspace's comments (pending, and those of sent rounds) in a worker thread:
each file with comments is ``stat``-ed and read only when its signature moved since the last
pass, so a pass where nothing changed reads no file. Lines found elsewhere → ``line``/``end_line``
follow; gone or changed → ``outdated``, and a ``sent`` comment becomes ``addressed`` with
``addressed_by: "auto"``. One pass per workspace at a time (a lock): the pass is the only writer
of a comment's place, so results apply by comment id without a race.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import anchors, procs
from .errors import BadRequest, Conflict, NotFound
from .events import Change
from .reviews import (
    MAX_MESSAGE,
    MAX_PENDING,
    AddressedBy,
    CommentStatus,
    ReviewComment,
    ReviewRound,
    RoundState,
    check_target,
    find,
    message,
    new_round_id,
    rounds_of,
    type_message,
)

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.1  # let a burst of file events settle before re-anchoring
# A file changed this recently is read again next pass even if its stat looks the same (git's
# "racily clean" rule): a second write in the same timestamp tick keeps the same mtime.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class _Place:
    line: int
    end_line: int | None
    outdated: bool


def _anchored(root: Path, comments: list[ReviewComment]) -> list[ReviewComment]:
    """``comments`` with their lines' anchor and quote as the working tree has them (blocking)."""
    files: dict[str, list[str] | None] = {}
    out = []
    for c in comments:
        if c.path not in files:
            files[c.path] = anchors.read_lines(root, c.path)
        lines = files[c.path]
        anchor, quote = anchors.take(lines, c.line, c.end_line or c.line)
        end = c.end_line
        if anchor is not None and end is not None:
            end = c.line + len(anchor.lines) - 1  # within the file
            end = end if end > c.line else None
        out.append(replace(c, anchor=anchor, quote=quote, end_line=end, outdated=False))
    return out


class Reviewer:
    def __init__(
        self,
        registry: Any,
        tmux: Any,
        *,
        clear_nudge: Callable[[str], None],
        workspaces: Callable[[], dict[str, Any]],
    ) -> None:
        self.registry = registry
        self.tmux = tmux
        self._clear_nudge = clear_nudge
        self._workspaces = workspaces
        self._locks: dict[str, asyncio.Lock] = {}
        self._signatures: dict[tuple[str, str], anchors.Signature] = {}
        self._dirty: set[str] = set()
        self._poke = asyncio.Event()
        self.passes = 0  # re-anchoring passes that looked at files

    # -- reads --------------------------------------------------------------------------------

    def rounds(self, workspace_id: str) -> list[ReviewRound]:
        return rounds_of(self.registry.state.reviews, workspace_id)

    def pending(self, workspace_id: str) -> list[ReviewComment]:
        return list(self.registry.state.pending.get(workspace_id, ()))

    def summary(self) -> dict[str, tuple[int, int, int]]:
        """Per workspace id: (rounds, comments pending, comments sent and not addressed), for the
        payload (no git, no tmux)."""
        out: dict[str, tuple[int, int, int]] = {}
        for r in self.registry.state.reviews.values():
            rounds, pending, open_ = out.get(r.workspace_id, (0, 0, 0))
            sent = sum(c.status is CommentStatus.SENT for c in r.comments)
            out[r.workspace_id] = (rounds + 1, pending, open_ + sent)
        for wid, comments in self.registry.state.pending.items():
            rounds, _, open_ = out.get(wid, (0, 0, 0))
            out[wid] = (rounds, len(comments), open_)
        return out

    async def fresh_rounds(self, workspace: Any) -> list[dict[str, Any]]:
        """The workspace's rounds, oldest first, re-anchored to the files as they are now."""
        await self.reanchor(workspace.id)
        return [r.payload() for r in self.rounds(workspace.id)]

    async def fresh_pending(self, workspace: Any) -> list[dict[str, Any]]:
        await self.reanchor(workspace.id)
        return [c.payload() for c in self.pending(workspace.id)]

    # -- the pending round --------------------------------------------------------------------

    async def add_pending(self, workspace: Any, drafts: list[ReviewComment]) -> list[ReviewComment]:
        """Anchor ``drafts`` to the working tree and add them to the workspace's pending round."""
        have = len(self.registry.state.pending.get(workspace.id, ()))
        if have + len(drafts) > MAX_PENDING:
            raise BadRequest(
                f"at most {MAX_PENDING} pending comments per workspace ({have} already): "
                "send or remove some first"
            )
        root = Path(workspace.path)
        added = await procs.in_worker(lambda: _anchored(root, drafts))
        with self.registry.change("review comment added") as st:
            now = (*st.pending.get(workspace.id, ()), *added)
            if len(now) > MAX_PENDING:  # others were added while these were anchored
                raise BadRequest(f"at most {MAX_PENDING} pending comments per workspace")
            st.pending[workspace.id] = now
        return added

    def remove_pending(self, workspace_id: str, comment_id: str) -> None:
        kept = tuple(c for c in self.pending(workspace_id) if c.id != comment_id)
        if len(kept) == len(self.pending(workspace_id)):
            raise NotFound(f"no pending comment {comment_id!r} in workspace {workspace_id!r}")
        with self.registry.change("review comment removed") as st:
            self._set_pending(st, workspace_id, kept)

    @staticmethod
    def _set_pending(st: Any, workspace_id: str, comments: tuple[ReviewComment, ...]) -> None:
        if comments:
            st.pending[workspace_id] = comments
        else:
            st.pending.pop(workspace_id, None)

    # -- sending ------------------------------------------------------------------------------

    async def send(
        self, workspace: Any, session: Any, given: list[ReviewComment] | None
    ) -> ReviewRound:
        """Type a round into ``session``: the ``given`` comments, or (None) the pending round,
        which is emptied of what was sent. The round answers the session's nudge."""
        from .tmux import TmuxError

        check_target(session, workspace.id)
        wid = workspace.id
        if given is None:
            await self.reanchor(wid)  # their lines where they are now
            comments = self.pending(wid)
            if not comments:
                raise BadRequest('no pending comments to send: add some first, or give "comments"')
        else:
            root = Path(workspace.path)
            comments = await procs.in_worker(lambda: _anchored(root, given))
        text = message(workspace.branch, comments)
        if len(text.encode("utf-8")) > MAX_MESSAGE:
            raise BadRequest(f"the round is too long to type (at most {MAX_MESSAGE // 1024} KiB)")
        ids = {c.id for c in comments}
        rnd = ReviewRound(new_round_id(), wid, session.id, tuple(comments))
        with self.registry.change("review round") as st:
            st.reviews[rnd.id] = rnd
            if given is None:  # out of the pending round while it is typed: sent once
                rest = tuple(c for c in st.pending.get(wid, ()) if c.id not in ids)
                self._set_pending(st, wid, rest)
        try:
            await type_message(self.tmux, session.tmux_name, text)
        except TmuxError as e:
            with self.registry.change("review round failed") as st:
                st.reviews[rnd.id] = replace(rnd, state=RoundState.FAILED, error=str(e))
                if given is None:  # back to pending, to be sent again
                    self._set_pending(st, wid, (*comments, *st.pending.get(wid, ())))
            raise Conflict(f"the review could not be typed into {session.id!r}: {e}") from None
        sent = replace(
            rnd,
            state=RoundState.SENT,
            sent_at=time.time(),
            comments=tuple(replace(c, status=CommentStatus.SENT) for c in comments),
        )
        with self.registry.change("review round sent") as st:
            st.reviews[sent.id] = sent
        if session.nudge_state:  # the agent asked for input: this answers it
            self._clear_nudge(session.id)
        return sent

    def mark(self, workspace_id: str, round_id: str, index: int, *, addressed: bool) -> ReviewRound:
        """The person says comment ``index`` of a sent round is addressed (or open again)."""
        rnd = find(self.registry.state.reviews, round_id)
        if rnd.workspace_id != workspace_id:
            raise NotFound(f"no review round {round_id!r} in workspace {workspace_id!r}")
        if not 0 <= index < len(rnd.comments):
            raise BadRequest(f'"index" must be 0 to {len(rnd.comments) - 1} (the comment\'s place)')
        comment = rnd.comments[index]
        if comment.status is CommentStatus.PENDING:
            raise Conflict("that comment was never typed to the agent: send the round first")
        if addressed:
            changed = replace(
                comment, status=CommentStatus.ADDRESSED, addressed_by=AddressedBy.USER
            )
        else:
            changed = replace(comment, status=CommentStatus.SENT, addressed_by=None)
        comments = list(rnd.comments)
        comments[index] = changed
        updated = replace(rnd, comments=tuple(comments))
        with self.registry.change("review comment marked") as st:
            st.reviews[updated.id] = updated
        return updated

    # -- re-anchoring -------------------------------------------------------------------------

    def mark_changed(self, ids: Iterable[str]) -> None:
        """These workspaces' files may have changed: re-anchor their comments soon."""
        self._dirty.update(ids)
        if self._dirty:
            self._poke.set()

    async def run(self) -> None:
        self.mark_changed(self._workspaces())  # files may have changed while the app was off
        while True:
            await self._poke.wait()
            await asyncio.sleep(COALESCE_SECONDS)
            self._poke.clear()
            ids, self._dirty = self._dirty, set()
            for wid in sorted(ids):
                try:
                    await self.reanchor(wid)
                except Exception:
                    log.exception("re-anchoring the review comments of %s failed", wid)

    def _comments(self, workspace_id: str) -> list[ReviewComment]:
        """The comments that follow their lines: pending ones and those of sent rounds."""
        st = self.registry.state
        out = [c for c in st.pending.get(workspace_id, ()) if c.anchor is not None]
        for r in st.reviews.values():
            if r.workspace_id == workspace_id and r.state is RoundState.SENT:
                out.extend(c for c in r.comments if c.anchor is not None)
        return out

    async def reanchor(self, workspace_id: str) -> None:
        """One pass over the workspace's comments (see the module's docstring)."""
        lock = self._locks.setdefault(workspace_id, asyncio.Lock())
        async with lock:
            comments = self._comments(workspace_id)
            ws = self._workspaces().get(workspace_id)
            if not comments or ws is None:
                return
            root = Path(ws.path)
            known = {p: s for (w, p), s in self._signatures.items() if w == workspace_id}
            moved, signatures = await procs.in_worker(lambda: _relocate(root, comments, known))
            self.passes += 1
            for path, sig in signatures.items():
                self._signatures[(workspace_id, path)] = sig
            if moved:
                self._apply(workspace_id, moved)

    def _apply(self, workspace_id: str, moved: dict[str, _Place]) -> None:
        def follow(c: ReviewComment) -> ReviewComment:
            place = moved.get(c.id)
            if place is None:
                return c
            now = replace(c, line=place.line, end_line=place.end_line, outdated=place.outdated)
            if place.outdated and not c.outdated and c.status is CommentStatus.SENT:
                now = replace(now, status=CommentStatus.ADDRESSED, addressed_by=AddressedBy.AUTO)
            return now

        with self.registry.change("review comments re-anchored", kind=Change.BACKGROUND) as st:
            if workspace_id in st.pending:
                st.pending[workspace_id] = tuple(follow(c) for c in st.pending[workspace_id])
            for rid, r in list(st.reviews.items()):
                ours = r.workspace_id == workspace_id and r.state is RoundState.SENT
                if ours and any(c.id in moved for c in r.comments):
                    st.reviews[rid] = replace(r, comments=tuple(follow(c) for c in r.comments))


def _relocate(
    root: Path, comments: list[ReviewComment], known: dict[str, anchors.Signature]
) -> tuple[dict[str, _Place], dict[str, anchors.Signature]]:
    """Where each comment's lines are now, for the comments whose place changed; and the
    signatures of the files read (blocking: a worker's)."""
    by_path: dict[str, list[ReviewComment]] = {}
    for c in comments:
        by_path.setdefault(c.path, []).append(c)
    moved: dict[str, _Place] = {}
    signatures: dict[str, anchors.Signature] = {}
    for path, group in by_path.items():
        sig = anchors.signature(root, path)
        if known.get(path) == sig:
            continue  # not touched since the last pass
        if sig[2] < time.time_ns() - RACY_NS:  # else a change within the clock's tick could hide
            signatures[path] = sig
        lines = anchors.read_lines(root, path)
        hashes = anchors.hashes(lines) if lines is not None else []
        for c in group:
            assert c.anchor is not None
            start = anchors.relocate(c.anchor, hashes, c.line)
            if start is None:
                place = _Place(c.line, c.end_line, True)
            else:
                n = len(c.anchor.lines)
                place = _Place(start, start + n - 1 if c.end_line is not None else None, False)
            if place != _Place(c.line, c.end_line, c.outdated):
                moved[c.id] = place
    return moved, signatures
