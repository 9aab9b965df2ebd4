"""The tunnel's supervisor (``backend.tunnel``) on a virtual clock, with small stand-in programs
in place of ssh (real processes: they bind the forwarded port, print to stderr, exit). Real ssh
against a real sshd and a real server: ``tests/e2e/test_tunnel.py``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from backend.backoff import Backoff
from backend.tasks import TaskGroup
from backend.tunnel import (
    TRANSITIONS,
    Tunnel,
    TunnelState,
    command_from_env,
    destination_problem,
    ssh_argv,
)
from tests.helpers import until
from tests.sshd import processes_with

# Stands in for ssh: binds the -L port (so the tunnel is "up"), says something on stderr, and
# after FAKE_UP seconds (default: at once) prints its last words and exits 255.
FAKE_SSH = r"""
import os, socket, sys, time
spec = sys.argv[sys.argv.index("-L") + 1]
local_port = int(spec.split(":")[1])
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(f"{local_port} {'SCHMUX_DESKTOP_TOKEN' in os.environ} {sys.argv[-2:]}\n")
up = float(os.environ.get("FAKE_UP", "-1"))
if up >= 0:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ssh's listener does
    s.bind(("127.0.0.1", local_port))
    s.listen()
    if os.environ.get("FAKE_ACCEPT"):  # close every connection at once, before its client does
        import threading
        def serve():
            while True:
                s.accept()[0].close()
        threading.Thread(target=serve, daemon=True).start()
    print("Warning: Permanently added 'lab' (ED25519) to the list of known hosts.", file=sys.stderr, flush=True)
    if os.environ.get("FAKE_CLOSE"):  # up for a moment, then the forward stops; ssh stays
        time.sleep(0.3)
        s.close()
    time.sleep(up)
says = os.environ.get("FAKE_SAYS", "Connection to lab closed by remote host.")
if says.startswith("@"):
    says = open(says[1:]).read()
print(says, file=sys.stderr, flush=True)
sys.exit(255)
"""


@pytest.fixture
async def tasks() -> AsyncIterator[TaskGroup]:
    group = TaskGroup()
    yield group
    await group.close()


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    script = tmp_path / "fake_ssh.py"
    script.write_text(FAKE_SSH)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("SCHMUX_DESKTOP_TOKEN", "secret-token-0123456789")
    return [sys.executable, str(script)]


class Recorder:
    """on_change's view: (state, local_port, error) after each change; the waits asked for."""

    def __init__(self) -> None:
        self.seen: list[tuple[TunnelState, int | None, str]] = []
        self.waits: list[float] = []
        self.tunnel: Tunnel | None = None

    def on_change(self) -> None:
        assert self.tunnel is not None
        t = self.tunnel
        self.seen.append((t.state, t.local_port, t.error))

    async def sleep(self, seconds: float) -> None:  # virtual time: no real wait
        self.waits.append(seconds)
        await asyncio.sleep(0)

    def make(self, command: list[str], **kwargs: object) -> Tunnel:
        self.tunnel = Tunnel(
            "lab",
            "me@lab.example",
            8765,
            self.on_change,
            sleep=self.sleep,
            ssh_command=command,
            **kwargs,  # type: ignore[arg-type]
        )
        return self.tunnel

    def states(self) -> list[TunnelState]:
        out: list[TunnelState] = []
        for state, _, _ in self.seen:
            if not out or out[-1] is not state:
                out.append(state)
        return out


def test_every_state_can_be_stopped_and_reached() -> None:
    assert set(TRANSITIONS) == set(TunnelState)
    for state, targets in TRANSITIONS.items():
        assert state is TunnelState.STOPPED or TunnelState.STOPPED in targets, state
    assert {t for targets in TRANSITIONS.values() for t in targets} == set(TunnelState)


def test_the_command_line() -> None:
    argv = ssh_argv(["ssh", "-F", "/c"], "me@lab", 4100, 8765)
    assert argv[:5] == ["ssh", "-F", "/c", "-N", "-L"]
    assert argv[5] == "127.0.0.1:4100:127.0.0.1:8765"
    for option in ("ExitOnForwardFailure=yes", "BatchMode=yes", "ControlMaster=no"):
        assert option in argv
    assert any(a.startswith("ServerAliveInterval=") for a in argv)
    assert any(a.startswith("ServerAliveCountMax=") for a in argv)
    assert argv[-2:] == ["--", "me@lab"]  # nothing after "--" is an option, whatever it says


def test_schmux_ssh_command_is_split_like_a_shell_would() -> None:
    assert command_from_env({}) == ["ssh"]
    assert command_from_env({"SCHMUX_SSH_COMMAND": "  "}) == ["ssh"]
    assert command_from_env({"SCHMUX_SSH_COMMAND": "ssh -F '/my dir/cfg' -v"}) == [
        "ssh",
        "-F",
        "/my dir/cfg",
        "-v",
    ]
    with pytest.raises(ValueError, match="SCHMUX_SSH_COMMAND cannot be split"):
        command_from_env({"SCHMUX_SSH_COMMAND": "ssh -F 'unclosed"})


@pytest.mark.parametrize(
    "destination",
    ["-oProxyCommand=touch /tmp/pwned", "-F/etc/passwd", "", "  ", "me@lab\n-oX=y", " me@lab"],
)
def test_destinations_that_are_not_hosts_are_refused(destination: str) -> None:
    assert destination_problem(destination) is not None
    with pytest.raises(ValueError, match="host 'lab': the ssh destination"):
        Tunnel("lab", destination, 8765, lambda: None)


def test_an_option_injection_says_why() -> None:
    with pytest.raises(ValueError) as e:
        Tunnel("lab", "-oProxyCommand=sh -c 'id > /tmp/x'", 8765, lambda: None)
    assert "starts with '-'" in str(e.value) and "option" in str(e.value)


@pytest.mark.parametrize("port", [0, 65536, True, "8765"])
def test_remote_port_must_be_a_port(port: object) -> None:
    with pytest.raises(ValueError, match="remote_port"):
        Tunnel("lab", "me@lab", port, lambda: None)  # type: ignore[arg-type]


async def test_a_failing_ssh_is_retried_with_growing_jittered_waits_and_says_why(
    fake_ssh: list[str], monkeypatch: pytest.MonkeyPatch, tasks: TaskGroup
) -> None:
    monkeypatch.setenv("FAKE_SAYS", "ssh: connect to host lab port 22: Connection refused")
    rec = Recorder()
    t = rec.make(fake_ssh, random=lambda: 0.5, tasks=tasks)
    assert t.state is TunnelState.STOPPED
    await t.start()
    assert t.state is TunnelState.STARTING
    await until(lambda: len(rec.waits) >= 4, timeout=20)
    await t.stop()
    assert rec.waits[:4] == [0.25, 0.5, 1.0, 2.0]  # 0.5 · min(30, 0.5 · 2ⁿ)
    assert rec.states() == [
        TunnelState.STARTING,
        TunnelState.RECONNECTING,
        TunnelState.STOPPED,
    ]
    assert t.error == "ssh: connect to host lab port 22: Connection refused"
    assert all(port is None for _, port, _ in rec.seen)


async def test_up_then_lost_reconnects_on_the_same_port_and_a_stable_period_resets_the_waits(
    fake_ssh: list[str], monkeypatch: pytest.MonkeyPatch, tasks: TaskGroup, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_UP", "0.2")

    async def cycles(clock: Callable[[], float]) -> Recorder:
        rec = Recorder()
        t = rec.make(fake_ssh, random=lambda: 1.0, clock=clock, tasks=tasks)
        await t.start()
        await until(lambda: len(rec.waits) >= 3, timeout=20)
        await t.stop()
        return rec

    flapping = await cycles(lambda: 0.0)  # each connection was up 0 s
    assert flapping.waits[:3] == [0.5, 1.0, 2.0]
    ups = [port for state, port, _ in flapping.seen if state is TunnelState.UP]
    assert len(ups) >= 3 and len(set(ups)) == 1  # the same address after each reconnect
    assert flapping.states()[:4] == [
        TunnelState.STARTING,
        TunnelState.UP,
        TunnelState.RECONNECTING,
        TunnelState.UP,
    ]
    assert flapping.tunnel is not None
    assert flapping.tunnel.error == "Connection to lab closed by remote host."  # not the warning

    ticks = iter(range(0, 10**6, 100))
    stable = await cycles(lambda: float(next(ticks)))  # each connection was up 100 s
    assert stable.waits[:3] == [0.5, 0.5, 0.5]

    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert all(" False " in line for line in calls)  # the app's token is not in ssh's env
    assert all(line.endswith("['--', 'me@lab.example']") for line in calls)


async def test_a_missing_ssh_program_is_an_error_not_a_crash(tasks: TaskGroup) -> None:
    rec = Recorder()
    t = rec.make(["/nonexistent/bin/ssh"], tasks=tasks)
    await t.start()
    await until(lambda: len(rec.waits) >= 2)
    await t.stop()
    assert t.error.startswith("could not run '/nonexistent/bin/ssh'")
    assert t.state is TunnelState.STOPPED


async def test_stderr_is_bounded(
    fake_ssh: list[str], monkeypatch: pytest.MonkeyPatch, tasks: TaskGroup, tmp_path: Path
) -> None:
    says = tmp_path / "says.txt"
    says.write_text("x" * 200_000 + "\nthe last line\n" + "y" * 100_000)
    monkeypatch.setenv("FAKE_SAYS", f"@{says}")
    rec = Recorder()
    t = rec.make(fake_ssh, tasks=tasks)
    await t.start()
    await until(lambda: bool(rec.waits))
    await t.stop()
    assert t.error == "y" * 500


async def test_stop_while_waiting_to_retry_is_prompt(fake_ssh: list[str], tasks: TaskGroup) -> None:
    rec = Recorder()
    t = Tunnel(
        "lab",
        "me@lab",
        8765,
        rec.on_change,
        ssh_command=fake_ssh,
        backoff=Backoff(initial=600, cap=600, random=lambda: 1.0),  # real sleep, 10 min
        tasks=tasks,
    )
    rec.tunnel = t
    await t.start()
    await until(lambda: t.state is TunnelState.RECONNECTING)
    async with asyncio.timeout(5):
        await t.stop()
    assert t.state is TunnelState.STOPPED and t.local_port is None
    await t.start()  # and it can start again
    assert t.state is TunnelState.STARTING
    await t.stop()


async def test_closing_the_owners_task_group_stops_the_tunnel(fake_ssh: list[str]) -> None:
    group = TaskGroup()
    rec = Recorder()
    t = rec.make(fake_ssh, tasks=group)
    await t.start()
    await until(lambda: bool(rec.waits))
    await group.close()
    assert t.state is TunnelState.STOPPED and rec.seen[-1][0] is TunnelState.STOPPED
    await t.stop()  # still fine afterwards
    assert t.state is TunnelState.STOPPED


async def test_a_forward_that_stops_accepting_is_replaced_and_its_ssh_killed(
    fake_ssh: list[str], monkeypatch: pytest.MonkeyPatch, tasks: TaskGroup
) -> None:
    monkeypatch.setattr("backend.tunnel.PROBE_EVERY", 0.2)
    monkeypatch.setenv("FAKE_UP", "600")
    monkeypatch.setenv("FAKE_CLOSE", "1")
    rec = Recorder()
    t = rec.make(fake_ssh, tasks=tasks)
    await t.start()
    await until(lambda: t.state is TunnelState.UP)
    await until(lambda: t.state is TunnelState.RECONNECTING, timeout=20)
    assert t.error.startswith("the tunnel's local port 127.0.0.1:")
    assert t.error.endswith("stopped accepting connections")
    await t.stop()
    assert not processes_with(fake_ssh[1])  # the stand-in was killed, not left sleeping


async def test_the_local_port_is_kept_while_its_old_connections_linger_in_time_wait(
    fake_ssh: list[str], monkeypatch: pytest.MonkeyPatch, tasks: TaskGroup
) -> None:
    monkeypatch.setenv("FAKE_UP", "1.0")
    monkeypatch.setenv("FAKE_ACCEPT", "1")
    rec = Recorder()
    t = rec.make(fake_ssh, tasks=tasks)
    await t.start()
    await until(lambda: t.state is TunnelState.UP)
    port = t.local_port
    assert port is not None
    # A connection the forward closed first: its end on our port waits in TIME_WAIT for 60 s.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await reader.read() == b""
    writer.close()
    await until(lambda: t.state is TunnelState.RECONNECTING, timeout=10)
    await until(lambda: t.state is TunnelState.UP, timeout=10)
    assert t.local_port == port
    await t.stop()
