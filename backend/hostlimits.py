"""How long a host may take to answer a forwarded request, by kind of call.

A host ends its own long work at its own deadlines (``sessions.git_clone_timeout_ms`` for a
clone, ``sessions.git_status_timeout_ms`` for each git command of a status, diff or
snapshot), and its ``config`` message tells this server what they are. A forwarded request
waits for its answer that long plus ``MARGIN``, never the HTTP client's own long default:

    CallKind.CLONE    spawn, restore: may clone or fetch, then read the new checkout's status
    CallKind.SNAPSHOT dispose a workspace: its status, then a snapshot of it (at least 120 s)
    CallKind.GIT      diff, scan, branch check...: git commands under the status deadline
    CallKind.QUICK    rename, nudge, dispose a session...: memory and tmux only

A host that stops answering altogether is noticed sooner by its link's pings, which end every
request in flight to it (``backend.hostlink``); these deadlines catch a host that still
answers pings but never answers one request.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

MARGIN = 30.0  # the host's answer after its own deadline passed: its error, sent over the network
SNAPSHOT_MIN = 120.0  # the host's own floor for a snapshot (backend.workspaces)
CLONE_DEFAULT = 300.0
GIT_DEFAULT = 30.0


class CallKind(enum.Enum):
    CLONE = "clone"
    SNAPSHOT = "snapshot"
    GIT = "git"
    QUICK = "quick"


@dataclass(frozen=True)
class HostLimits:
    """A host's own deadlines, in seconds (the defaults until its config message says)."""

    clone: float = CLONE_DEFAULT
    git: float = GIT_DEFAULT

    @classmethod
    def from_config(cls, config: Any) -> HostLimits:
        """The deadlines in a host's ``config`` message; a missing or odd value: the default."""
        sessions = config.get("sessions") if isinstance(config, dict) else None
        sessions = sessions if isinstance(sessions, dict) else {}

        def seconds(key: str, default: float) -> float:
            value = sessions.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                return default
            return min(float(value) / 1000, 24 * 3600.0)

        return cls(
            clone=seconds("git_clone_timeout_ms", CLONE_DEFAULT),
            git=seconds("git_status_timeout_ms", GIT_DEFAULT),
        )

    def read_timeout(self, kind: CallKind) -> float:
        """How long to wait for the host's answer to a call of ``kind``."""
        if kind is CallKind.CLONE:
            return self.clone + self.git + MARGIN
        if kind is CallKind.SNAPSHOT:
            return self.git + max(self.git, SNAPSHOT_MIN) + MARGIN
        if kind is CallKind.GIT:
            return self.git + MARGIN
        return MARGIN
