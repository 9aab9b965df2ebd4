"""The trash: snapshots of disposed workspaces, listed in ``D/trash/index.json``.

Each entry names where its git objects are kept (a private ref in the repo's bare clone in
worktree mode, a bundle file beside the index in clone mode; see ``backend.snapshots``) and is
kept ``workspaces.snapshot_keep_days`` days. The index is written atomically and read once at
start, so a snapshot survives a restart of the app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from .errors import NotFound, StorageError
from .fileio import write_json_atomic
from .models import rfc3339, valid_id

log = logging.getLogger(__name__)

INDEX_VERSION = 1
DAY = 86400.0

Mode = Literal["worktree", "clone"]


@dataclass(frozen=True)
class Snapshot:
    id: str
    workspace_id: str
    repo: str  # the repo's url as configured
    repo_name: str
    branch: str
    path: str  # where the checkout was
    mode: Mode
    commit: str  # the working tree's commit (parent: the HEAD it had)
    head: str | None  # the commit HEAD pointed at, None when unborn
    store: str  # the bare repo (worktree mode) or the bundle file (clone mode) holding it
    disposed_at: float = field(default_factory=time.time)
    files: int = 0  # uncommitted or untracked (not ignored) files kept
    commits: int = 0  # commits on local branches that no remote has
    stashes: int = 0
    branches: dict[str, str] = field(default_factory=dict)  # local branch -> commit (clone mode)

    @property
    def ref(self) -> str:
        return f"refs/schmux-trash/{self.id}"

    def payload(self, keep_days: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "workspace_id": self.workspace_id,
            "repo": self.repo,
            "branch": self.branch,
            "disposed_at": rfc3339(self.disposed_at),
            "expires_at": rfc3339(self.disposed_at + keep_days * DAY),
            "repo_name": self.repo_name,
            "path": self.path,
            "files": self.files,
            "commits": self.commits,
            "stashes": self.stashes,
        }

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Any) -> Snapshot:
        if not isinstance(record, dict):
            raise TypeError("a snapshot record must be an object")
        names = {f.name for f in fields(cls)}
        snap = cls(**{k: v for k, v in record.items() if k in names})
        text = (snap.id, snap.workspace_id, snap.repo, snap.repo_name, snap.branch, snap.commit)
        if not all(isinstance(v, str) for v in text) or not valid_id(snap.id):
            raise TypeError(f"snapshot record {record.get('id')!r} has a malformed field")
        if snap.mode not in ("worktree", "clone") or not isinstance(snap.disposed_at, int | float):
            raise TypeError(f"snapshot record {snap.id!r} has a malformed mode or time")
        return snap


class Trash:
    def __init__(
        self,
        directory: Path,
        *,
        keep_days: Callable[[], int],
        now: Callable[[], float] = time.time,
    ) -> None:
        self.dir = directory
        self.index_path = directory / "index.json"
        self.keep_days = keep_days
        self.now = now
        self._items: dict[str, Snapshot] = {}
        self.load()

    def load(self) -> None:
        try:
            text = self.index_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as e:
            log.error("cannot read %s (%s): disposed workspaces are not listed", self.index_path, e)
            return
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("version") != INDEX_VERSION:
                raise TypeError(f"expected an object with version {INDEX_VERSION}")
            items = [Snapshot.from_record(r) for r in doc.get("snapshots", [])]
        except (ValueError, TypeError) as e:
            # Kept aside, never overwritten: the snapshots it names are still in git.
            aside = self.index_path.with_name(f"index.json.broken-{int(self.now())}")
            log.error("%s is unusable (%s); moved to %s", self.index_path, e, aside.name)
            with contextlib.suppress(OSError):
                os.replace(self.index_path, aside)
            return
        self._items = {s.id: s for s in items}

    def _save(self, items: dict[str, Snapshot]) -> None:
        doc = {
            "version": INDEX_VERSION,
            "snapshots": [s.to_record() for s in sorted(items.values(), key=lambda s: s.id)],
        }
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_json_atomic(self.index_path, doc)
        except OSError as e:
            raise StorageError(f"could not save {self.index_path}: {e.strerror or e}") from e

    def newest_first(self) -> list[Snapshot]:
        return sorted(self._items.values(), key=lambda s: (-s.disposed_at, s.id))

    def get(self, snapshot_id: str) -> Snapshot:
        snap = self._items.get(snapshot_id) if valid_id(snapshot_id) else None
        if snap is None:
            raise NotFound(f"no snapshot of a disposed workspace with id {snapshot_id[:80]!r}")
        return snap

    def add(self, snap: Snapshot) -> None:
        self._save({**self._items, snap.id: snap})
        self._items[snap.id] = snap

    def remove(self, snapshot_id: str) -> None:
        if snapshot_id not in self._items:
            return
        items = {k: v for k, v in self._items.items() if k != snapshot_id}
        self._save(items)
        self._items = items

    def expired(self) -> list[Snapshot]:
        limit = self.now() - self.keep_days() * DAY
        return [s for s in self._items.values() if s.disposed_at <= limit]

    def bundle_path(self, snapshot_id: str) -> Path:
        return self.dir / f"{snapshot_id}.bundle"
