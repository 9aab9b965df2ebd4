"""What the app finds in its data dir at start: a state file, a config or a layout it cannot use
ends the real CLI with one line naming the file (and the key) and exit 2, never a traceback, and
never a start that fails later on every request. Temp files a killed write left are removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ROOT, Server, log_text, wait_for

WS = {"id": "proj-001", "repo": "/r", "repo_name": "proj", "branch": "main", "path": "/tmp"}
SESSION = {"id": "proj-001-ab", "workspace_id": "proj-001", "target": "t", "tmux_name": "schmux-x"}


def _state(workspaces: object = None, sessions: object = None, **extra: object) -> str:
    doc = {"version": 1, "workspaces": [WS] if workspaces is None else workspaces}
    doc["sessions"] = [] if sessions is None else sessions
    doc.update(extra)
    return json.dumps(doc)


def _run(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI; a start that gets as far as serving is stopped after a moment (a failure
    here: these data dirs must be refused)."""
    args = ["--serve", "--port", "0", "--token", "test-token-0123456789"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "schmux_desktop", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate()
    subprocess.run(["tmux", "-S", str(data_dir / "tmux.sock"), "kill-server"], capture_output=True)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


STATE_CASES = {
    "integer id": (_state([{**WS, "id": 5}]), "workspaces[0].id"),
    "workspaces an object": (_state({"proj-001": WS}), "workspaces"),
    "a session that is a list": (_state(sessions=[["proj-001-ab"]]), "sessions[0]"),
    "a string time": (_state(sessions=[{**SESSION, "created_at": "yesterday"}]), "created_at"),
    "a time past year 9999": (_state([{**WS, "created_at": 1e300}]), "workspaces[0].created_at"),
    "true as a count": (_state([{**WS, "git_ahead": True}]), "workspaces[0].git_ahead"),
    "a path as an id": (_state(sessions=[{**SESSION, "id": "../../x"}]), "sessions[0].id"),
    "a tmux target as a name": (
        _state(sessions=[{**SESSION, "tmux_name": "other:0.1"}]),
        "sessions[0].tmux_name",
    ),
    "a missing field": (_state([{k: v for k, v in WS.items() if k != "path"}]), "path"),
    "a lone surrogate": (_state([{**WS, "branch": "b"}]).replace('"b"', '"\\ud800"'), "branch"),
    "NaN": (_state(x=1).replace('"x": 1', '"x": NaN'), "NaN"),
    "a 5000-digit integer": (_state(x=1).replace('"x": 1', '"x": ' + "9" * 5000), "digits"),
    "nested 100000 deep": ("[" * 100_000 + "]" * 100_000, "state.json"),
}


@pytest.mark.parametrize("case", list(STATE_CASES))
def test_a_state_file_of_the_wrong_shape_is_refused_at_start(short_dir: Path, case: str) -> None:
    text, fragment = STATE_CASES[case]
    d = short_dir / "data"
    d.mkdir()
    (d / "state.json").write_text(text)
    r = _run(d)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert str(d / "state.json") in lines[0] and fragment in lines[0], lines[0]
    assert (d / "state.json").read_text() == text  # never overwritten


CONFIG_CASES = {
    "a lone surrogate in an unknown key's value": ('{"notes": "\\ud800"}', "notes"),
    "a lone surrogate in a repo url": ('{"repos": [{"name": "a", "url": "/x\\udfff"}]}', "url"),
    "a lone surrogate in a key": ('{"sessions": {"\\ud800": 1}}', "sessions."),
    "NaN": ('{"terminal": {"width": NaN}}', "NaN"),
    "Infinity in an unknown key": ('{"x": -Infinity}', "Infinity"),
    "a 5000-digit integer": ('{"x": ' + "9" * 5000 + "}", "digits"),
    "nested 100000 deep": ('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),
    "nested 200 deep": ('{"x": ' + "[" * 200 + "]" * 200 + "}", "nested"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_a_config_that_cannot_be_written_back_is_refused_naming_file_and_key(
    short_dir: Path, case: str
) -> None:
    text, fragment = CONFIG_CASES[case]
    d = short_dir / "data"
    d.mkdir()
    (d / "config.json").write_text(text)
    r = _run(d)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert str(d / "config.json") in lines[0] and fragment in lines[0], lines[0]


LAYOUT_CASES = {
    "logs is a file": ("logs", "file"),
    "run is a file": ("run", "file"),
    "repos is a file": ("repos", "file"),
    "tmux.conf is a directory": ("tmux.conf", "dir"),
}


@pytest.mark.parametrize("case", list(LAYOUT_CASES))
def test_a_data_dir_the_app_cannot_lay_out_is_refused_in_one_line(
    short_dir: Path, case: str
) -> None:
    name, kind = LAYOUT_CASES[case]
    d = short_dir / "data"
    d.mkdir()
    if kind == "file":
        (d / name).write_text("someone else's\n")
    else:
        (d / name).mkdir()
    r = _run(d)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert str(d / name) in lines[0], lines[0]


def test_temp_files_of_killed_writes_are_removed_at_start(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    srv = make_server()
    sid = srv.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]["session_id"]
    srv.stop(9)  # SIGKILL: whatever it was writing stays
    d = srv.data_dir
    old = time.time() - 3600
    stale = [
        d / ".state.json.k2j3h4.tmp",
        d / ".config.json.abc123.tmp",
        d / ".tmux.conf.zz.tmp",
        d / "trash" / ".index.json.q1.tmp",
        d / "trash" / "proj-002-1234abcd.bundle.tmp",
        d / "run" / f"{sid}.exit.tmp",
        d / "run" / "proj-009-deadbeef.sh",  # a launcher of a spawn that never got recorded
    ]
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("half")
        os.utime(p, (old, old))
    clone_tmp = d / "repos" / ".proj.git.123.456.tmp"
    (clone_tmp / "objects").mkdir(parents=True)
    keep = [d / "notes.txt", d / "run" / f"{sid}.exit"]
    for p in keep:
        p.write_text("0\n")
    again = make_server(data_dir=d, config=None)
    assert [p for p in stale if p.exists()] == []
    assert not clone_tmp.exists()
    assert all(p.exists() for p in keep)
    assert again.session(sid) is not None


TALKER = {"name": "talker", "type": "command", "command": "echo TALKER-OUTPUT; sleep 600"}


def test_tmux_format_characters_in_the_data_dir_path_are_text(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    """tmux expands formats in pipe-pane's command: a data dir named with ``#S`` sent the log
    to another path, and ``#(...)`` ran a command."""
    marker = short_dir / "pwned"
    d = short_dir / f"x#S#{{session_name}}#(touch {marker})" / "d"
    srv = make_server({"run_targets": [TALKER]}, data_dir=d)
    # the first spawn goes through a one-shot tmux client, the second through the control
    # client (attached once a session exists): tmux parses the command differently in each
    first = srv.spawn(repo="proj", branch="main", targets={"talker": 1})[0]
    time.sleep(1.0)
    second = srv.spawn(workspace_id=first["workspace_id"], targets={"talker": 1})[0]
    for sid in (first["session_id"], second["session_id"]):
        wait_for(lambda sid=sid: "TALKER-OUTPUT" in log_text(srv, sid), timeout=10)
        logs = list(short_dir.rglob(f"{sid}.log"))
        assert logs == [d / "logs" / f"{sid}.log"]
    time.sleep(0.5)  # a #(...) job would have run by now
    assert not marker.exists()
    with srv.client() as c:
        assert c.post(f"/api/dispose/{first['session_id']}").status_code == 200


def test_without_stdbuf_the_app_refuses_to_start_instead_of_never_rotating_logs(
    short_dir: Path,
) -> None:
    """The session logs' writer needs stdbuf to rotate; without it a log would grow forever.
    A PATH with tmux and git but no stdbuf: one line naming it, exit 2, no server."""
    import shutil

    bin_dir = short_dir / "bin"
    bin_dir.mkdir()
    for tool in ("tmux", "git", "sh", "head", "wc", "mv"):
        real = shutil.which(tool)
        assert real is not None
        (bin_dir / tool).symlink_to(real)
    d = short_dir / "data"
    args = ["--serve", "--port", "0", "--token", "test-token-0123456789", "--data-dir", str(d)]
    r = subprocess.run(
        [sys.executable, "-m", "schmux_desktop", *args],
        cwd=ROOT,
        env={**os.environ, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "stdbuf is not installed or not on PATH" in lines[0], lines[0]
    assert "log_max_bytes" in lines[0], lines[0]
