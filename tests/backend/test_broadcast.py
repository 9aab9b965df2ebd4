"""The broadcaster in isolation: registration, lossless debounce, per-client slots."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from backend.broadcast import Broadcaster, Client
from backend.events import ConfigChanged, SessionsChanged

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
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    world.version = 1
    b.on_event(SessionsChanged("spawn"))
    await settle()  # no timer involved: it is out before any time passes
    assert d.versions() == [0, 1]
    assert loop.time() - d.got[-1][0] < WINDOW / 2
    await d.stop()


async def test_burst_gives_one_trailing_push_with_last_state() -> None:
    world = World()
    b = make(world)
    d = Drain(b.register())
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for v in range(1, 11):  # 10 changes, 10 ms apart, all inside one window
        world.version = v
        b.on_event(SessionsChanged("burst"))
        await asyncio.sleep(0.01)
    await asyncio.sleep(WINDOW + 0.1)
    assert d.versions() == [0, 1, 10]  # leading edge, then exactly one trailing push
    trailing_at = d.got[-1][0]
    assert WINDOW - 0.01 <= trailing_at - t0 <= WINDOW + 0.15
    await d.stop()


async def test_quiet_means_no_push_and_identical_state_is_not_resent() -> None:
    world = World()
    b = make(world)
    d = Drain(b.register())
    await asyncio.sleep(WINDOW * 2)
    assert d.versions() == [0]
    b.on_event(SessionsChanged("nothing really changed"))
    await asyncio.sleep(WINDOW * 2)
    assert d.versions() == [0]
    assert b.pushes == 0
    await d.stop()


async def test_snapshot_serialised_once_per_push_not_per_client() -> None:
    world = World()
    b = make(world)
    drains = [Drain(b.register()) for _ in range(50)]
    await asyncio.sleep(0.05)
    before = world.snapshots
    world.version = 1
    b.on_event(SessionsChanged("x"))
    await asyncio.sleep(0.05)
    assert world.snapshots - before == 1
    assert all(d.versions()[-1] == 1 for d in drains)
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
        b.on_event(SessionsChanged("x"))
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
    await asyncio.sleep(0.02)
    world.config = {"k": 2}
    b.on_event(ConfigChanged())
    await asyncio.sleep(0.02)
    configs = [m for _, m in d.got if m["type"] == "config"]
    assert configs[-1]["config"] == {"k": 2}
    seqs = [m["seq"] for _, m in d.got]
    assert seqs == sorted(seqs)
    await d.stop()


async def test_output_only_changes_are_throttled() -> None:
    world = World()
    b = make(world, window=0.0)
    d = Drain(b.register())
    await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for v in range(1, 13):  # output changes every 0.1 s for 1.2 s
        world.version = v
        b.on_event(SessionsChanged("output", throttled=True))
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.6)
    times = [t - t0 for t, m in d.got if m["type"] == "sessions"][1:]
    assert 2 <= len(times) <= 4  # at most one push per 0.5 s
    assert all(b2 - a2 >= 0.45 for a2, b2 in itertools.pairwise(times))
    assert d.versions()[-1] == 12  # and the last one is never lost
    await d.stop()


async def test_close_all_ends_senders() -> None:
    world = World()
    b = make(world)
    d = Drain(b.register())
    await asyncio.sleep(0.02)

    async def handler_exit() -> None:
        await d.task
        b.unregister(d.client)

    t = asyncio.get_running_loop().create_task(handler_exit())
    await b.close_all(1000, timeout=1)
    await t
    assert not b.clients and d.client.close_code == 1000
