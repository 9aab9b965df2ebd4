"""The session log's home: the writer's command, the start-up check, paths, tail, cleanup.
(The writer's rotation and the follower under load are in ``test_terminal``.)"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
from pathlib import Path

import pytest

from backend import sessionlog
from backend.errors import StorageError
from backend.fileio import DataDirError


def bin_dir_with(tmp_path: Path, tools: tuple[str, ...]) -> str:
    d = tmp_path / "bin"
    d.mkdir()
    for tool in tools:
        real = shutil.which(tool)
        assert real is not None
        (d / tool).symlink_to(real)
    return str(d)


def test_without_stdbuf_the_app_refuses_to_start(tmp_path: Path) -> None:
    path = bin_dir_with(tmp_path, ("head", "wc", "mv"))
    assert "stdbuf is not installed" in (sessionlog.writer_missing(path) or "")
    with pytest.raises(DataDirError, match="stdbuf is not installed or not on PATH"):
        sessionlog.require_writer(path)


def test_with_its_tools_the_writer_is_available(tmp_path: Path) -> None:
    path = bin_dir_with(tmp_path, ("stdbuf", "head", "wc", "mv"))
    assert sessionlog.writer_missing(path) is None
    sessionlog.require_writer(path)


def test_the_writer_command_quotes_the_path_and_keeps_a_floor(tmp_path: Path) -> None:
    log = tmp_path / "it's a log;$(x).log"
    words = shlex.split(sessionlog.writer_command(log, 10))
    assert words == ["exec", "sh", "-c", sessionlog.LOG_WRITER, "schmux-log", str(log), "1024"]
    assert "#" not in sessionlog.LOG_WRITER  # tmux would expand it as a format


def test_logs_are_created_private_and_forgotten_with_their_rotation(tmp_path: Path) -> None:
    logs = sessionlog.SessionLogs(tmp_path / "logs", max_bytes=4096)
    path = logs.create("s1")
    assert path == tmp_path / "logs" / "s1.log" and path.read_bytes() == b""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(logs.dir.stat().st_mode) == 0o700
    sessionlog.rotated(path).write_bytes(b"old")
    assert logs.writer_command("s1").endswith(f"{shlex.quote(str(path))} 4096")
    logs.forget("s1")
    assert os.listdir(logs.dir) == []


def test_a_log_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    logs = sessionlog.SessionLogs(tmp_path / "file" / "logs")  # a file where a dir must be
    with pytest.raises(StorageError, match="could not create"):
        logs.create("s1")


def test_tail_reaches_into_the_rotated_log(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    sessionlog.rotated(path).write_bytes(b"0123456789")
    path.write_bytes(b"abc")
    assert sessionlog.tail(path, limit=6) == b"789abc"
    assert sessionlog.tail(path, limit=2) == b"bc"
    assert sessionlog.tail(tmp_path / "none.log") == b""


def test_a_follower_from_the_end_reads_only_what_comes_after(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    path.write_bytes(b"before")
    follower = sessionlog.LogFollower.from_end(path)
    assert follower.read() == b""
    with path.open("ab") as f:
        f.write(b"after")
    assert follower.read() == b"after"
    follower.close()
    late = sessionlog.LogFollower.from_end(tmp_path / "later.log")  # not created yet
    assert late.read() == b""
    (tmp_path / "later.log").write_bytes(b"all of it")
    assert late.read() == b"all of it"
    late.close()
