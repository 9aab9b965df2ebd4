"""A full disk under the data dir: every change is refused with 507 and a reason a person can
read, nothing half-written stays behind, and the change goes through once there is room again.

The data dir lives on a real 3 MiB tmpfs (the ``tiny_fs`` fixture of ``test_faults``), filled up
by a file; the workspaces live elsewhere, so git work in them still succeeds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.e2e import test_faults
from tests.helpers import Server, git, wait_for

tiny_fs = test_faults.tiny_fs  # the fixture: a real 3 MiB tmpfs, mounted for the test


@contextmanager
def disk_full(mount: Path) -> Iterator[None]:
    """Fill ``mount`` to the last byte for the duration of the block."""
    filler = mount / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
        try:
            while True:  # the last partial block
                f.write(b"\0" * 512)
        except OSError:
            pass
    try:
        yield
    finally:
        filler.unlink()


def _no_space(r: httpx.Response) -> str:
    assert r.status_code == 507, (r.status_code, r.text)
    message: str = r.json()["error"]
    assert "No space left" in message, message
    return message


def _run_files(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "run").iterdir() if p.name != "tmux-event")


def _server(make_server: Callable[..., Server], mount: Path, short_dir: Path, **cfg: Any) -> Server:
    return make_server({"workspace_path": str(short_dir / "ws"), **cfg}, data_dir=mount / "d")


def test_config_change_on_a_full_disk_is_a_507_and_changes_nothing(
    make_server: Callable[..., Server],
    tiny_fs: Path,
    short_dir: Path,
) -> None:
    srv = _server(make_server, tiny_fs, short_dir)
    with srv.client() as c:
        before = c.get("/api/config").json()
        with disk_full(tiny_fs):
            r = c.post("/api/config", json={"terminal": {"width": 99}})
            assert "config.json" in _no_space(r)
            assert c.get("/api/config").json() == before
            on_disk = json.loads((srv.data_dir / "config.json").read_text())
            assert "terminal" not in on_disk
        assert c.post("/api/config", json={"terminal": {"width": 99}}).status_code == 200
        assert c.get("/api/config").json()["terminal"]["width"] == 99
    leftovers = [p.name for p in srv.data_dir.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_spawn_on_a_full_disk_is_a_507_and_leaves_no_launcher_or_log(
    make_server: Callable[..., Server],
    tiny_fs: Path,
    short_dir: Path,
) -> None:
    srv = _server(make_server, tiny_fs, short_dir)
    wid = srv.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]["workspace_id"]
    logs_before = sorted(p.name for p in (srv.data_dir / "logs").iterdir())
    with srv.client() as c, disk_full(tiny_fs):
        for targets in ({"sleeper": 1}, {"sleeper": 2, "shell": 1}):
            r = c.post("/api/spawn", json={"workspace_id": wid, "targets": targets})
            _no_space(r)
            assert _run_files(srv.data_dir) == []  # no empty launcher, no exit record
            assert sorted(p.name for p in (srv.data_dir / "logs").iterdir()) == logs_before
            ws = srv.workspace(wid)
            assert ws is not None and ws["session_count"] == 1
    assert len(srv.spawn(workspace_id=wid, targets={"sleeper": 1})) == 1
    assert srv.workspace(wid)["session_count"] == 2  # type: ignore[index]


def test_every_write_route_on_a_full_disk_is_a_507_with_the_reason(
    make_server: Callable[..., Server],
    tiny_fs: Path,
    short_dir: Path,
) -> None:
    srv = _server(make_server, tiny_fs, short_dir)
    first = srv.spawn(repo="proj", branch="main", targets={"sleeper": 2})
    sid, other = first[0]["session_id"], first[1]["session_id"]
    wid = first[0]["workspace_id"]
    ended = srv.spawn(workspace_id=wid, targets={"echo": 1})[0]["session_id"]
    wait_for(lambda: srv.session(ended)["running"] is False, timeout=10)  # type: ignore[index]
    spare = srv.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]
    with srv.client() as c:
        assert c.post(f"/api/dispose/{spare['session_id']}").status_code == 200
    spare_path = Path(srv.workspace(spare["workspace_id"])["path"])  # type: ignore[index]
    (spare_path / "work.txt").write_text("not committed\n")
    git(spare_path, "add", "work.txt")
    git(spare_path, "commit", "-q", "-m", "unpushed")

    def kept() -> tuple[Any, list[str]]:  # what the refused changes would touch
        st = srv.state()
        return st["sessions"], [w["id"] for w in st["workspaces"]]

    state_before = kept()
    run_before = _run_files(srv.data_dir)  # the ended session's exit record
    with srv.client() as c, disk_full(tiny_fs):
        attempts = [
            c.put(f"/api/sessions-nickname/{sid}", json={"nickname": "n"}),
            c.post(f"/api/sessions/{sid}/nudge", json={"state": "needs_input", "summary": "s"}),
            c.post(f"/api/dispose/{other}"),
            c.post(f"/api/sessions/{ended}/restart"),
            c.post(f"/api/dispose-workspace/{spare['workspace_id']}", json={"force": True}),
            c.post("/api/spawn", json={"repo": "proj", "branch": "b2", "targets": {"sleeper": 1}}),
            c.post("/api/config", json={"sessions": {"dashboard_debounce_ms": 100}}),
        ]
        for r in attempts:
            _no_space(r)
        assert kept() == state_before
        assert c.get("/api/disposed").json() == []
        assert srv.session(other) is not None
        assert spare_path.is_dir()  # not disposed: its snapshot could not be kept
        assert _run_files(srv.data_dir) == run_before
    # room again: the same changes go through
    with srv.client() as c:
        r = c.post(f"/api/dispose-workspace/{spare['workspace_id']}", json={"force": True})
        assert r.status_code == 200, r.text
        assert c.post(f"/api/dispose/{other}").status_code == 200
    assert srv.workspace(wid) is not None
    assert os.listdir(srv.data_dir / "trash")


def test_restore_on_a_full_disk_is_a_507_and_keeps_the_snapshot(
    make_server: Callable[..., Server], tiny_fs: Path, short_dir: Path
) -> None:
    srv = _server(make_server, tiny_fs, short_dir)
    item = srv.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]
    wid = item["workspace_id"]
    path = Path(srv.workspace(wid)["path"])  # type: ignore[index]
    with srv.client() as c:
        assert c.post(f"/api/dispose/{item['session_id']}").status_code == 200
        (path / "kept.txt").write_text("work\n")
        r = c.post(f"/api/dispose-workspace/{wid}", json={"force": True})
        assert r.status_code == 200, r.text
        snap = r.json()["snapshot_id"]
        with disk_full(tiny_fs):
            _no_space(c.post(f"/api/disposed/{snap}/restore"))
            assert [s["id"] for s in c.get("/api/disposed").json()] == [snap]
            assert srv.workspace(wid) is None and not path.exists()
        r = c.post(f"/api/disposed/{snap}/restore")
        assert r.status_code == 200, r.text
        restored = Path(srv.workspace(r.json()["workspace_id"])["path"])  # type: ignore[index]
        assert (restored / "kept.txt").read_text() == "work\n"
