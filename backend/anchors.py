"""Content anchors: where a review comment's lines are now, found by what they say.

When a comment is made, its lines (``line`` to ``end_line`` of the working tree's file) are kept
as short hashes, with a few lines of context on each side, and as a bounded quote for people.
When the file changes, ``relocate`` looks for those lines again: found (anywhere: lines inserted
above move them down) → the comment follows them; not found (deleted or edited) → the comment is
outdated. Among several places holding the same lines, the one whose context matches best, then
the nearest to where the comment was, wins.

Reading files is blocking: callers run these functions in a worker thread. ``signature`` is a
``stat`` of the file, so a pass over comments whose files did not change reads nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTEXT = 3  # lines kept on each side of a comment's lines
MAX_RANGE = 2000  # lines one comment can be about
MAX_QUOTE_LINES = 12  # lines quoted to people and agents (the rest is counted)
MAX_QUOTE = 300  # characters of one quoted line

Signature = tuple[int, int, int, int]  # (inode, size, mtime_ns, ctime_ns); (0,0,0,0) missing


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


@dataclass(frozen=True)
class Anchor:
    lines: tuple[str, ...]  # hashes of the comment's lines
    before: tuple[str, ...]  # hashes of up to CONTEXT lines above, nearest last
    after: tuple[str, ...]  # hashes of up to CONTEXT lines below, nearest first

    def to_record(self) -> dict[str, Any]:
        return {"lines": list(self.lines), "before": list(self.before), "after": list(self.after)}

    @classmethod
    def from_record(cls, record: Any) -> Anchor:
        if not isinstance(record, dict):
            raise TypeError("a comment's anchor must be an object")
        parts = []
        for key in ("lines", "before", "after"):
            value = record.get(key)
            if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
                raise TypeError(f"a comment's anchor.{key} must be a list of strings")
            parts.append(tuple(value))
        if not parts[0]:
            raise ValueError("a comment's anchor holds no lines")
        return cls(parts[0], parts[1], parts[2])


def read_lines(root: Path, rel: str) -> list[str] | None:
    """The working tree file's lines (without their ends); None when it is missing, not a
    regular file, binary or too large to show. Read without following a link out of the tree."""
    from .diffs import MAX_FILE_BYTES, _read_beneath

    got = _read_beneath(os.fsencode(root), os.fsencode(rel), count_lines=False)
    if got.missing or b"\0" in got.data[:8000] or got.size > MAX_FILE_BYTES:
        return None
    lines = got.data.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [s.removesuffix("\r") for s in lines]


def signature(root: Path, rel: str) -> Signature:
    if rel.startswith("/") or ".." in rel.split("/"):
        return (0, 0, 0, 0)  # not a file of the checkout (read_lines refuses it too)
    try:
        st = os.stat(root / rel)
    except (OSError, ValueError):
        return (0, 0, 0, 0)
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _printable(text: str) -> str:
    text = "".join(
        ch if ch == "\t" or (ord(ch) >= 0x20 and not 0x7F <= ord(ch) < 0xA0) else "?" for ch in text
    )
    return text[:MAX_QUOTE] + ("…" if len(text) > MAX_QUOTE else "")


def take(lines: list[str] | None, line: int, end_line: int) -> tuple[Anchor | None, str | None]:
    """The anchor and the quote of lines ``line``..``end_line`` (1-based, inclusive); (None,
    None) when the file or the lines are not there."""
    if lines is None or line > len(lines):
        return None, None
    end = min(end_line, len(lines))
    body = lines[line - 1 : end]
    anchor = Anchor(
        tuple(_hash(s) for s in body),
        tuple(_hash(s) for s in lines[max(0, line - 1 - CONTEXT) : line - 1]),
        tuple(_hash(s) for s in lines[end : end + CONTEXT]),
    )
    shown = [_printable(s) for s in body[:MAX_QUOTE_LINES]]
    if len(body) > MAX_QUOTE_LINES:
        shown.append(f"… ({len(body) - MAX_QUOTE_LINES} more lines)")
    return anchor, "\n".join(shown)


def hashes(lines: list[str]) -> list[str]:
    return [_hash(s) for s in lines]


def relocate(anchor: Anchor, file_hashes: list[str], hint: int) -> int | None:
    """The 1-based line where the anchor's lines start now (None: they are gone or changed);
    ``hint`` is where they started before."""
    n, first = len(anchor.lines), anchor.lines[0]
    best: tuple[int, int, int] | None = None  # (-context matched, distance, start)
    for i, h in enumerate(file_hashes):
        if h != first or tuple(file_hashes[i : i + n]) != anchor.lines:
            continue
        score = 0
        for k, b in enumerate(reversed(anchor.before)):
            if i - 1 - k >= 0 and file_hashes[i - 1 - k] == b:
                score += 1
        for k, a in enumerate(anchor.after):
            if i + n + k < len(file_hashes) and file_hashes[i + n + k] == a:
                score += 1
        key = (-score, abs(i + 1 - hint), i + 1)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]
