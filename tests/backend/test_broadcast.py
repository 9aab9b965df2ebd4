"""The broadcaster in isolation: registration, lossless debounce, per-client slots."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest

from backend.broadcast import ACTION_BURST, ACTION_RATE, Broadcaster, Client
from backend.events import Change, ConfigChanged, SessionsChanged, WorkspaceProgress
from tests.helpers import until

pytestmark = pytest.mark.asyncio

WINDOW = 0.2


class World:
    def __init__(self) -> None:
        self.version = 0
        self.config = {"k": 1}
        self.snapshots = 0

    def snapshot(self) -> list[dict[str, Any]]:
        self.snapshots += 1
        return [{"id": "w", "version": self.version}]


def make(world: World, window: float = WINDOW) -> Broadcaster:
    return Broadcaster(
        world.snapshot, lambda: dict(world.config), debounce=lambda: window, output_every=0.5
    )


class Drain:
    """A healthy client: a sender task taking every batch as it comes, with arrival times."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self.client.next_batch()
            if not batch:
                return
            self.got.extend((loop.time(), json.loads(t)) for t in batch)

    def versions(self) -> list[int]:
        return [m["workspaces"][0]["version"] for _, m in self.got if m["type"] == "sessions"]

    async def stop(self) -> None:
        self.client.close()
        await self.task


async def test_register_sends_snapshot_then_config_and_unregister() -> None:
    world = World()
    b = make(world)
    c = b.register()
    assert c in b.clients
    batch = await c.next_batch()
    kinds = [json.loads(t)["type"] for t in batch]
    assert kinds == ["sessions", "config"]
    b.unregister(c)
    assert c not in b.clients
    world.version = 1
    b.on_event(SessionsChanged("x"))
    assert c.pending == 0


async def test_single_change_goes_out_at_once() -> None:
    world = World()
    b = make(world)
    d = Drain(b.register())
    await until(lambda: d.versions() == [0])
    world.version = 1
    b.on_event(SessionsChanged("spawn"))
    await settle()  # no timer involved: it is out before any time passes
    assert d.versions() == [0, 1]
    await d.stop()


async def test_snapshot_serialised_once_per_push_not_per_client() -> None:
    world = World()
    b = make(world)
    drains = [Drain(b.register()) for _ in range(50)]
    await until(lambda: all(d.versions() == [0] for d in drains))
    before = world.snapshots
    world.version = 1
    b.on_event(SessionsChanged("x"))
    await until(lambda: all(d.versions()[-1] == 1 for d in drains))
    assert world.snapshots - before == 1
    for d in drains:
        await d.stop()


async def settle() -> None:
    """Let every ready task run (a handful of loop iterations, no wall-clock time)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_stalled_client_neither_delays_others_nor_grows() -> None:
    world = World()
    b = make(world, window=0.0)
    stalled = b.register()  # nobody ever drains it
    healthy = Drain(b.register())
    for v in range(1, 501):
        world.version = v
        b.on_event(SessionsChanged("x", Change.BACKGROUND))  # window 0: each at once
        if v % 50 == 0:
            b.on_event(ConfigChanged())
        await settle()
        # the healthy client has every state as soon as its sender gets to run
        assert healthy.versions()[-1] == v
        assert stalled.pending <= 2  # one sessions slot and one config slot, whatever happens
    assert healthy.versions() == list(range(1, 501))  # the first snapshot was superseded at once
    batch = await stalled.next_batch()
    newest = [json.loads(t) for t in batch]
    assert any(m["type"] == "sessions" and m["workspaces"][0]["version"] == 500 for m in newest)
    await healthy.stop()


async def test_config_change_pushes_config_message() -> None:
    world = World()
    b = make(world)
    d = Drain(b.register())
    await until(lambda: any(m["type"] == "config" for _, m in d.got))
    world.config = {"k": 2}
    b.on_event(ConfigChanged())
    await until(lambda: [m for _, m in d.got if m["type"] == "config"][-1]["config"] == {"k": 2})
    seqs = [m["seq"] for _, m in d.got]
    assert seqs == sorted(seqs)
    await d.stop()


async def test_close_all_ends_senders() -> None:
    world = World()
    b = make(world)
    d = Drain(b.register())
    await until(lambda: d.versions() == [0])

    async def handler_exit() -> None:
        await d.task
        b.unregister(d.client)

    t = asyncio.get_running_loop().create_task(handler_exit())
    await b.close_all(1000, timeout=1)
    await t
    assert not b.clients and d.client.close_code == 1000


# -- on a virtual clock ------------------------------------------------------------------


class VirtualClock:
    """Time that moves only when the test says so; timers run in order as it passes them."""

    def __init__(self) -> None:
        self.now = 64.0  # exact in binary, like the steps the tests take
        self._timers: list[tuple[float, int, Callable[[], None], list[bool]]] = []
        self._n = 0

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> VirtualTimer:
        cancelled = [False]
        self._n += 1
        self._timers.append((when, self._n, callback, cancelled))
        return VirtualTimer(cancelled)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = sorted(t for t in self._timers if t[0] <= end)
            if not due:
                break
            when, _n, callback, cancelled = due[0]
            self._timers.remove(due[0])
            self.now = max(self.now, when)
            if not cancelled[0]:
                callback()
        self.now = end


class VirtualTimer:
    def __init__(self, cancelled: list[bool]) -> None:
        self._cancelled = cancelled

    def cancel(self) -> None:
        self._cancelled[0] = True


class Taker:
    """A client whose sender takes what is pending whenever the test lets it (no loop time)."""

    def __init__(self, b: Broadcaster) -> None:
        self.client = b.register()
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.clock: VirtualClock | None = None

    def take(self, at: float = 0.0) -> list[dict[str, Any]]:
        new = [json.loads(t) for t in self.client.take()]
        self.got.extend((at, m) for m in new)
        return new

    def versions(self) -> list[int]:
        return [m["workspaces"][0]["version"] for _, m in self.got if m["type"] == "sessions"]


def virtual(
    world: World, window: float = 0.5, output_every: float = 5.0
) -> tuple[Broadcaster, VirtualClock]:
    clock = VirtualClock()
    b = Broadcaster(
        world.snapshot,
        lambda: dict(world.config),
        debounce=lambda: window,
        output_every=output_every,
        clock=clock,
    )
    return b, clock


def progress(request_id: str | None = "r1", stage: str = "fetching") -> WorkspaceProgress:
    return WorkspaceProgress(request_id, "proj", "b", "proj-001", stage, 0.0, "Preparing")


async def test_greeting_is_sessions_then_config_whatever_comes_before_the_first_send() -> None:
    # The interleaving that broke it: a change lands between registration and the client's
    # first send (the sender task has not run yet).
    world = World()
    b, _clock = virtual(world)
    other = Taker(b)
    other.take()
    t = Taker(b)
    world.version = 1
    b.on_event(SessionsChanged("git status", Change.BACKGROUND))  # re-offers sessions to everyone
    b.on_event(progress())
    world.config = {"k": 2}
    b.on_event(ConfigChanged())
    world.version = 2
    b.on_event(SessionsChanged("spawn", Change.ACTION))
    got = t.take()
    assert [m["type"] for m in got] == ["sessions", "config", "workspace_progress"]
    assert got[0]["workspaces"][0]["version"] == 2  # the newest state, not the one at register
    assert got[1]["config"] == {"k": 2}
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_every_message_carries_an_increasing_seq_whatever_its_type() -> None:
    world = World()
    b, clock = virtual(world, window=0.0)
    clients = [Taker(b) for _ in range(3)]
    for i in range(1, 6):
        b.on_event(progress(f"r{i}"))
        world.version = i
        b.on_event(SessionsChanged("spawn", Change.ACTION))
        world.config = {"k": i}
        b.on_event(ConfigChanged())
        for c in clients[: i % 3 + 1]:  # some clients take more often than others
            c.take()
        clock.advance(0.1)
    for c in clients:
        c.take()
        kinds = {m["type"] for _, m in c.got}
        assert kinds == {"sessions", "config", "workspace_progress"}
        seqs = [m["seq"] for _, m in c.got]
        assert all(isinstance(s, int) for s in seqs)
        assert all(a < b2 for a, b2 in itertools.pairwise(seqs)), seqs


async def test_action_is_pushed_at_once_inside_a_window_a_background_change_opened() -> None:
    world = World()
    b, clock = virtual(world, window=0.5)
    t = Taker(b)
    t.take()
    world.version = 1
    b.on_event(
        SessionsChanged("git status", Change.BACKGROUND)
    )  # quiet before: at once, opens a window
    assert t.take()[0]["workspaces"][0]["version"] == 1
    clock.advance(0.1)
    world.version = 2
    b.on_event(
        SessionsChanged("git status", Change.BACKGROUND)
    )  # inside the window: held for its end
    assert t.take() == []
    clock.advance(0.1)
    world.version = 3
    b.on_event(SessionsChanged("nickname", Change.ACTION))  # a person's action: at once
    assert [m["workspaces"][0]["version"] for m in t.take()] == [3]
    clock.advance(0.1)
    world.version = 4
    b.on_event(
        SessionsChanged("running", Change.BACKGROUND)
    )  # background again: waits for the window's end
    assert t.take() == []
    clock.advance(0.19)
    assert t.take() == []
    clock.advance(0.02)  # 0.5 s after the first push: the trailing push, latest state
    assert [m["workspaces"][0]["version"] for m in t.take()] == [4]
    clock.advance(2.0)
    assert t.take() == []  # nothing more: one trailing push carried it all


async def test_spawn_on_a_new_branch_pushes_workspace_and_session_each_at_once() -> None:
    # The workspace's own push must not hold back the session's (it did: by a whole window).
    world = World()
    b, clock = virtual(world, window=0.5)
    t = Taker(b)
    t.take()
    world.version = 1
    b.on_event(SessionsChanged("workspace created", Change.ACTION))
    clock.advance(0.03)
    world.version = 2
    b.on_event(SessionsChanged("spawn", Change.ACTION))
    assert [m["workspaces"][0]["version"] for m in t.take()] == [1, 2][-1:]  # coalesced slot
    assert b.pushes == 2


async def test_a_burst_of_actions_is_pushed_each_at_once_and_nothing_later() -> None:
    world = World()
    b, clock = virtual(world, window=0.5)
    t = Taker(b)
    t.take()
    for v in range(1, 11):
        world.version = v
        b.on_event(SessionsChanged("nudge", Change.ACTION))
        assert [m["workspaces"][0]["version"] for m in t.take()] == [v]
        clock.advance(0.05)
    clock.advance(1.0)
    assert t.take() == []


async def test_background_debounce_without_loss_on_a_virtual_clock() -> None:
    world = World()
    b, clock = virtual(world, window=0.5)
    t = Taker(b)
    t.take()
    start = clock.now
    pushes: list[tuple[float, int]] = []
    for v in range(1, 17):  # a change every 62.5 ms (exact in binary) for 1 s
        world.version = v
        b.on_event(SessionsChanged("git status", Change.BACKGROUND))
        pushes += [(clock.now - start, m["workspaces"][0]["version"]) for m in t.take()]
        clock.advance(0.0625)
        pushes += [(clock.now - start, m["workspaces"][0]["version"]) for m in t.take()]
    clock.advance(1.0)
    pushes += [(clock.now - start, m["workspaces"][0]["version"]) for m in t.take()]
    # leading edge at once, then one push per window end carrying the latest state
    assert pushes[0] == (0.0, 1)
    assert pushes[1:] == [(0.5, 8), (1.0, 16)]  # the last change is never lost
    # once quiet for a window, a change goes out at once again
    clock.advance(1.0)
    world.version = 17
    b.on_event(SessionsChanged("git status", Change.BACKGROUND))
    assert [m["workspaces"][0]["version"] for m in t.take()] == [17]


async def test_output_changes_are_throttled_on_a_virtual_clock() -> None:
    world = World()
    b, clock = virtual(world, window=0.0)
    t = Taker(b)
    t.take()
    times: list[float] = []
    for v in range(1, 61):  # output every 0.1 s for 6 s
        world.version = v
        b.on_event(SessionsChanged("output", Change.OUTPUT))
        clock.advance(0.1)
        times += [clock.now for _ in t.take()]
    clock.advance(5.0)
    times += [clock.now for _ in t.take()]
    assert all(b2 - a2 >= 5.0 - 1e-9 for a2, b2 in itertools.pairwise(times))
    assert t.versions()[-1] == 60


# -- encoding that cannot fail -------------------------------------------------------------


class Hostile(World):
    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "id": "w",
                "version": self.version,
                "nickname": "\ud800 bad \udfff",
                "x": float("nan"),
            },
            {"id": "v", "odd": object(), "deep": _nested(200), "inf": float("inf")},
        ]


def _nested(depth: int) -> Any:
    v: Any = "leaf"
    for _ in range(depth):
        v = [v]
    return v


async def test_hostile_data_never_breaks_a_push_to_anyone() -> None:
    world = Hostile()
    world.config = {"repos": [{"name": "\ud83d", "url": "x\udc00"}], "n": float("nan")}
    b, _clock = virtual(world, window=0.0)
    takers = [Taker(b) for _ in range(4)]
    world.version = 1
    b.on_event(SessionsChanged("spawn", Change.ACTION))
    b.on_event(progress("\ud800"))
    b.on_event(ConfigChanged())
    for t in takers:
        frames = t.client.take()
        for text in frames:
            text.encode("utf-8")  # what the socket does: must not raise
            json.loads(text, parse_constant=_no_constants)  # strict JSON: no NaN
        kinds = [json.loads(f)["type"] for f in frames]
        assert kinds[:2] == ["sessions", "config"] and "workspace_progress" in kinds
        msgs = [json.loads(f) for f in frames]
        prog = next(m for m in msgs if m["type"] == "workspace_progress")
        assert prog["request_id"] == "\ud800"  # carried as the escape JSON has for it
        assert msgs[0]["workspaces"][0]["nickname"] == "\ud800 bad \udfff"


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON")


async def test_a_flood_of_actions_is_held_to_a_rate_without_loss() -> None:
    # A script (or many agents' hooks) acting every 10 ms: the first ACTION_BURST go out at
    # once, then at most ACTION_RATE pushes a second, each with the latest state.
    world = World()
    b, clock = virtual(world, window=0.5)
    t = Taker(b)
    t.take()
    pushed: list[tuple[float, int]] = []
    start = clock.now
    for v in range(1, 201):  # 2 s of actions
        world.version = v
        b.on_event(SessionsChanged("nudge", Change.ACTION))
        pushed += [(clock.now - start, m["workspaces"][0]["version"]) for m in t.take()]
        clock.advance(0.01)
        pushed += [(clock.now - start, m["workspaces"][0]["version"]) for m in t.take()]
    clock.advance(1.0)
    pushed += [(clock.now - start, m["workspaces"][0]["version"]) for m in t.take()]
    assert [v for _, v in pushed[:ACTION_BURST]] == list(range(1, ACTION_BURST + 1))
    assert len(pushed) <= ACTION_BURST + 2 * ACTION_RATE + 2
    assert pushed[-1][1] == 200  # the last state is never lost
    assert pushed[-1][0] <= 2.0 + 1 / ACTION_RATE + 0.011
    # and once the flood is over, a person's next action goes out at once again
    world.version = 201
    b.on_event(SessionsChanged("rename", Change.ACTION))
    assert [m["workspaces"][0]["version"] for m in t.take()] == [201]


async def test_a_push_is_framed_once_for_every_client() -> None:
    world = World()
    b, _clock = virtual(world)
    clients = [b.register() for _ in range(5)]
    for c in clients:
        c.take()  # the greetings, stamped per connection
    world.version = 1
    b.on_event(SessionsChanged("rename", Change.ACTION))
    texts = [c.take() for c in clients]
    assert all(len(t) == 1 and t[0] is texts[0][0] for t in texts)  # one text, shared


async def test_with_a_window_of_0_even_a_flood_of_actions_goes_out_at_once() -> None:
    world = World()
    b, clock = virtual(world, window=0.0)
    t = Taker(b)
    t.take()
    for v in range(1, 51):
        world.version = v
        b.on_event(SessionsChanged("nudge", Change.ACTION))
        assert [m["workspaces"][0]["version"] for m in t.take()] == [v]
        clock.advance(0.01)


async def test_a_client_closed_before_its_first_send_still_gets_a_whole_greeting() -> None:
    world = World()
    b, _clock = virtual(world)
    c = b.register()
    c.close(1000)
    batch = await c.next_batch()
    assert [json.loads(t)["type"] for t in batch] == ["sessions", "config"]
    assert await c.next_batch() == []


async def test_burst_gives_one_trailing_push_with_last_state() -> None:
    world = World()
    b, clock = virtual(world, window=0.25)
    t = Taker(b)
    t.take()
    start = clock.now
    for v in range(1, 11):  # 10 changes, 1/64 s apart, all inside one window
        world.version = v
        b.on_event(SessionsChanged("burst", Change.BACKGROUND))
        t.take(clock.now - start)
        clock.advance(0.015625)
    assert t.versions() == [0, 1]  # the leading edge at once, the rest held
    clock.advance(0.25 - 0.15625 - 0.0078125)
    assert t.take() == []  # not before the window's end...
    clock.advance(0.0078125)
    t.take(clock.now - start)
    assert t.versions() == [0, 1, 10]  # ...then exactly one trailing push, the last state
    assert t.got[-1][0] == 0.25
    clock.advance(1.0)
    assert t.take() == []


async def test_quiet_means_no_push_and_identical_state_is_not_resent() -> None:
    world = World()
    b, clock = virtual(world, window=0.25)
    t = Taker(b)
    t.take()
    clock.advance(1.0)
    assert t.take() == []
    b.on_event(SessionsChanged("nothing really changed"))
    clock.advance(1.0)
    assert t.take() == []
    assert t.versions() == [0]
    assert b.pushes == 0


async def test_output_only_changes_are_throttled() -> None:
    world = World()
    b, clock = virtual(world, window=0.0, output_every=0.5)
    t = Taker(b)
    t.take()
    start = clock.now
    times: list[float] = []
    for v in range(1, 13):  # output changes every 0.125 s for 1.5 s
        world.version = v
        b.on_event(SessionsChanged("output", Change.OUTPUT))
        clock.advance(0)  # what is due now (the first output push) runs now
        times += [clock.now - start for m in t.take() if m["type"] == "sessions"]
        clock.advance(0.125)
        times += [clock.now - start for m in t.take() if m["type"] == "sessions"]
    clock.advance(1.0)
    times += [clock.now - start for m in t.take() if m["type"] == "sessions"]
    assert times == [0.0, 0.5, 1.0, 1.5]  # at most one push per 0.5 s
    assert t.versions()[-1] == 12  # and the last one is never lost


async def test_hosts_come_after_the_greeting_and_only_the_newest_is_kept() -> None:
    world = World()
    states = [{"name": "gpu-box", "state": "reconnecting", "since": "t0", "error": ""}]
    b = Broadcaster(
        world.snapshot,
        lambda: dict(world.config),
        debounce=lambda: WINDOW,
        hosts=lambda: [dict(h) for h in states],
    )
    c = b.register()
    states[0]["state"] = "connected"
    b.push_hosts()  # before the first send: still after sessions and config, newest state
    batch = [json.loads(t) for t in await c.next_batch()]
    assert [m["type"] for m in batch] == ["sessions", "config", "hosts"]
    assert batch[2]["hosts"][0]["state"] == "connected"
    assert [m["seq"] for m in batch] == sorted(m["seq"] for m in batch)
    for state in ("reconnecting", "offline"):
        states[0]["state"] = state
        b.push_hosts()
    (only,) = [json.loads(t) for t in await c.next_batch()]
    assert only["type"] == "hosts" and only["hosts"][0]["state"] == "offline"
    assert only["seq"] > batch[2]["seq"]


async def test_host_pushes_go_out_at_once_and_close_ones_are_coalesced_without_loss() -> None:
    world = World()
    b, clock = virtual(world, window=0.5)
    t = Taker(b)
    t.take()  # the greeting
    world.version = 1
    b.on_event(SessionsChanged("git", Change.BACKGROUND))  # opens a debounce window
    assert [m["workspaces"][0]["version"] for m in t.take()] == [1]
    clock.advance(0.1)
    world.version = 2
    b.request_remote()  # inside the window: a host's push is not held by it
    assert [m["workspaces"][0]["version"] for m in t.take()] == [2]
    # floods of actions do not hold it either
    for v in range(3, 3 + 20):
        world.version = v
        b.on_event(SessionsChanged("nudge", Change.ACTION))
    t.take()
    clock.advance(0.1)
    world.version = 30
    b.request_remote()
    assert [m["workspaces"][0]["version"] for m in t.take()] == [30]
    # two hosts 10 ms apart: the second within REMOTE_GAP goes out at its end, with the latest
    clock.advance(0.01)
    world.version = 31
    b.request_remote()
    world.version = 32
    b.request_remote()
    assert t.take() == []
    clock.advance(0.015)
    assert [m["workspaces"][0]["version"] for m in t.take()] == [32]
