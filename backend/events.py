"""What the domain announces. Listeners (the broadcaster) subscribe; the domain imports no web code."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class Change(enum.Enum):
    """Who made a change, which decides how soon it is pushed (docs/PROTOCOL.md)."""

    ACTION = "action"  # a person's own action (spawn, dispose, rename, nudge, ...): at once
    BACKGROUND = "background"  # found by a loop (git status, exits): debounced without loss
    OUTPUT = "output"  # only ``last_output_at`` moved: throttled, then debounced


@dataclass(frozen=True)
class SessionsChanged:
    """The dashboard payload may differ now."""

    reason: str
    kind: Change = Change.ACTION


@dataclass(frozen=True)
class ConfigChanged:
    pass


@dataclass(frozen=True)
class WorkspaceProgress:
    request_id: str | None
    repo: str
    branch: str
    workspace_id: str | None
    stage: str  # fetching | checkout | ready | error
    percent: float | None
    message: str

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "workspace_progress",
            "request_id": self.request_id,
            "repo": self.repo,
            "branch": self.branch,
            "workspace_id": self.workspace_id,
            "stage": self.stage,
            "percent": self.percent,
            "message": self.message,
        }


Event = SessionsChanged | ConfigChanged | WorkspaceProgress
Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed for %r", event)
