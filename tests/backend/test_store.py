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
