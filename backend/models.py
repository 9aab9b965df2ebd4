"""Workspaces and sessions as the app keeps them, and their pinned payload shape (docs/API.md#the-dashboard-payload)."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from .config import short_repo_name
from .weblinks import branch_url

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def valid_id(value: str) -> bool:
    """Ids name files and tmux sessions: letters, digits, '.', '_', '-'; never '..'."""
    return bool(ID_RE.match(value)) and ".." not in value


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _rfc3339_seconds(int(ts))


@functools.lru_cache(maxsize=8192)
def _rfc3339_seconds(seconds: int) -> str:
    # Cached: the payload is rebuilt on every push and holds hundreds of timestamps.
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Workspace:
    id: str
    repo: str
    repo_name: str
    branch: str
    path: str
    created_at: float = field(default_factory=time.time)
    git_ahead: int = 0
    git_behind: int = 0
    git_dirty: bool = False
    git_lines_added: int = 0
    git_lines_removed: int = 0
    git_files_changed: int = 0
    git_error: str = ""
    git_revision: str = ""  # GitStatus.revision: moves with every edit of a changed file

    def to_record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _WORKSPACE_FIELDS}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Workspace:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


@dataclass
class Session:
    id: str
    workspace_id: str
    target: str
    tmux_name: str
    nickname: str = ""
    created_at: float = field(default_factory=time.time)
    last_output_at: float | None = None
    nudge_state: str = ""
    nudge_summary: str = ""
    nudge_source: str = ""  # "agent" (the API), "detector" (the screen), "" when none
    running: bool = False
    exit_status: int | None = None
    pid: int | None = None

    def to_record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SESSION_FIELDS}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Session:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


# Every field is a str, number, bool or None: records and copies need no deep copying.
_WORKSPACE_FIELDS = tuple(f.name for f in fields(Workspace))
_SESSION_FIELDS = tuple(f.name for f in fields(Session))


def session_payload(
    s: Session, attach_prefix: str, branch: str = "", url: str = ""
) -> dict[str, Any]:
    """``branch`` and ``url``: its workspace's branch and that branch's web page (``""``)."""
    return {
        "id": s.id,
        "target": s.target,
        "nickname": s.nickname,
        "running": s.running,
        "created_at": rfc3339(s.created_at),
        "last_output_at": rfc3339(s.last_output_at),
        "nudge_state": s.nudge_state,
        "nudge_summary": s.nudge_summary,
        "nudge_source": s.nudge_source,
        "attach_cmd": f"{attach_prefix} attach -t '={s.tmux_name}'",
        "exit_status": s.exit_status,
        "run_state": run_state(s),
        "workspace_id": s.workspace_id,
        "host": "",
        "branch": branch,
        "branch_url": url,
    }


def run_state(s: Session) -> str:
    """``running``; ``done`` (its command exited with status 0); ``exited`` (any other end)."""
    if s.running:
        return "running"
    return "done" if s.exit_status == 0 else "exited"


def workspace_payload(w: Workspace, sessions: list[Session], attach_prefix: str) -> dict[str, Any]:
    ordered = sorted(sessions, key=lambda s: (s.created_at, s.id))
    url = branch_url(w.repo, w.branch)  # pure and cached: no git
    return {
        "id": w.id,
        "repo": w.repo,
        "branch": w.branch,
        "short_repo": short_repo_name(w.repo),
        "repo_name": w.repo_name,
        "path": w.path,
        "session_count": len(ordered),
        "sessions": [session_payload(s, attach_prefix, w.branch, url) for s in ordered],
        "git_ahead": w.git_ahead,
        "git_behind": w.git_behind,
        "git_dirty": w.git_dirty,
        "git_lines_added": w.git_lines_added,
        "git_lines_removed": w.git_lines_removed,
        "git_files_changed": w.git_files_changed,
        "git_error": w.git_error,
        "git_revision": w.git_revision,
        "host": "",
        "branch_url": url,
    }


def snapshot_payload(
    workspaces: Mapping[str, Workspace], sessions: Iterable[Session], attach_prefix: str
) -> list[dict[str, Any]]:
    """The pinned payload of every workspace, its sessions inside, in id order."""
    by_ws: dict[str, list[Session]] = {wid: [] for wid in workspaces}
    for s in sessions:
        by_ws.setdefault(s.workspace_id, []).append(s)
    return [
        workspace_payload(workspaces[wid], by_ws[wid], attach_prefix) for wid in sorted(workspaces)
    ]
