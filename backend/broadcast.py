"""Push the dashboard state to every WebSocket client: at once, debounced without loss.

Each client owns one outbound slot per message type holding only the newest message, drained
by that client's own sender (the WebSocket handler). A slow or stalled client therefore never
delays the others and never grows memory. The snapshot is serialised once per push.

Debounce: a change after a quiet window goes out at once (leading edge); changes inside the
window are coalesced into one trailing push at its end carrying the latest state. A state equal
to the last one pushed is not pushed again. Output-time-only changes are throttled to one push
per ``output_every`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from .events import ConfigChanged, Event, SessionsChanged, WorkspaceProgress

log = logging.getLogger(__name__)


class Client:
    def __init__(self) -> None:
        self._pending: dict[str, str] = {}
        self._wake = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code = 1000
        self.sent = 0

    def offer(self, slot: str, text: str) -> None:
        self._pending.pop(slot, None)  # re-insert: slots go out in the order last offered
        self._pending[slot] = text
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def next_batch(self) -> list[str]:
        """Wait for pending messages and take them all; [] once the client is closed."""
        while not self._pending:
            if self.closed.is_set():
                return []
            self._wake.clear()
            await self._wake.wait()
        batch = list(self._pending.values())
        self._pending.clear()
        return batch

    def close(self, code: int = 1000) -> None:
        self.close_code = code
        self.closed.set()
        self._wake.set()


class Broadcaster:
    def __init__(
        self,
        snapshot: Callable[[], list[dict[str, Any]]],
        config: Callable[[], dict[str, Any]],
        *,
        debounce: Callable[[], float],
        output_every: float = 5.0,
    ) -> None:
        self._snapshot = snapshot
        self._config = config
        self._debounce = debounce
        self.output_every = output_every
        self.clients: set[Client] = set()
        self.seq = 0
        self.pushes = 0
        self._last_workspaces: str | None = None
        self._last_push = float("-inf")
        self._last_output_push = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._output_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- clients --------------------------------------------------------------------------

    def register(self) -> Client:
        client = Client()
        text = self._workspaces_text()
        if not self.clients and self._timer is None:
            # Nobody holds an older state: this one counts as pushed. (With other clients
            # connected it must not, or a pending trailing push to them would be skipped.)
            self._last_workspaces = text
        self.clients.add(client)
        self.seq += 1
        client.offer("sessions", self._sessions_message(text, self.seq))
        client.offer("config", self._config_message())
        return client

    def unregister(self, client: Client) -> None:
        self.clients.discard(client)

    async def close_all(self, code: int = 1000, timeout: float = 2.0) -> None:
        for c in list(self.clients):
            c.close(code)
        deadline = asyncio.get_running_loop().time() + timeout
        while self.clients and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    def shutdown(self) -> None:
        for timer in (self._timer, self._output_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._output_timer = None

    # -- events ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, SessionsChanged):
            if event.throttled:
                self.request_throttled()
            else:
                self.request()
        elif isinstance(event, ConfigChanged):
            self._fan_out("config", self._config_message())
        elif isinstance(event, WorkspaceProgress):
            key = f"progress:{event.request_id or ''}:{event.workspace_id or ''}"
            self._fan_out(key, self._encode(event.to_message()))

    def _now(self) -> float:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def request(self) -> None:
        """A change happened: push now, or once at the end of the current window."""
        now = self._now()
        if self._timer is not None:
            return
        window = self._debounce()
        if now - self._last_push >= window:
            self.push_now()
        else:
            assert self._loop is not None
            self._timer = self._loop.call_at(self._last_push + window, self._trailing)

    def _trailing(self) -> None:
        self._timer = None
        self.push_now()

    def request_throttled(self) -> None:
        if self._output_timer is not None:
            return
        now = self._now()
        due = max(now, self._last_output_push + self.output_every)
        assert self._loop is not None
        self._output_timer = self._loop.call_at(due, self._output_due)

    def _output_due(self) -> None:
        self._output_timer = None
        self._last_output_push = self._now()
        self.request()

    def push_now(self) -> bool:
        """Serialise the state once and hand it to every client, unless it did not change."""
        text = self._workspaces_text()
        if text == self._last_workspaces:
            return False
        self._last_push = self._now()
        self.seq += 1
        self.pushes += 1
        self._fan_out("sessions", self._sessions_message(text, self.seq), remember=text)
        return True

    # -- encoding -------------------------------------------------------------------------

    def _workspaces_text(self) -> str:
        return json.dumps(self._snapshot(), separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def _sessions_message(workspaces_text: str, seq: int) -> str:
        return f'{{"type":"sessions","seq":{seq},"workspaces":{workspaces_text}}}'

    def _config_message(self) -> str:
        self.seq += 1
        return self._encode({"type": "config", "seq": self.seq, "config": self._config()})

    @staticmethod
    def _encode(message: dict[str, Any]) -> str:
        return json.dumps(message, separators=(",", ":"), ensure_ascii=False)

    def _fan_out(self, slot: str, text: str, *, remember: str | None = None) -> None:
        if remember is not None:
            self._last_workspaces = remember
        for c in self.clients:
            c.offer(slot, text)
