from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.errors import StorageError
from backend.events import EventBus, SessionsChanged
from backend.models import Session, Workspace
from backend.registry import Registry
from backend.store import SCHEMA_VERSION, State, StateFileError, StateStore


def _state() -> State:
    w = Workspace(id="p-001", repo="/r", repo_name="p", branch="main", path="/w/p-001")
    s = Session(
        id="p-001-abcd", workspace_id="p-001", target="shell", tmux_name="schmux-p-001-abcd"
    )
    return State(workspaces={w.id: w}, sessions={s.id: s})


def test_missing_file_is_empty_state(tmp_path: Path) -> None:
    st = StateStore(tmp_path / "state.json").load()
    assert st.workspaces == {} and st.sessions == {}


def test_round_trip_with_version(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json")
    store.save(_state())
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["version"] == SCHEMA_VERSION
    loaded = store.load()
    assert loaded.workspaces["p-001"].branch == "main"
    assert loaded.sessions["p-001-abcd"].target == "shell"
    assert not list(tmp_path.glob(".state.json.*"))  # no temp files left behind


@pytest.mark.parametrize(
    "text", ["{half", "[]", '{"version": 99}', '{"version": 1, "workspaces": [5]}']
)
def test_unusable_file_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    (tmp_path / "state.json").write_text(text)
    with pytest.raises(StateFileError) as info:
        StateStore(tmp_path / "state.json").load()
    assert "state.json" in str(info.value)


def test_failed_save_rolls_memory_back(tmp_path: Path) -> None:
    # A directory where the temp file should go makes every save fail, even for root.
    target = tmp_path / "sub" / "state.json"
    reg = Registry(StateStore(target), EventBus())
    seen: list[object] = []
    reg.events.subscribe(seen.append)
    with reg.change("add") as st:
        st.workspaces.update(_state().workspaces)
    assert seen == [SessionsChanged("add")]
    (tmp_path / "sub").rename(tmp_path / "moved")
    (tmp_path / "sub").write_text("a file where the directory was")
    with pytest.raises(StorageError) as info:
        with reg.change("remove") as st:
            st.workspaces.clear()
    assert "could not save" in info.value.message
    assert "p-001" in reg.state.workspaces  # memory agrees with what is (still) on disk
    assert len(seen) == 1


def test_everything_the_app_writes_passes_the_type_check_at_load(tmp_path: Path) -> None:
    """The check at load must never refuse the app's own file: every field set, every optional
    one both null and set, ids with every allowed character, an integer time (older files)."""
    store = StateStore(tmp_path / "state.json")
    state = _state()
    w = Workspace(
        id="my.repo_x-012", repo="git@h:u/r.git", repo_name="my.repo_x", branch="feat/ü ✓",
        path="/w/x", created_at=1, git_ahead=3, git_behind=0, git_dirty=True,
        git_lines_added=10**12, git_lines_removed=2, git_files_changed=1, git_error="timed out",
    )  # fmt: skip
    busy = Session(
        id="my.repo_x-012-ab.cd", workspace_id=w.id, target="claude code", tmux_name="schmux-x_y",
        nickname="n (2)", created_at=1.5, last_output_at=1_800_000_000.25, nudge_state="needs_input",
        nudge_summary="line\nline", nudge_source="agent", running=False, exit_status=130, pid=4242,
    )  # fmt: skip
    state.workspaces[w.id] = w
    state.sessions[busy.id] = busy
    store.save(state)
    loaded = store.load()
    assert loaded.workspaces == state.workspaces and loaded.sessions == state.sessions
