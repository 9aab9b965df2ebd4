"""The link to one host: one connection to its ``/ws/dashboard``, its last workspaces, its state.

States (``LinkState``): ``reconnecting`` until the host's first ``sessions`` message arrives,
then ``connected``; a connection that fails or drops goes back to ``reconnecting`` and, after
``offline_after`` failed attempts in a row, ``offline``. Attempts go on all the while, spaced by
``backend.backoff.Backoff`` (exponential, full jitter; a connection that stayed up a minute
starts the climb again). ``since`` is when the state last changed, ``error`` the last failure
("" while connected). A dropped host keeps its last workspaces: the state says they are stale.
A ping at once and every ``ping_interval`` measures ``latency_ms`` and notices a host that
stops answering without closing (a frozen process, a pulled cable): no pong within
``ping_timeout`` ends the connection.

Requests forwarded to the host go through ``request``: each waits at most its kind's deadline
(``backend.hostlimits``, from the host's own config message), and every one still in flight
when the connection is lost ends at once with ``HostUnavailable`` ("host X stopped
answering"), so a caller waits for a frozen host no longer than the pings take to notice it.
A relayed terminal is held ``in_flight`` the same way.

Time and chance are injected (``now``, ``wait``, ``random``) so the backoff is tested on a
virtual clock. Changes are reported through two callbacks: ``on_sessions`` (new workspaces)
and ``on_state`` (state, error, latency, catalogue); the link never awaits anything of another
host's.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import random as random_mod
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from . import hostids
from .backoff import Backoff
from .errors import AppError, HostUnavailable
from .hostclient import Answer, HostClient, describe
from .hostlimits import CallKind, HostLimits
from .models import rfc3339
from .tasks import TaskGroup

log = logging.getLogger(__name__)


NO_PONG = "no answer to pings"  # the reason of the close frame sent to a host that stopped


class LinkState(enum.Enum):
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


async def wait_or_timeout(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


class LinkClosed(Exception):
    pass


class HostLink:
    def __init__(
        self,
        client: HostClient,
        *,
        on_sessions: Callable[[], None],
        on_state: Callable[[], None],
        now: Callable[[], float] = time.time,
        wait: Callable[[asyncio.Event, float], Awaitable[None]] = wait_or_timeout,
        random: Callable[[], float] = random_mod.random,
        backoff: Backoff | None = None,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        offline_after: int = 3,
        ssh: str = "",
    ) -> None:
        self.client = client
        self.name = client.name
        self._on_sessions = on_sessions
        self._on_state = on_state
        self._now = now
        self._wait = wait
        self.backoff = backoff if backoff is not None else Backoff(random=random)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.offline_after = offline_after
        self.ssh = ssh  # the destination of an ssh host: its attach commands go through it
        self.state = LinkState.RECONNECTING
        self.since = now()
        self.error = ""
        self.failures = 0  # failed attempts since the last connection
        self.updates = 0  # sessions messages received
        self.latency_ms: float | None = None  # the last one reported (None: not measured)
        self._connected_at: float | None = None
        self.workspaces: list[dict[str, Any]] = []  # the last ones, ids prefixed
        self._encoded: tuple[str, str] | None = None  # ... as JSON, once asked for
        self._session_ids: frozenset[str] = frozenset()
        self._workspace_ids: frozenset[str] = frozenset()
        self.catalogue: dict[str, Any] = {"repos": [], "run_targets": []}
        self.limits = HostLimits()  # the host's own deadlines, from its config message
        self._callers: set[asyncio.Task[Any]] = set()  # requests in flight through ``request``
        self._cut: dict[asyncio.Task[Any], str] = {}  # ... of those, the ones the link ended: why
        self._wake = asyncio.Event()
        self._updated = asyncio.Event()

    # -- reads ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The host's entry in the ``hosts`` message: its state, and what a spawn form needs
        to offer for it (its repos and run targets, from its last ``config`` message)."""
        return {
            "name": self.name,
            "state": self.state.value,
            "since": rfc3339(self.since),
            "error": self.error,
            "latency_ms": self.latency_ms,
            **self.catalogue,
        }

    def encoded(self) -> tuple[str, str]:
        """The last workspaces as JSON (``hostids.encode_block``), encoded once per update."""
        if self._encoded is None:
            self._encoded = hostids.encode_block(self.workspaces)
        return self._encoded

    def has_session(self, remote_id: str) -> bool:
        return remote_id in self._session_ids

    def has_workspace(self, remote_id: str) -> bool:
        return remote_id in self._workspace_ids

    def poke(self) -> None:
        """Try again now (the address changed: a tunnel came up)."""
        self._wake.set()

    async def next_update(self, after: int, timeout: float) -> bool:
        """Wait until more than ``after`` sessions messages have arrived (True), or ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.updates <= after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._updated.clear()
            await wait_or_timeout(self._updated, remaining)
        return True

    # -- requests ---------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        kind: CallKind,
        query: str = "",
        body: bytes | None = None,
    ) -> Answer:
        """One request to the host (``HostClient.request``), answered within ``kind``'s
        deadline, and ended with ``HostUnavailable`` as soon as the link is lost meanwhile."""
        async with self.in_flight():
            return await self.client.request(
                method, path, query=query, body=body, timeout=self.limits.read_timeout(kind)
            )

    @contextlib.asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """Work the current task does with the host (a request, a relayed terminal): ended
        with ``HostUnavailable`` as soon as the link is lost (no answer is coming), refused
        at once while it is not connected."""
        if self.state is not LinkState.CONNECTED:
            raise HostUnavailable(f"host {self.name} is offline")
        task = asyncio.current_task()
        assert task is not None
        self._callers.add(task)
        try:
            yield
        except asyncio.CancelledError:
            why = self._cut.get(task)
            if why is None or task.uncancel() > 0:
                raise  # cancelled by someone else too (the client went away): goes on
            raise HostUnavailable(why) from None
        finally:
            self._callers.discard(task)
            self._cut.pop(task, None)

    def _cut_callers(self, why: str) -> None:
        """End every request in flight with ``why``: no answer is coming."""
        for task in self._callers:
            if task not in self._cut:
                self._cut[task] = why
                task.cancel()

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, follow, reconnect: until cancelled (the host was removed, or shutdown)."""
        try:
            await self.client.endpoint.start()
            while True:
                try:
                    await self._follow()
                    error = "the host closed the connection"
                except (OSError, AppError, LinkClosed, TimeoutError, ValueError) as e:
                    error = e.message if isinstance(e, AppError) else describe(e)
                except Exception as e:  # websockets' own errors and anything else: retried
                    error = describe(e)
                self._lost(error)
                self._wake.clear()
                await self._wait(self._wake, self.backoff.next_delay())
        finally:
            # the host was removed from the config (or the server stops): nothing more comes
            self._cut_callers(f"host {self.name} is no longer followed")
            with contextlib.suppress(Exception):
                await self.client.endpoint.stop()
            with contextlib.suppress(Exception):
                await self.client.close()

    async def _follow(self) -> None:
        base = self.client.endpoint.base_url()
        if base is None:
            raise LinkClosed(self.client.endpoint.error or "not reachable yet")
        async with self.client.socket("/ws/dashboard", ping_interval=None, ping_timeout=None) as ws:
            group = TaskGroup()
            pings = group.spawn(self._ping(ws), name=f"host-ping-{self.name}")
            try:
                async for raw in ws:
                    self._receive(raw)
            except ConnectionClosed as e:
                if e.sent is None or e.sent.reason != NO_PONG:
                    raise
                pinged = True  # we closed it for want of a pong (a frozen host never answers)
            else:
                pinged = pings.done() and not pings.cancelled() and pings.result()
            finally:
                await group.close(timeout=1.0)
            if pinged:
                raise LinkClosed(f"no answer to a ping within {self.ping_timeout:g} s")

    async def _ping(self, ws: ClientConnection) -> bool:
        """Ping at once, then every ``ping_interval``. True (the socket closed) when a pong did
        not come within ``ping_timeout``; False when the connection closed meanwhile."""
        loop = asyncio.get_running_loop()
        while True:
            sent = loop.time()
            try:
                pong = await ws.ping()
                async with asyncio.timeout(self.ping_timeout):
                    await pong
            except TimeoutError:
                await ws.close(1001, NO_PONG)
                return True
            except ConnectionClosed:
                return False
            self._measured((loop.time() - sent) * 1000)
            await asyncio.sleep(self.ping_interval)

    def _measured(self, ms: float) -> None:
        """Report a latency that moved by a quarter (and at least 1 ms) from the last one."""
        last = self.latency_ms
        if last is None or abs(ms - last) >= max(1.0, 0.25 * last):
            self.latency_ms = round(ms, 1)
            self._on_state()

    def _receive(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        if msg.get("type") == "config":
            self.limits = HostLimits.from_config(msg.get("config"))
            catalogue = _catalogue(msg.get("config"))
            if catalogue != self.catalogue:
                self.catalogue = catalogue
                self._on_state()
            return
        if msg.get("type") != "sessions":
            return  # hosts, progress: the host's own business
        self.workspaces = hostids.workspaces(self.name, msg.get("workspaces"), ssh=self.ssh)
        prefix = len(self.name) + len(hostids.SEP)
        self._workspace_ids = frozenset(w["id"][prefix:] for w in self.workspaces)
        self._session_ids = frozenset(
            s["id"][prefix:] for w in self.workspaces for s in w["sessions"]
        )
        self._encoded = None  # encoded at the next push, once for every client and push
        self.updates += 1
        self._updated.set()
        if self.state is not LinkState.CONNECTED:
            self.failures = 0
            self._connected_at = self._now()
            self._set(LinkState.CONNECTED, "")
        self._on_sessions()

    def _lost(self, error: str) -> None:
        if self._connected_at is not None:
            self.backoff.was_up(self._now() - self._connected_at)
            self._connected_at = None
        self.latency_ms = None
        self._cut_callers(f"host {self.name} stopped answering ({error})")
        self.failures += 1
        state = LinkState.OFFLINE if self.failures >= self.offline_after else LinkState.RECONNECTING
        if state is LinkState.RECONNECTING and self.state is LinkState.OFFLINE:
            state = LinkState.OFFLINE  # offline until it is back, not flapping in between
        log.info("host %s: %s (%s)", self.name, error, state.value)
        self._set(state, error)

    def _set(self, state: LinkState, error: str) -> None:
        if state is self.state and error == self.error:
            return
        if state is not self.state:
            self.since = self._now()
        self.state = state
        self.error = error
        self._on_state()


def _catalogue(config: Any) -> dict[str, Any]:
    """The host's repos (``name``, ``url``) and run targets (``name``, ``type``): what a spawn
    on it can name. Nothing else of its config is kept."""
    config = config if isinstance(config, dict) else {}

    def items(key: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
        value = config.get(key)
        return [
            {f: item[f] for f in fields if isinstance(item.get(f), str)}
            for item in (value if isinstance(value, list) else [])
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        ]

    return {
        "repos": items("repos", ("name", "url")),
        "run_targets": items("run_targets", ("name", "type")),
    }
