"""The refresh loops' timing on a virtual clock: when passes run, for what, and what wakes them.

The clock only moves when a test advances it, so these hold on a loaded machine. The git reader,
the session manager and the attention monitor are recorders: what is tested is when the loops
call them and with which ids (the passes themselves are tested against real git and tmux in
``test_gitstatus``, ``test_tmux`` and the e2e tests)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backend import config as config_mod
from backend.events import EventBus
from backend.gitstatus import GitStatus, GitStatusError
from backend.launcher import EVENT_FILE
from backend.models import Workspace
from backend.refresher import (
    FULL_PASS_EVERY,
    GIT_COALESCE_SECONDS,
    SESSION_POLL_SECONDS,
    STATUS_RETRIES,
    STATUS_RETRY_SECONDS,
    Refresher,
)
from backend.registry import Registry
from backend.store import StateStore

pytestmark = pytest.mark.asyncio

POLL = 10.0  # sessions.git_status_poll_interval_ms, the default


class VirtualClock:
    """Time stands still until ``advance``; then every timer due fires in order, each at its
    own time, and the loops run until they wait again."""

    def __init__(self) -> None:
        self.t = 0.0
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (self.t + max(0.0, delay), next(self._order), callback))

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.call_later(seconds, lambda: fut.done() or fut.set_result(None))
        await fut

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        if event.is_set():
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_task(event.wait())
        timer = loop.create_task(self.sleep(timeout))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        end = self.t + seconds
        await self.settle()
        while self._timers and self._timers[0][0] <= end:
            due, _, callback = heapq.heappop(self._timers)
            self.t = max(self.t, due)
            callback()
            await self.settle()
        self.t = end
        await self.settle()


@dataclass
class Watcher:
    active: bool = False


@dataclass
class Sessions:
    """Records the session loop's calls, at the virtual time they came."""

    clock: VirtualClock
    running_calls: list[float] = field(default_factory=list)
    output_calls: list[tuple[float, set[str] | None]] = field(default_factory=list)
    pending: int = 0  # refresh_running reports a dead pane without status this many times

    async def refresh_running(self) -> bool:
        self.running_calls.append(self.clock.now())
        if self.pending:
            self.pending -= 1
            return True
        return False

    def refresh_output(self, ids: set[str] | None = None, *, output_every: float = 5.0) -> set[str]:
        self.output_calls.append((self.clock.now(), None if ids is None else set(ids)))
        return set()


class Attention:
    async def check(self) -> float | None:
        return None


@dataclass
class World:
    clock: VirtualClock
    refresher: Refresher
    watcher: Watcher
    sessions: Sessions
    git_calls: list[tuple[float, set[str]]]
    unwatched: set[str]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Callable[..., World]]:
    tasks: list[asyncio.Task[None]] = []

    def build(*, watching: bool = False, hooks: bool = False) -> World:
        clock = VirtualClock()
        registry = Registry(StateStore(tmp_path / "state.json"), EventBus())
        with registry.change("test") as st:
            for wid, repo in (("w1", "a"), ("w2", "a"), ("w3", "b")):
                path = str(tmp_path / wid)
                st.workspaces[wid] = Workspace(wid, "/r", repo, "main", path)
        git_calls: list[tuple[float, set[str]]] = []
        paths = {str(tmp_path / w): w for w in ("w1", "w2", "w3")}

        async def read_status(
            ps: list[Path], _concurrency: int, _timeout: float
        ) -> dict[Path, GitStatus | GitStatusError]:
            git_calls.append((clock.now(), {paths[str(p)] for p in ps}))
            return {}

        watcher = Watcher(active=watching)
        sessions = Sessions(clock)
        unwatched: set[str] = set()
        cfg = config_mod.parse({}, tmp_path)
        refresher = Refresher(
            registry,
            sessions=sessions,
            attention=Attention(),
            config=lambda: cfg,
            watcher=watcher,
            unwatched=lambda: unwatched,
            on_log_change=lambda _ids: None,
            output_every=lambda: 5.0,
            clock=clock,
            read_status=read_status,
        )
        refresher.tmux_hooks = hooks
        loop = asyncio.get_running_loop()
        tasks.append(loop.create_task(refresher.git_loop()))
        tasks.append(loop.create_task(refresher.session_loop()))
        return World(clock, refresher, watcher, sessions, git_calls, unwatched)

    yield build
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


ALL = {"w1", "w2", "w3"}


async def test_without_file_watching_every_workspace_is_read_every_poll_interval(
    make: Callable[..., World],
) -> None:
    w = make(watching=False)
    await w.clock.advance(3 * POLL + 1)
    assert w.git_calls == [(0.0, ALL), (POLL, ALL), (2 * POLL, ALL), (3 * POLL, ALL)]


async def test_with_file_watching_a_change_is_read_after_the_burst_settles(
    make: Callable[..., World],
) -> None:
    w = make(watching=True)
    await w.clock.advance(1.0)
    assert w.git_calls == [(0.0, ALL)]  # the first timed pass is a full one
    w.refresher.on_fs_change("ws:w2", {"file.txt"})
    w.refresher.on_fs_change("ws:w2", {"other.txt"})  # the same burst: one pass
    await w.clock.advance(1.0)
    assert w.git_calls[1:] == [(1.0 + GIT_COALESCE_SECONDS, {"w2"})]


async def test_a_change_in_a_shared_repo_reads_every_worktree_of_it(
    make: Callable[..., World],
) -> None:
    w = make(watching=True)
    await w.clock.advance(1.0)
    w.refresher.on_fs_change("repo:a", {"HEAD"})
    await w.clock.advance(1.0)
    assert w.git_calls[1:] == [(1.0 + GIT_COALESCE_SECONDS, {"w1", "w2"})]


async def test_timed_passes_with_file_watching_read_the_unwatched_and_all_every_30th(
    make: Callable[..., World],
) -> None:
    w = make(watching=True)
    w.unwatched.add("w3")
    await w.clock.advance(FULL_PASS_EVERY * POLL + 1)
    timed = [ids for _t, ids in w.git_calls]
    assert timed[0] == ALL
    assert timed[1:FULL_PASS_EVERY] == [{"w3"}] * (FULL_PASS_EVERY - 1)
    assert timed[FULL_PASS_EVERY] == ALL
    assert [t for t, _ in w.git_calls] == [i * POLL for i in range(FULL_PASS_EVERY + 1)]


async def test_poke_git_reads_one_workspace_or_all_soon(make: Callable[..., World]) -> None:
    w = make(watching=True)
    await w.clock.advance(1.0)
    w.refresher.poke_git("w3")
    await w.clock.advance(1.0)
    w.refresher.poke_git()
    await w.clock.advance(1.0)
    assert [ids for _t, ids in w.git_calls[1:]] == [{"w3"}, ALL]


async def test_sessions_are_polled_every_second_without_tmux_hooks(
    make: Callable[..., World],
) -> None:
    w = make(watching=True, hooks=False)
    await w.clock.advance(3.5)
    assert w.sessions.running_calls == [1.0, 2.0, 3.0]
    assert [ids for _t, ids in w.sessions.output_calls] == [None, None, None]


async def test_with_hooks_and_watching_sessions_wait_for_an_event_between_timed_passes(
    make: Callable[..., World],
) -> None:
    w = make(watching=True, hooks=True)
    await w.clock.advance(POLL / 2)
    assert w.sessions.running_calls == []  # nothing happened: no pass
    w.refresher.on_fs_change("run", {EVENT_FILE})  # a pane died
    await w.clock.advance(0.0)
    assert w.sessions.running_calls == [POLL / 2]
    w.refresher.on_fs_change("logs", {"s1.log", "s2.log", "other"})  # output: no tmux pass
    await w.clock.advance(0.0)
    assert w.sessions.running_calls == [POLL / 2]
    assert w.sessions.output_calls[-1] == (POLL / 2, {"s1", "s2"})
    await w.clock.advance(POLL / 2)
    assert w.sessions.running_calls == [POLL / 2, POLL]  # the timed pass


async def test_a_dead_pane_without_status_is_looked_at_again_a_bounded_number_of_times(
    make: Callable[..., World],
) -> None:
    w = make(watching=True, hooks=True)
    w.sessions.pending = 1 + STATUS_RETRIES  # tmux does not record the status for a while
    w.refresher.poke_tmux()
    await w.clock.advance(5.0)
    calls = list(w.sessions.running_calls)
    assert len(calls) == 1 + STATUS_RETRIES  # the first look, then its retries: no more
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(calls)}
    assert gaps == {STATUS_RETRY_SECONDS}
    await w.clock.advance(POLL)
    assert w.sessions.running_calls == [*calls, POLL]  # the timed pass since, nothing else


async def test_without_file_watching_sessions_are_polled_every_second_even_with_hooks(
    make: Callable[..., World],
) -> None:
    w = make(watching=False, hooks=True)
    await w.clock.advance(2.5)
    assert w.sessions.running_calls == [SESSION_POLL_SECONDS, 2 * SESSION_POLL_SECONDS]
