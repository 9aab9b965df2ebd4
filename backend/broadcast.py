"""Push the dashboard state to every WebSocket client: at once, debounced without loss.

Each client owns one outbound slot per message type holding only the newest message, drained
by that client's own sender (the WebSocket handler). A slow or stalled client therefore never
delays the others and never grows memory. The snapshot is serialised once per push and framed
once (``wire`` stamps its ``seq``): every client gets the same text.

Every connection starts with ``sessions`` then ``config`` (a client in its ``GREETING`` state
gets those two first, each holding the newest state, whatever was offered meanwhile), then
``hosts`` (the configured hosts' states) when the broadcaster has a ``hosts`` source.

A person's action (``Change.ACTION``) is pushed at once, never held behind a window. So is a
host's push (``request_remote``; it was debounced on its host), pushes of several hosts within
``REMOTE_GAP`` of each other coalesced. Background
changes are debounced without loss: a change after a quiet window goes out at once (leading
edge); changes inside the window are coalesced into one trailing push at its end carrying the
latest state. A state equal to the last one pushed is not pushed again. Output-time-only
changes are throttled to one push per ``output_every`` seconds.

Time comes from a ``Clock`` (the event loop by default; a virtual one in tests).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from typing import Any, Protocol

from . import wire
from .events import Change, ConfigChanged, Event, SessionsChanged, WorkspaceProgress


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the broadcaster needs of time; ``asyncio`` event loops are one."""

    def time(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer: ...


GREETING_SLOTS = ("sessions", "config")
# A person's actions go out at once; a flood of them (a script, many agents' hooks) is held to a
# rate the clients can take: ACTION_BURST back to back, then ACTION_RATE a second, each push
# carrying the latest state. People never come near it; 200 clients at 20 pushes a second did.
# (With a debounce window of 0 nothing is coalesced, floods included.)
ACTION_BURST = 8
ACTION_RATE = 5.0
# A host's push was debounced and flood-guarded on the host already: passed on at once, only
# pushes from several hosts closer than this are coalesced (one push, the latest state).
REMOTE_GAP = 0.025


class ClientState(enum.Enum):
    """What the client has been sent (closing is the ``closed`` event's business)."""

    GREETING = "greeting"  # sessions and config not taken yet: they go first
    LIVE = "live"


class Client:
    def __init__(self, next_seq: Callable[[], int]) -> None:
        self._next_seq = next_seq
        self._pending: dict[str, wire.Frame] = {}
        self._wake = asyncio.Event()
        self.closed = asyncio.Event()
        self.state = ClientState.GREETING
        self.close_code = 1000
        self.sent = 0

    def offer(self, slot: str, frame: wire.Frame) -> None:
        if self.state is ClientState.GREETING and slot in GREETING_SLOTS:
            self._pending[slot] = frame  # in place: the greeting keeps its order
        else:
            self._pending.pop(slot, None)  # re-insert: slots go out in the order last offered
            self._pending[slot] = frame
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def take(self) -> list[str]:
        """The pending messages' text frames, emptying the slots.

        Frames are shared by every client (stamped once per push, in the order offered). The
        first batch of a connection, its greeting first, is stamped afresh as it is taken: so
        ``seq`` increases on the socket even though the greeting was updated in place."""
        frames = list(self._pending.items())
        self._pending.clear()
        if self.state is not ClientState.GREETING:
            return [f.text for _, f in frames]
        first = [f for f in frames if f[0] in GREETING_SLOTS]
        first.sort(key=lambda f: GREETING_SLOTS.index(f[0]))
        frames = first + [f for f in frames if f[0] not in GREETING_SLOTS]
        self.state = ClientState.LIVE
        return [wire.frame(f.message, self._next_seq()).text for _, f in frames]

    async def next_batch(self) -> list[str]:
        """Wait for pending messages and take them all; [] once the client is closed."""
        while not self._pending:
            if self.closed.is_set():
                return []
            self._wake.clear()
            await self._wake.wait()
        return self.take()

    def close(self, code: int = 1000) -> None:
        self.close_code = code
        self.closed.set()
        self._wake.set()


class Broadcaster:
    def __init__(
        self,
        snapshot: Callable[[], list[dict[str, Any]] | str],
        config: Callable[[], dict[str, Any]],
        *,
        debounce: Callable[[], float],
        output_every: float = 5.0,
        clock: Clock | None = None,
        hosts: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._config = config
        self._hosts = hosts
        self._debounce = debounce
        self.output_every = output_every
        self.clients: set[Client] = set()
        self.seq = 0
        self.pushes = 0
        self._last_workspaces: wire.Message | None = None
        self._last_push = float("-inf")
        self._last_output_push = float("-inf")
        self._timer: Timer | None = None
        self._output_timer: Timer | None = None
        self._action_timer: Timer | None = None
        self._remote_timer: Timer | None = None
        self._last_remote_push = float("-inf")
        self._action_tokens = float(ACTION_BURST)
        self._action_tokens_at = float("-inf")
        self._clock = clock

    # -- clients --------------------------------------------------------------------------

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def register(self) -> Client:
        client = Client(self.next_seq)
        msg = self._sessions_message()
        if not self.clients and self._timer is None:
            # Nobody holds an older state: this one counts as pushed. (With other clients
            # connected it must not, or a pending trailing push to them would be skipped.)
            self._last_workspaces = msg
        self.clients.add(client)
        client.offer("sessions", wire.Frame(msg))  # stamped as it is taken
        client.offer("config", wire.Frame(self._config_message()))
        if self._hosts is not None:
            client.offer("hosts", wire.Frame(wire.hosts(self._hosts())))
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
        for timer in (self._timer, self._output_timer, self._action_timer, self._remote_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._output_timer = self._action_timer = self._remote_timer = None

    # -- events ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if isinstance(event, SessionsChanged):
            if event.kind is Change.ACTION:
                self.request_action()
            elif event.kind is Change.OUTPUT:
                self.request_throttled()
            else:
                self.request()
        elif isinstance(event, ConfigChanged):
            self._fan_out("config", self._config_message())
        elif isinstance(event, WorkspaceProgress):
            key = f"progress:{event.request_id or ''}:{event.workspace_id or ''}"
            body = event.to_message()
            self._fan_out(key, wire.message(str(body.pop("type")), body))

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            self._clock = asyncio.get_running_loop()
        return self._clock

    def request_action(self) -> None:
        """A person's action: push now (a token bucket holds floods to ``ACTION_RATE``)."""
        if self._action_timer is not None:
            return  # a push is due soon and will carry this change too
        if self._debounce() <= 0:  # dashboard_debounce_ms 0: no coalescing asked for, at all
            self.push_now()
            return
        tokens = self._refill_action_tokens()
        if tokens >= 1.0:
            self._action_tokens = tokens - 1.0
            self.push_now()
        else:
            due = self.clock.time() + (1.0 - tokens) / ACTION_RATE
            self._action_timer = self.clock.call_at(due, self._action_due)

    def request_remote(self) -> None:
        """A host pushed new workspaces: push now, or ``REMOTE_GAP`` after the last such push."""
        if self._remote_timer is not None:
            return  # due within REMOTE_GAP, carrying this change too
        now = self.clock.time()
        due = self._last_remote_push + REMOTE_GAP
        if now >= due or self._debounce() <= 0:
            self._last_remote_push = now
            self.push_now()
        else:
            self._remote_timer = self.clock.call_at(due, self._remote_due)

    def _remote_due(self) -> None:
        self._remote_timer = None
        self._last_remote_push = self.clock.time()
        self.push_now()

    def push_hosts(self) -> None:
        """A host's state changed: every client gets the new ``hosts`` message now."""
        if self._hosts is not None:
            self._fan_out("hosts", wire.hosts(self._hosts()))

    def _refill_action_tokens(self) -> float:
        now = self.clock.time()
        elapsed = now - self._action_tokens_at
        self._action_tokens = min(float(ACTION_BURST), self._action_tokens + elapsed * ACTION_RATE)
        self._action_tokens_at = now
        return self._action_tokens

    def _action_due(self) -> None:
        self._action_timer = None
        self._action_tokens = max(0.0, self._refill_action_tokens() - 1.0)
        self.push_now()

    def request(self) -> None:
        """A background change happened: push now, or once at the end of the current window."""
        if self._timer is not None:
            return
        window = self._debounce()
        if self.clock.time() - self._last_push >= window:
            self.push_now()
        else:
            self._timer = self.clock.call_at(self._last_push + window, self._trailing)

    def _trailing(self) -> None:
        self._timer = None
        self.push_now()

    def request_throttled(self) -> None:
        if self._output_timer is not None:
            return
        due = max(self.clock.time(), self._last_output_push + self.output_every)
        self._output_timer = self.clock.call_at(due, self._output_due)

    def _output_due(self) -> None:
        self._output_timer = None
        self._last_output_push = self.clock.time()
        self.request()

    def push_now(self) -> bool:
        """Serialise the state once and hand it to every client, unless it did not change.

        A trailing push still due goes out at its time only if the state changed again."""
        msg = self._sessions_message()
        if msg == self._last_workspaces:
            return False
        self._last_push = self.clock.time()
        self.pushes += 1
        self._last_workspaces = msg
        self._fan_out("sessions", msg)
        return True

    # -- messages -------------------------------------------------------------------------

    def _sessions_message(self) -> wire.Message:
        return wire.sessions(self._snapshot())  # a list, or already its JSON text

    def _config_message(self) -> wire.Message:
        return wire.config(self._config())

    def _fan_out(self, slot: str, msg: wire.Message) -> None:
        """One frame (one ``seq``, one text) for every client."""
        frame = wire.frame(msg, self.next_seq())
        for c in self.clients:
            c.offer(slot, frame)
