"""The readers–writer gate that keeps a tmux control client's attach apart from one-shot clients."""

from __future__ import annotations

import asyncio

import pytest

from backend.rwgate import Gate
from backend.tasks import TaskGroup


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_shared_sections_run_together() -> None:
    gate = Gate()
    inside = 0
    most = 0

    async def reader() -> None:
        nonlocal inside, most
        async with gate.shared():
            inside += 1
            most = max(most, inside)
            await settle()
            inside -= 1

    await asyncio.gather(*(reader() for _ in range(5)))
    assert most == 5 and gate.shared_count == 0


async def test_exclusive_waits_for_shared_and_runs_alone() -> None:
    gate = Gate()
    order: list[str] = []
    release = asyncio.Event()
    tasks = TaskGroup()

    async def reader(name: str) -> None:
        async with gate.shared():
            order.append(f"{name} in")
            await release.wait()
            order.append(f"{name} out")

    async def writer() -> None:
        async with gate.exclusive():
            assert gate.shared_count == 0
            order.append("writer")
            await settle()
            order.append("writer done")

    r1 = tasks.spawn(reader("r1"), name="r1")
    await settle()
    w = tasks.spawn(writer(), name="w")
    await settle()
    assert order == ["r1 in"] and not gate.exclusive_held  # the writer waits for r1
    r2 = tasks.spawn(reader("r2"), name="r2")  # arrives while the writer waits: after it
    await settle()
    assert order == ["r1 in"]
    release.set()
    await asyncio.gather(r1, w, r2)
    assert order == ["r1 in", "r1 out", "writer", "writer done", "r2 in", "r2 out"]


async def test_one_exclusive_at_a_time() -> None:
    gate = Gate()
    inside = 0
    most = 0

    async def writer() -> None:
        nonlocal inside, most
        async with gate.exclusive():
            inside += 1
            most = max(most, inside)
            await settle()
            inside -= 1

    await asyncio.gather(*(writer() for _ in range(4)))
    assert most == 1 and not gate.exclusive_held


async def test_a_cancelled_exclusive_waiter_lets_shared_sections_in() -> None:
    gate = Gate()
    release = asyncio.Event()
    tasks = TaskGroup()

    async def hold() -> None:
        async with gate.shared():
            await release.wait()

    async def writer() -> None:
        async with gate.exclusive():
            pytest.fail("never entered")

    holder = tasks.spawn(hold(), name="holder")
    await settle()
    w = tasks.spawn(writer(), name="w")
    await settle()
    late = tasks.spawn(hold(), name="late")
    await settle()
    assert gate.shared_count == 1  # the late reader waits behind the writer
    w.cancel()
    await settle()
    assert gate.shared_count == 2  # the writer gave up: the reader goes in
    release.set()
    await asyncio.gather(holder, late)
    assert gate.shared_count == 0


async def test_an_error_inside_a_section_releases_it() -> None:
    gate = Gate()
    with pytest.raises(ValueError):
        async with gate.exclusive():
            raise ValueError
    with pytest.raises(ValueError):
        async with gate.shared():
            raise ValueError
    async with gate.exclusive():
        pass
    assert gate.shared_count == 0 and not gate.exclusive_held
