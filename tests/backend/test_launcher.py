"""The launcher script as written, run by a real ``sh`` outside tmux: what it exports, where it
runs, what it records when the command ends, and that nothing in a prompt is ever expanded."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from backend.errors import StorageError
from backend.launcher import EVENT_FILE, Launch, RunDir, SessionEnv, parse_exit_record, script


def launch(tmp_path: Path, command: str, prompt: str = "", **kw: str) -> Launch:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return Launch(
        session_id=kw.get("session_id", "proj-001-ab12cd34"),
        workspace_id="proj-001",
        workspace_path=kw.get("workspace_path", str(ws)),
        command=command,
        prompt=prompt,
        env=SessionEnv("http://127.0.0.1:7337", "tok'en"),
    )


def run(run_dir: RunDir, spec: Launch) -> subprocess.CompletedProcess[str]:
    path = run_dir.write(spec)
    env = {**os.environ, "TMUX": "/tmp/x,1,0", "TMUX_PANE": "%1"}
    return subprocess.run(["/bin/sh", str(path)], capture_output=True, text=True, env=env)


def test_the_script_runs_the_command_in_the_workspace_with_the_session_env(
    tmp_path: Path,
) -> None:
    rd = RunDir(tmp_path / "run")
    spec = launch(
        tmp_path,
        'echo "$PWD|$SCHMUX_SESSION_ID|$SCHMUX_WORKSPACE_ID|$SCHMUX_URL|$SCHMUX_TOKEN|${TMUX-unset}"',
    )
    r = run(rd, spec)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first == (
        f"{tmp_path / 'ws'}|proj-001-ab12cd34|proj-001|http://127.0.0.1:7337|tok'en|unset"
    )


def test_the_end_is_recorded_marked_and_announced_and_the_script_removes_itself(
    tmp_path: Path,
) -> None:
    rd = RunDir(tmp_path / "run")
    spec = launch(tmp_path, "exit 7")  # an exit in the command ends the command, not the script
    r = run(rd, spec)
    assert r.returncode == 7
    assert "\x1b[0;2mexited (status 7)\x1b[0m" in r.stdout
    assert rd.exit_path(spec.session_id).read_text() == "7\n"
    assert rd.recorded_exit(spec.session_id) == 7
    assert rd.recorded_exits() == {spec.session_id}
    assert (rd.path / EVENT_FILE).exists()
    assert not rd.script_path(spec.session_id).exists()
    assert not Path(str(rd.exit_path(spec.session_id)) + ".tmp").exists()


def test_a_prompt_is_one_word_never_expanded(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    prompt = 'it\'s $HOME `id` $(id) \\n "quoted" ; exit 3\nsecond line'
    r = run(rd, launch(tmp_path, "printf '%s|' \"$#\"; printf '%s'", prompt))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("0|" + prompt + "\n"), r.stdout  # text mode reads \r\n as \n


def test_a_prompt_is_passed_as_the_last_argument(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    r = run(rd, launch(tmp_path, "sh -c 'echo \"$#:$1\"' x", "a b $c"))
    assert r.stdout.splitlines()[0] == "1:a b $c"


def test_a_workspace_that_is_gone_ends_with_126_and_a_record(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    spec = launch(tmp_path, "echo never", workspace_path=str(tmp_path / "gone"))
    r = run(rd, spec)
    assert r.returncode == 126
    assert "never" not in r.stdout
    # cd failed before the command: the script ended without its record (the pane reports it)
    assert rd.recorded_exit(spec.session_id) is None


def test_the_script_is_private_and_names_no_more_than_it_must(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    path = rd.write(launch(tmp_path, "true"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(rd.path.stat().st_mode) == 0o700
    text = script(
        launch(tmp_path, "true"), exit_file=Path("/d/run/x.exit"), event_file=Path("/d/ev")
    )
    assert text.startswith("#!/bin/sh\n")
    assert "trap : INT QUIT" in text.splitlines()[2]  # before anything else can be interrupted


def test_a_launcher_that_cannot_be_written_leaves_nothing(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir(mode=0o700)
    rd.script_path("proj-001-ab12cd34").mkdir()  # a directory where the file goes
    with pytest.raises(StorageError, match="could not write"):
        rd.write(launch(tmp_path, "true"))


def test_records_of_sessions_that_are_gone_are_forgotten(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    rd.path.mkdir()
    for name in ("a.exit", "a.sh", "b.exit", "b.exit.tmp", "c.sh", EVENT_FILE, "other.txt"):
        (rd.path / name).write_text("0\n")
    rd.forget_all_but({"a"})
    assert sorted(os.listdir(rd.path)) == ["a.exit", "a.sh", "other.txt", EVENT_FILE]
    rd.forget("a")
    assert sorted(os.listdir(rd.path)) == ["other.txt", EVENT_FILE]


@pytest.mark.parametrize(
    ("text", "status"), [("0\n", 0), ("130\n", 130), ("", None), ("x\n", None), ("-1", None)]
)
def test_exit_records_are_read_strictly(text: str, status: int | None) -> None:
    assert parse_exit_record(text) == status
