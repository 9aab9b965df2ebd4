"""The app's tmux wrapper and its control client, against a real tmux server on a private socket."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from backend import tmux as tmux_mod
from backend.tasks import TaskGroup
from backend.tmux import Tmux, TmuxError
from backend.tmuxcontrol import SEPARATOR, quote
from backend.tmuxlifecycle import ControlState, control_version_ok

T = TypeVar("T")

WEIRD = "a\r\nb\t\x1b[A \"q\" 'sq' $HOME ${HOME} ~ ; #{pane_id} #(echo hi) \\ é 😀 \x7f {x} %end 1 2 1 ;"


@pytest.fixture
async def tmux(tmp_path: Path) -> AsyncIterator[Tmux]:
    t = Tmux(tmp_path / "tmux.sock", tmp_path / "tmux.conf", timeout=5.0)
    t.write_conf()
    await new_session(t, tmp_path, "schmux-base")  # a session for the control client
    assert await t.start_control()
    yield t
    t.close()
    subprocess.run(["tmux", "-S", str(t.socket), "kill-server"], capture_output=True)


async def new_session(t: Tmux, tmp_path: Path, name: str, command: str = "sleep 60") -> Path:
    log = tmp_path / f"{name}.log"
    log.touch()
    await t.new_session(name, ["sh", "-c", command], width=80, height=24, log=log, log_max=1 << 20)
    return log


def buffer_bytes(t: Tmux) -> bytes:
    """Read the paste buffer "t" with a separate one-shot client, to check what tmux got."""
    return subprocess.run(
        ["tmux", "-S", str(t.socket), "show-buffer", "-b", "t"], capture_output=True, check=True
    ).stdout


def test_quote_leaves_no_line_break_and_no_expansion() -> None:
    q = quote(WEIRD)
    assert "\n" not in q and "\r" not in q
    assert q.startswith('"') and q.endswith('"')
    assert "\\$HOME" in q


@pytest.mark.parametrize("text", [WEIRD, ";", "x;", "\\", "#{session_name}", "a" * 50_000])
async def test_any_argument_reaches_tmux_unchanged(tmux: Tmux, text: str) -> None:
    await tmux.run("set-buffer", "-b", "t", "--", text)
    assert buffer_bytes(tmux) == text.encode()


async def test_one_shot_client_passes_the_same_arguments(tmux: Tmux) -> None:
    for text in (WEIRD, ";", "x;"):
        await tmux.run("set-buffer", "-b", "t", "--", text, control=False)
        assert buffer_bytes(tmux) == text.encode()


async def test_commands_in_one_call_each_answer(tmux: Tmux) -> None:
    out = await tmux.run("display-message", "-p", "one", SEPARATOR, "display-message", "-p", "two")
    assert out == "one\ntwo\n"


async def test_errors_name_the_command_and_keep_the_client(tmux: Tmux) -> None:
    with pytest.raises(TmuxError, match="can't find session"):
        await tmux.run("kill-session", "-t", "=no-such-session")
    with pytest.raises(TmuxError):  # an error in the second command of two
        await tmux.run("display-message", "-p", "ok", SEPARATOR, "kill-session", "-t", "=nope")
    assert await tmux.run("display-message", "-p", "still here") == "still here\n"


async def test_many_commands_at_once_get_their_own_replies(tmux: Tmux) -> None:
    outs = await asyncio.gather(*(tmux.run("display-message", "-p", f"n{i}") for i in range(300)))
    assert outs == [f"n{i}\n" for i in range(300)]


async def test_a_cancelled_command_does_not_shift_the_replies(tmux: Tmux) -> None:
    tasks = TaskGroup()
    for i in range(20):
        given_up = tasks.spawn(tmux.run("display-message", "-p", "given up"), name="given-up")
        await asyncio.sleep(0)  # it has sent its command; tmux has not answered yet
        given_up.cancel()
        assert await tmux.run("display-message", "-p", f"next {i}") == f"next {i}\n"
        assert given_up.cancelled()


async def test_sessions_start_and_are_listed(tmux: Tmux, tmp_path: Path) -> None:
    log = await new_session(tmux, tmp_path, "schmux-t1", "echo started; sleep 30")
    panes = await tmux.panes()
    assert set(panes) == {"schmux-base", "schmux-t1"}  # and no session of the client's own
    assert panes["schmux-t1"].dead is False
    for _ in range(100):
        if b"started" in log.read_bytes():
            break
        await asyncio.sleep(0.02)
    assert b"started" in log.read_bytes()
    await tmux.send_literal("schmux-t1", ";")  # a lone ";" is data, not a separator
    await tmux.kill_session("schmux-t1")
    assert "schmux-t1" not in await tmux.panes()


async def test_the_client_moves_on_when_its_session_ends(tmux: Tmux, tmp_path: Path) -> None:
    await new_session(tmux, tmp_path, "schmux-t3")
    first = tmux.control_attaches
    await tmux.kill_session("schmux-base")  # the session it is attached to
    assert set(await tmux.panes()) == {"schmux-t3"}  # answered: by a one-shot or a new client
    assert await tmux.run("display-message", "-p", "x") == "x\n"
    assert tmux.control_state is ControlState.UP and tmux.control_attaches > first


async def test_a_killed_tmux_server_is_survived(tmux: Tmux, tmp_path: Path) -> None:
    subprocess.run(["tmux", "-S", str(tmux.socket), "kill-server"], capture_output=True)
    await asyncio.sleep(0.1)
    assert await tmux.panes() == {}  # no server: nothing runs (and nothing is started)
    await new_session(tmux, tmp_path, "schmux-t2")
    assert set(await tmux.panes()) == {"schmux-t2"}
    assert await tmux.run("display-message", "-p", "x") == "x\n"
    assert tmux.control_state is ControlState.UP


async def test_a_server_without_sessions_has_no_panes(tmux: Tmux) -> None:
    await tmux.kill_session("schmux-base")  # the server (exit-empty off) stays, empty
    assert await tmux.panes() == {}
    assert await tmux.run("display-message", "-p", "one-shot") == "one-shot\n"


async def test_with_a_task_group_the_client_comes_back_in_the_background(tmp_path: Path) -> None:
    tasks = TaskGroup()
    t = Tmux(tmp_path / "tmux.sock", tmp_path / "tmux.conf", timeout=5.0, tasks=tasks)
    t.write_conf()
    try:
        await new_session(t, tmp_path, "schmux-a")
        await new_session(t, tmp_path, "schmux-b")
        assert await t.start_control()
        first = t.control_attaches
        await t.kill_session("schmux-a")  # its session: a new client attaches by itself
        assert set(await t.panes()) == {"schmux-b"}  # meanwhile: a one-shot client
        for _ in range(250):
            if t.control_state is ControlState.UP and t.control_attaches > first:
                break
            await asyncio.sleep(0.02)
        assert t.control_state is ControlState.UP and t.control_attaches > first
    finally:
        t.close()
        await tasks.close()
        subprocess.run(["tmux", "-S", str(t.socket), "kill-server"], capture_output=True)


async def test_a_client_that_stops_answering_is_replaced(
    tmux: Tmux, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A command that holds the client's queue (run-shell waits for its shell) keeps every
    # later command on that client from an answer; the tmux server itself is fine.
    monkeypatch.setattr(tmux_mod, "CONTROL_TIMEOUT", 0.3)
    await new_session(tmux, tmp_path, "schmux-t4")
    loop = asyncio.get_running_loop()

    async def behind_a_blocker(command: Awaitable[T]) -> T:
        async def later() -> T:
            await asyncio.sleep(0.05)
            return await command

        _, result = await asyncio.gather(tmux.run("run-shell", "sleep 1"), later())
        return result

    first = tmux.control_attaches
    t0 = loop.time()
    assert set(await behind_a_blocker(tmux.panes())) == {"schmux-base", "schmux-t4"}
    assert loop.time() - t0 < 1.5  # answered by a one-shot client
    assert "no answer to 'list-panes'" in caplog.text
    assert tmux.control_state is ControlState.IDLE  # given up on

    assert await tmux.run("display-message", "-p", "x") == "x\n"
    second = tmux.control_attaches  # a new client took over at the next command
    assert tmux.control_state is ControlState.UP and second == first + 1
    # Typed keys are never repeated: they wait for their answer as long as a one-shot would.
    log = await new_session(tmux, tmp_path, "schmux-cat", "stty -echo; cat")
    await asyncio.sleep(0.2)
    await behind_a_blocker(tmux.send_literal("schmux-cat", "typed-once\r"))
    await asyncio.sleep(0.3)
    assert log.read_bytes().count(b"typed-once") == 1
    assert tmux.control_state is ControlState.UP and tmux.control_attaches == second


async def test_a_spawn_given_up_on_is_not_started_twice(
    tmux: Tmux, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tmux_mod, "CONTROL_TIMEOUT", 0.3)

    async def after(delay: float, command: Callable[[], Awaitable[T]]) -> T:
        await asyncio.sleep(delay)
        return await command()

    # Queued behind a blocker: a listing, given up on after 0.3 s, and a spawn, which may or
    # may not have run then: it is checked, and started by a one-shot client only if not.
    await asyncio.gather(
        tmux.run("run-shell", "sleep 1"),
        after(0.05, tmux.panes),
        after(0.1, lambda: new_session(tmux, tmp_path, "schmux-t5", "echo started; sleep 60")),
    )
    log = tmp_path / "schmux-t5.log"
    await asyncio.sleep(1.5)  # had it stayed queued in tmux too, it would have run by now
    assert log.read_bytes().count(b"started") == 1
    assert "schmux-t5" in await tmux.panes()


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("tmux 3.3a", True),
        ("tmux 3.2", True),
        ("tmux 3.2-rc3", True),
        ("tmux 10.0", True),
        ("tmux next-3.5", True),
        ("tmux master", True),
        ("tmux 3.1c", False),
        ("tmux 2.9a", False),
    ],
)
def test_a_control_client_needs_tmux_3_2(version: str, ok: bool) -> None:
    assert control_version_ok(version) is ok


async def test_an_old_tmux_gets_one_shot_clients_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real tmux, except that it says it is 3.1 (which has no `attach-session -f`).
    real = shutil.which("tmux")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "tmux"
    wrapper.write_text(
        f'#!/bin/sh\n[ "$1" = -V ] && {{ echo "tmux 3.1c"; exit 0; }}\nexec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    t = Tmux(tmp_path / "tmux.sock", tmp_path / "tmux.conf", timeout=5.0)
    t.write_conf()
    try:
        await new_session(t, tmp_path, "schmux-old")
        assert not await t.start_control()
        assert await t.run("display-message", "-p", "x") == "x\n"  # one-shot
        assert t.control_state is ControlState.UNSUPPORTED  # and it does not try again
        assert not await t.start_control()
        assert t.control_state is ControlState.UNSUPPORTED
    finally:
        t.close()
        subprocess.run(["tmux", "-S", str(t.socket), "kill-server"], capture_output=True)


async def test_no_spawn_races_the_control_client_attaching(tmp_path: Path) -> None:
    # tmux 3.3a segfaults now and then (~1 in 10 here) when a control client attaches while
    # another client creates a session; the first spawns of an app do just that.
    for i in range(40):
        d = tmp_path / str(i)
        d.mkdir()
        tasks = TaskGroup()
        t = Tmux(d / "tmux.sock", d / "tmux.conf", timeout=5.0, tasks=tasks)
        t.write_conf()
        try:
            assert not await t.start_control()  # no server yet
            for k in range(3):  # the second starts the attach in the background
                await new_session(t, d, f"schmux-{k}")
            assert set(await t.panes()) == {"schmux-0", "schmux-1", "schmux-2"}, i
        finally:
            t.close()
            await tasks.close()
            subprocess.run(["tmux", "-S", str(t.socket), "kill-server"], capture_output=True)
