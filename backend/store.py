"""``state.json``: the one module that reads and writes it. Atomic, versioned."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StorageError
from .fileio import write_json_atomic
from .models import Session, Workspace

SCHEMA_VERSION = 1


class StateFileError(Exception):
    """state.json exists but cannot be used; the message names the file."""


@dataclass
class State:
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)

    def sessions_of(self, workspace_id: str) -> list[Session]:
        return [s for s in self.sessions.values() if s.workspace_id == workspace_id]

    def to_document(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "workspaces": [
                w.to_record() for w in sorted(self.workspaces.values(), key=lambda w: w.id)
            ],
            "sessions": [s.to_record() for s in sorted(self.sessions.values(), key=lambda s: s.id)],
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
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise StateFileError(f"{self.path}: not valid JSON: {e.msg} (line {e.lineno})") from e
        if not isinstance(doc, dict):
            raise StateFileError(f"{self.path}: expected a JSON object")
        version = doc.get("version")
        if version != SCHEMA_VERSION:
            raise StateFileError(
                f"{self.path}: schema version {version!r} is not supported (expected {SCHEMA_VERSION})"
            )
        try:
            workspaces = [Workspace.from_record(r) for r in doc.get("workspaces", [])]
            sessions = [Session.from_record(r) for r in doc.get("sessions", [])]
        except (TypeError, AttributeError) as e:
            raise StateFileError(f"{self.path}: malformed record: {e}") from e
        return State(
            workspaces={w.id: w for w in workspaces},
            sessions={s.id: s for s in sessions if s.workspace_id in {w.id for w in workspaces}},
        )

    def save(self, state: State) -> None:
        try:
            write_json_atomic(self.path, state.to_document(), indent=None)
        except OSError as e:
            raise StorageError(f"could not save {self.path}: {e.strerror or e}") from e
