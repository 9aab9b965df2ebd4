"""The live state, its store and its events: every change goes through ``change()``.

A change is applied in memory, saved to disk, then announced. If saving fails the memory is
rolled back, so what the dashboard shows and what ``state.json`` holds always agree.
Changes never await inside the block, so each is atomic on the event loop.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

from .events import Change, EventBus, SessionsChanged
from .store import State, StateStore


class Registry:
    def __init__(self, store: StateStore, events: EventBus) -> None:
        self.store = store
        self.events = events
        self.state = store.load()

    @contextmanager
    def change(self, reason: str, *, kind: Change = Change.ACTION) -> Iterator[State]:
        """``kind``: a person's action unless a loop says otherwise (see ``Change``)."""
        # Records hold only immutable values, so a copy of each object is a full snapshot.
        workspaces = {k: copy.copy(v) for k, v in self.state.workspaces.items()}
        sessions = {k: copy.copy(v) for k, v in self.state.sessions.items()}
        reviews = dict(self.state.reviews)  # rounds are replaced, never changed in place
        pending = dict(self.state.pending)  # tuples of frozen comments
        try:
            yield self.state
            self.store.save(self.state)
        except BaseException:
            self.state.workspaces = workspaces
            self.state.sessions = sessions
            self.state.reviews = reviews
            self.state.pending = pending
            raise
        self.events.emit(SessionsChanged(reason, kind))
