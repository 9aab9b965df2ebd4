"""The control client's life (``backend.tmuxlifecycle``), seen through ``Tmux``'s public state,
against a real tmux server on a private socket."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backend.tasks import TaskGroup
from backend.tmux import Tmux
from backend.tmuxlifecycle import CONTROL_RETRY, TRANSITIONS, ControlState


def plain_tmux(t: Tmux, *args: str) -> str:
    return subprocess.run(
        ["tmux", "-S", str(t.socket), "-f", str(t.conf), *args], capture_output=True, text=True
    ).stdout


def our_tmux_children() -> list[str]:
    """``tmux`` processes this test process started and has not reaped (zombies included)."""
    out = subprocess.run(
        ["ps", "--ppid", str(os.getpid()), "-o", "stat=,comm="], capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if "tmux" in line]  # (its title: "tmux: client")


@pytest.fixture
async def tasks() -> AsyncIterator[TaskGroup]:
    group = TaskGroup()
    yield group
    await group.close()


@pytest.fixture
def sockets(tmp_path: Path) -> AsyncIterator[Path]:
    yield tmp_path
    for sock in tmp_path.glob("*.sock"):
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True)


def test_every_state_can_be_closed_and_reached() -> None:
    assert set(TRANSITIONS) == set(ControlState)
    for state, targets in TRANSITIONS.items():
        assert state is ControlState.OFF or ControlState.OFF in targets, state
    reached = {t for targets in TRANSITIONS.values() for t in targets}
    assert reached == set(ControlState)


async def test_off_until_started_and_after_close(sockets: Path) -> None:
    t = Tmux(sockets / "tmux.sock", sockets / "tmux.conf", timeout=5.0)
    t.write_conf()
    assert t.control_state is ControlState.OFF
    plain_tmux(t, "new-session", "-d", "-s", "schmux-a", "sleep 60")
    assert await t.run("display-message", "-p", "x") == "x\n"  # one-shot: not wanted yet
    assert t.control_state is ControlState.OFF and t.control_attaches == 0
    assert await t.start_control()
    assert t.control_state is ControlState.UP and t.control_attaches == 1
    assert await t.start_control()  # already up: the same client
    assert t.control_attaches == 1
    t.close()
    assert t.control_state is ControlState.OFF
    assert await t.run("display-message", "-p", "y") == "y\n"  # one-shot again
    assert t.control_state is ControlState.OFF


async def test_a_failed_start_waits_before_the_next_try_on_its_clock(sockets: Path) -> None:
    now = [1000.0]
    t = Tmux(sockets / "tmux.sock", sockets / "tmux.conf", timeout=5.0, clock=lambda: now[0])
    t.write_conf()
    try:
        assert not await t.start_control()  # no server yet
        assert t.control_state is ControlState.IDLE
        plain_tmux(t, "new-session", "-d", "-s", "schmux-a", "sleep 60")  # not through Tmux
        now[0] += CONTROL_RETRY / 2
        assert await t.run("display-message", "-p", "x") == "x\n"
        assert t.control_state is ControlState.IDLE  # too soon: a one-shot client, no try
        now[0] += CONTROL_RETRY
        assert await t.run("display-message", "-p", "x") == "x\n"  # waits for the start
        assert t.control_state is ControlState.UP
    finally:
        t.close()


async def test_a_session_created_through_tmux_allows_a_try_at_once(sockets: Path) -> None:
    now = [1000.0]
    t = Tmux(sockets / "tmux.sock", sockets / "tmux.conf", timeout=5.0, clock=lambda: now[0])
    t.write_conf()
    log = sockets / "a.log"
    log.touch()
    try:
        assert not await t.start_control()
        await t.new_session("schmux-a", ["sleep", "60"], width=80, height=24, log=log, log_max=4096)
        assert t.control_state is ControlState.IDLE  # (the spawn itself went one-shot)
        assert await t.run("display-message", "-p", "x") == "x\n"
        assert t.control_state is ControlState.UP  # the clock has not moved
    finally:
        t.close()


async def test_close_while_attaching_leaves_no_client(sockets: Path, tasks: TaskGroup) -> None:
    t = Tmux(sockets / "tmux.sock", sockets / "tmux.conf", timeout=5.0, tasks=tasks)
    t.write_conf()
    plain_tmux(t, "new-session", "-d", "-s", "schmux-a", "sleep 60")
    # A one-shot client that stays 0.5 s keeps the attach waiting in ATTACHING.
    blocker = tasks.spawn(t.run("run-shell", "sleep 0.5", control=False), name="blocker")
    await asyncio.sleep(0.05)
    start = tasks.spawn(t.start_control(), name="start")
    for _ in range(200):
        if t.control_state is ControlState.ATTACHING:
            break
        await asyncio.sleep(0.005)
    assert t.control_state is ControlState.ATTACHING
    t.close()
    assert t.control_state is ControlState.OFF
    assert await start is False
    await blocker
    await asyncio.sleep(0.1)
    assert plain_tmux(t, "list-clients") == ""  # it never attached
    assert t.control_state is ControlState.OFF and t.control_attaches == 0


async def test_a_lost_client_is_reaped_without_waiting_on_the_loop(sockets: Path) -> None:
    t = Tmux(sockets / "tmux.sock", sockets / "tmux.conf", timeout=5.0)
    t.write_conf()
    plain_tmux(t, "new-session", "-d", "-s", "schmux-a", "sleep 60")
    plain_tmux(t, "new-session", "-d", "-s", "schmux-b", "sleep 60")
    try:
        assert await t.start_control()
        assert len(our_tmux_children()) == 1  # the control client
        plain_tmux(t, "kill-session", "-t", "=schmux-a")  # its session: it is told and lost
        for _ in range(200):
            if t.control_state is ControlState.IDLE and not our_tmux_children():
                break
            await asyncio.sleep(0.01)
        assert t.control_state is ControlState.IDLE
        assert our_tmux_children() == []  # killed and reaped, no zombie left
        assert await t.run("display-message", "-p", "x") == "x\n"  # a new one, inline
        assert t.control_state is ControlState.UP and t.control_attaches == 2
    finally:
        t.close()
    for _ in range(200):
        if not our_tmux_children():
            break
        await asyncio.sleep(0.01)
    assert our_tmux_children() == []


async def test_a_start_cancelled_by_shutdown_leaves_it_idle(
    sockets: Path, tasks: TaskGroup
) -> None:
    app_tasks = TaskGroup()
    t = Tmux(sockets / "tmux.sock", sockets / "tmux.conf", timeout=5.0, tasks=app_tasks)
    t.write_conf()
    plain_tmux(t, "new-session", "-d", "-s", "schmux-a", "sleep 60")
    # A one-shot client that stays 0.3 s keeps the attach waiting in ATTACHING.
    blocker = tasks.spawn(t.run("run-shell", "sleep 0.3", control=False), name="blocker")
    await asyncio.sleep(0.05)
    app_tasks.spawn(t.start_control(), name="start")
    for _ in range(200):
        if t.control_state is ControlState.ATTACHING:
            break
        await asyncio.sleep(0.005)
    assert t.control_state is ControlState.ATTACHING
    await app_tasks.close()  # the app shutting down cancels the start task
    assert t.control_state is ControlState.IDLE  # not stuck half-way
    await blocker
    t.close()
    assert t.control_state is ControlState.OFF
