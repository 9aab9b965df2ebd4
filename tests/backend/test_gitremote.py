"""Tests for backend.gitremote: real git against a real silent remote and real local repos."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.gitremote import Deadline, GitRemote, RemoteGitError, RemoteGitTimeout
from backend.tasks import TaskGroup
from tests.helpers import make_repo


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections (the kernel's backlog does) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


def alive(port: int) -> list[str]:
    out = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True)
    return out.stdout.split()


async def test_deadline_kills_git_and_its_helper(silent_port: int, tmp_path: Path) -> None:
    remote = GitRemote()
    url = f"http://127.0.0.1:{silent_port}/x.git"
    t0 = time.monotonic()
    with pytest.raises(RemoteGitTimeout) as info:
        await remote.run(
            ["ls-remote", url], url=url, what=f"list {url}", deadline=Deadline.after(0.5)
        )
    took = time.monotonic() - t0
    assert 0.45 < took < 2.0, took
    assert "within 0.5 s (sessions.git_clone_timeout_ms)" in info.value.message
    assert alive(silent_port) == []  # git and git-remote-http both gone
    assert remote.running == 0


async def test_close_stops_running_git_and_refuses_new(silent_port: int) -> None:
    remote = GitRemote()
    url = f"git://127.0.0.1:{silent_port}/x"
    tasks = TaskGroup()
    task = tasks.spawn(
        remote.run(["ls-remote", url], url=url, what=f"list {url}", deadline=Deadline.after(300)),
        name="hung-ls-remote",
    )
    for _ in range(100):
        if remote.running:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    remote.close()
    with pytest.raises(RemoteGitError, match="shutting down"):
        await task
    assert time.monotonic() - t0 < 1.0
    assert alive(silent_port) == []
    with pytest.raises(RemoteGitError, match="shutting down"):
        await remote.run(["ls-remote", url], url=url, what="list", deadline=Deadline.after(5))


async def test_refused_url_never_runs_git(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    url = f"ext::sh -c touch% {marker}"
    with pytest.raises(RemoteGitError, match="'ext' remote helper"):
        await GitRemote().run(["ls-remote", url], url=url, what="list", deadline=Deadline.after(5))
    assert not marker.exists()


async def test_git_itself_allows_only_the_listed_transports(tmp_path: Path) -> None:
    # fd:: is a "user" transport git allows by default; the remote gits are not allowed it
    harmless = str(make_repo(tmp_path / "origin"))
    with pytest.raises(RemoteGitError, match="transport 'fd' not allowed"):
        await GitRemote().run(
            ["ls-remote", "fd::5"], url=harmless, what="list", deadline=Deadline.after(5)
        )


async def test_clone_reports_progress_and_returns(tmp_path: Path) -> None:
    files = {f"f{i}.txt": f"{i}\n" * 50 for i in range(300)}
    origin = make_repo(tmp_path / "origin", files=files)
    reports: list[tuple[float | None, str]] = []
    await GitRemote().run(
        ["clone", "--progress", "--", f"file://{origin}", str(tmp_path / "c")],
        url=f"file://{origin}",
        what="clone",
        deadline=Deadline.after(30),
        report=lambda p, m: reports.append((p, m)),
    )
    assert (tmp_path / "c" / "f1.txt").exists()
    assert any(p == 100.0 and m.startswith("Receiving objects") for p, m in reports), reports
