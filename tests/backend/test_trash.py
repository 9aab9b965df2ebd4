"""The trash index: atomic, survives a reload, expires on an injected clock, tolerates damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.errors import NotFound
from backend.trash import DAY, Snapshot, Trash


def _snap(sid: str, at: float) -> Snapshot:
    return Snapshot(
        id=sid,
        workspace_id="proj-001",
        repo="/src/proj",
        repo_name="proj",
        branch="feature",
        path="/w/proj-001",
        mode="worktree",
        commit="0" * 40,
        head="1" * 40,
        store="/d/repos/proj.git",
        disposed_at=at,
        files=3,
        commits=1,
    )


def test_index_survives_a_reload_and_expires_by_keep_days(tmp_path: Path) -> None:
    now = [1_000_000.0]
    days = [14]
    trash = Trash(tmp_path / "trash", keep_days=lambda: days[0], now=lambda: now[0])
    trash.add(_snap("proj-001-aaaa", now[0] - 15 * DAY))
    trash.add(_snap("proj-001-bbbb", now[0] - 1 * DAY))
    again = Trash(tmp_path / "trash", keep_days=lambda: days[0], now=lambda: now[0])
    assert [s.id for s in again.newest_first()] == ["proj-001-bbbb", "proj-001-aaaa"]
    assert [s.id for s in again.expired()] == ["proj-001-aaaa"]
    days[0] = 0
    assert {s.id for s in again.expired()} == {"proj-001-aaaa", "proj-001-bbbb"}
    again.remove("proj-001-aaaa")
    payload = Trash(tmp_path / "trash", keep_days=lambda: 14).get("proj-001-bbbb").payload(14)
    assert payload["disposed_at"].endswith("Z") and payload["files"] == 3
    assert {"id", "workspace_id", "repo", "branch", "disposed_at"} <= set(payload)
    with pytest.raises(NotFound):
        again.get("proj-001-aaaa")
    with pytest.raises(NotFound):
        again.get("../index")
    assert not list((tmp_path / "trash").glob("*.tmp"))


def test_a_damaged_index_is_moved_aside_not_overwritten(tmp_path: Path) -> None:
    d = tmp_path / "trash"
    d.mkdir()
    (d / "index.json").write_text(json.dumps({"version": 1, "snapshots": [{"id": 5}]}))
    trash = Trash(d, keep_days=lambda: 14, now=lambda: 123.0)
    assert trash.newest_first() == []
    assert (d / "index.json.broken-123").exists() and not (d / "index.json").exists()
