"""Content anchors on real files: lines found again by content, the best-matching copy chosen by
its context, gone lines reported, and a pass over unchanged files reading none of them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from backend import anchors, reviewer
from backend.reviews import ReviewComment

LINES = [f"line {n}" for n in range(1, 11)]


def test_lines_moved_by_an_insertion_are_found_where_they_went() -> None:
    anchor, quote = anchors.take(LINES, 4, 5)
    assert anchor is not None and quote == "line 4\nline 5"
    moved = ["new"] * 3 + LINES
    assert anchors.relocate(anchor, anchors.hashes(moved), 4) == 7
    assert anchors.relocate(anchor, anchors.hashes(LINES), 4) == 4


def test_of_two_copies_the_one_with_the_same_context_wins() -> None:
    text = ["a", "b", "dup", "c", "x", "y", "z", "dup", "q"]
    anchor, _ = anchors.take(text, 8, 8)  # the second "dup", between z and q
    assert anchor is not None
    shifted = ["top", *text]
    assert anchors.relocate(anchor, anchors.hashes(shifted), 8) == 9  # not 4, the nearer copy


def test_changed_or_deleted_lines_are_not_found() -> None:
    anchor, _ = anchors.take(LINES, 2, 3)
    assert anchor is not None
    changed = [*LINES]
    changed[2] = "line three"
    assert anchors.relocate(anchor, anchors.hashes(changed), 2) is None
    assert anchors.relocate(anchor, [], 2) is None
    assert anchors.take(LINES, 11, 11) == (None, None)  # past the end: nothing to anchor


def test_a_pass_over_unchanged_files_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = tmp_path / "a.txt"
    f.write_text("\n".join(LINES) + "\n")
    old = time.time() - 60  # not "racily clean": its stat can be trusted
    os.utime(f, (old, old))
    comment = reviewer._anchored(tmp_path, [ReviewComment("a.txt", 3, "body")])[0]
    reads: list[str] = []
    real = anchors.read_lines
    monkeypatch.setattr(
        anchors, "read_lines", lambda root, rel: reads.append(rel) or real(root, rel)
    )

    moved, sigs = reviewer._relocate(tmp_path, [comment], {})
    assert moved == {} and reads == ["a.txt"] and "a.txt" in sigs
    moved, again = reviewer._relocate(tmp_path, [comment], sigs)
    assert moved == {} and again == {} and reads == ["a.txt"]  # stat only

    f.write_text("inserted\n" + "\n".join(LINES) + "\n")
    moved, _ = reviewer._relocate(tmp_path, [comment], sigs)
    assert reads == ["a.txt", "a.txt"]
    assert moved[comment.id] == reviewer._Place(4, None, False)
