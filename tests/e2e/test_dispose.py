"""Dispose loses nothing and leaves nothing: snapshots with restore (real git), and every process
of a disposed session ended (real tmux, real bash job control, setpgid and setsid children)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import Server, git, wait_for


def _post(server: Server, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    with server.client() as c:
        r = c.post(path, json=body if body is not None else {})
    return r.status_code, r.json()


def _disposed(server: Server) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get("/api/disposed")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _workspace_without_sessions(server: Server, branch: str) -> tuple[str, Path]:
    item = server.spawn(repo="proj", branch=branch, targets={"sleeper": 1})[0]
    assert _post(server, f"/api/dispose/{item['session_id']}")[0] == 200
    wid = item["workspace_id"]
    return wid, Path(server.workspace(wid)["path"])  # type: ignore[index]


def _status(path: Path) -> set[str]:
    return set(git(path, "status", "--porcelain=v1", "--untracked-files=all").splitlines())


# -- dispose never loses work -----------------------------------------------------------------


def test_force_dispose_keeps_a_snapshot_that_survives_a_restart_and_restores(
    make_server: Callable[..., Server], origin: Path
) -> None:
    server = make_server()
    wid, path = _workspace_without_sessions(server, "feature")
    (path / "c.txt").write_text("committed, never pushed\n")
    git(path, "add", "c.txt")
    git(path, "commit", "-q", "-m", "unpushed work")
    head = git(path, "rev-parse", "HEAD")
    (path / "README.md").write_text("changed by the agent\n")  # modified
    (path / "src" / "app.py").unlink()  # deleted
    (path / "notes").mkdir()
    (path / "notes" / "scratch.txt").write_text("untracked\n")  # untracked
    exclude = Path(git(path, "rev-parse", "--git-common-dir"))
    exclude = exclude if exclude.is_absolute() else path / exclude
    (exclude / "info").mkdir(exist_ok=True)
    (exclude / "info" / "exclude").write_text("*.log\n")
    (path / "build.log").write_text("ignored noise\n")  # ignored: not kept, not blocking
    before = _status(path)

    status, body = _post(server, f"/api/dispose-workspace/{wid}")
    assert status == 409, body
    assert (
        "uncommitted" in body["error"] and "1 commit on feature that is not pushed" in body["error"]
    )
    assert "force" in body["error"]
    assert path.is_dir() and _disposed(server) == []

    status, body = _post(server, f"/api/dispose-workspace/{wid}", {"force": True})
    assert status == 200, body
    assert not path.exists() and server.workspace(wid) is None
    [snap] = _disposed(server)
    assert snap["workspace_id"] == wid and snap["branch"] == "feature"
    assert snap["repo"] == str(origin)
    assert snap["files"] == 3 and snap["commits"] == 1 and snap["id"] == body["snapshot_id"]
    assert snap["disposed_at"].endswith("Z")

    # The branch lives on in the bare repo; move it so only the snapshot holds that commit.
    bare = server.data_dir / "repos" / "proj.git"
    git(bare, "branch", "-f", "feature", "origin/feature")
    git(bare, "gc", "-q", "--prune=now")

    server.stop()
    server.start()
    [again] = _disposed(server)
    assert again == snap

    status, body = _post(server, f"/api/disposed/{snap['id']}/restore")
    assert status == 200, body
    new = body["workspace_id"]
    w = server.workspace(new)
    assert w is not None
    restored = Path(w["path"])
    # 'feature' moved on meanwhile, so the work comes back on a branch named after it
    assert body["branch"] == w["branch"] == "feature-restored" and "feature" in body["message"]
    assert git(restored, "rev-parse", "HEAD") == head
    assert (restored / "c.txt").read_text() == "committed, never pushed\n"
    assert (restored / "README.md").read_text() == "changed by the agent\n"
    assert not (restored / "src" / "app.py").exists()
    assert (restored / "notes" / "scratch.txt").read_text() == "untracked\n"
    assert not (restored / "build.log").exists()
    assert _status(restored) == before
    assert _disposed(server) == []


def test_restore_gets_the_same_branch_back_and_409s_for_unknown_ids(server: Server) -> None:
    wid, path = _workspace_without_sessions(server, "feature")
    (path / "todo.txt").write_text("x\n")
    assert _post(server, f"/api/dispose-workspace/{wid}", {"force": True})[0] == 200
    [snap] = _disposed(server)
    status, body = _post(server, f"/api/disposed/{snap['id']}/restore")
    assert status == 200, body
    assert body["workspace_id"] == wid and body["branch"] == "feature" and body["message"] == ""
    assert (path / "todo.txt").read_text() == "x\n" and _status(path) == {"?? todo.txt"}
    assert _post(server, f"/api/disposed/{snap['id']}/restore")[0] == 404
    assert _post(server, "/api/disposed/../restore")[0] == 404
    status, body = _post(server, f"/api/dispose-workspace/{wid}", {"force": "yes"})
    assert status == 400 and "force" in body["error"]


def test_restore_onto_a_branch_now_used_by_another_workspace(server: Server) -> None:
    wid, path = _workspace_without_sessions(server, "feature")
    (path / "mine.txt").write_text("kept\n")
    assert _post(server, f"/api/dispose-workspace/{wid}", {"force": True})[0] == 200
    other = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]
    [snap] = _disposed(server)
    status, body = _post(server, f"/api/disposed/{snap['id']}/restore")
    assert status == 200, body
    assert body["workspace_id"] != other["workspace_id"]
    assert body["branch"] == "feature-restored"
    assert other["workspace_id"] in body["message"]
    w = server.workspace(body["workspace_id"])
    assert w is not None and (Path(w["path"]) / "mine.txt").read_text() == "kept\n"


def test_clone_mode_other_branches_and_stashes_block_and_are_kept(
    make_server: Callable[..., Server],
) -> None:
    server = make_server({"source_code_management": "git"})
    wid, path = _workspace_without_sessions(server, "feature")
    assert (path / ".git").is_dir()
    git(path, "checkout", "-q", "-b", "side")
    (path / "side.txt").write_text("side work\n")
    git(path, "add", "side.txt")
    git(path, "commit", "-q", "-m", "side work, never pushed")
    side = git(path, "rev-parse", "HEAD")
    git(path, "checkout", "-q", "feature")
    (path / "README.md").write_text("stashed change\n")
    git(path, "stash", "-q")
    assert _status(path) == set()  # clean, and HEAD's branch fully pushed

    status, body = _post(server, f"/api/dispose-workspace/{wid}")
    assert status == 409, body
    assert "1 commit" in body["error"] and "1 stash" in body["error"]

    status, body = _post(server, f"/api/dispose-workspace/{wid}", {"force": True})
    assert status == 200, body
    assert not path.exists()
    [snap] = _disposed(server)
    assert snap["commits"] == 1 and snap["stashes"] == 1
    assert (server.data_dir / "trash" / f"{snap['id']}.bundle").is_file()

    status, body = _post(server, f"/api/disposed/{snap['id']}/restore")
    assert status == 200, body
    restored = Path(server.workspace(body["workspace_id"])["path"])  # type: ignore[index]
    assert git(restored, "rev-parse", "--abbrev-ref", "HEAD") == "feature"
    assert git(restored, "rev-parse", "side") == side
    assert git(restored, "stash", "list").count("\n") == 0 and git(restored, "stash", "list")
    git(restored, "stash", "pop", "-q")
    assert (restored / "README.md").read_text() == "stashed change\n"
    assert not (server.data_dir / "trash" / f"{snap['id']}.bundle").exists()


def test_expired_snapshots_are_forgotten_at_start(make_server: Callable[..., Server]) -> None:
    server = make_server()
    wid, path = _workspace_without_sessions(server, "feature")
    (path / "old.txt").write_text("old\n")
    assert _post(server, f"/api/dispose-workspace/{wid}", {"force": True})[0] == 200
    [snap] = _disposed(server)
    bare = server.data_dir / "repos" / "proj.git"
    assert git(bare, "for-each-ref", "refs/schmux-trash/")
    server.stop()
    cfg = (server.data_dir / "config.json").read_text()
    server.write_config({**json.loads(cfg), "workspaces": {"snapshot_keep_days": 0}})
    server.start()
    wait_for(lambda: _disposed(server) == [], timeout=10)
    assert git(bare, "for-each-ref", "refs/schmux-trash/") == ""
    with server.client() as c:
        assert c.get("/api/config").json()["workspaces"]["snapshot_keep_days"] == 0
    assert snap["id"]


# -- dispose ends every process of the session ------------------------------------------------


def _pids_running(argv_word: str) -> list[int]:
    """Processes whose command line contains ``argv_word`` as one argument."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                words = f.read().split(b"\0")
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if argv_word.encode() in words and state != b"Z":
            found.append(int(name))
    return found


def _type(server: Server, session_id: str, line: str) -> None:
    sock = server.data_dir / "tmux.sock"
    name = "schmux-" + session_id
    subprocess.run(
        ["tmux", "-S", str(sock), "send-keys", "-t", f"={name}:", "-l", line], check=True
    )
    subprocess.run(["tmux", "-S", str(sock), "send-keys", "-t", f"={name}:", "Enter"], check=True)


def test_dispose_ends_processes_that_left_the_group_and_nothing_else(server: Server) -> None:
    tag = str(1000 + secrets.randbelow(8000))
    job, pgid, sid_child, other = (f"{tag}.{n}" for n in (1, 2, 3, 4))
    items = server.spawn(repo="proj", branch="feature", targets={"shell": 2})
    victim, bystander = items[0]["session_id"], items[1]["session_id"]
    # job control puts a background job in its own process group; the others leave by hand
    _type(server, victim, f"sleep {job} &")
    _type(
        server,
        victim,
        f"python3 -c 'import os,time; os.setpgid(0,0); time.sleep({pgid})' &",
    )
    _type(server, victim, f"setsid sleep {sid_child} &")
    _type(server, bystander, f"sleep {other} &")
    wait_for(lambda: all(_pids_running(w) for w in (job, sid_child, other)), timeout=10)
    wait_for(lambda: any(pgid in w for w in _cmd_words()), timeout=10)
    log = server.data_dir / "logs" / f"{victim}.log"
    wait_for(lambda: log.exists() and log.stat().st_size > 0, timeout=10)

    assert _post(server, f"/api/dispose/{victim}")[0] == 200
    # ended by the time the answer comes
    assert _pids_running(job) == []
    assert _pids_running(sid_child) == []
    assert not any(pgid in w for w in _cmd_words())
    assert _pids_running(other), "another session's process was touched"
    assert server.session(bystander)["running"] is True  # type: ignore[index]
    # its output is gone, as the dialog says
    assert not log.exists() and not log.with_name(log.name + ".1").exists()
    assert (server.data_dir / "logs" / f"{bystander}.log").exists()
    assert _post(server, f"/api/dispose/{bystander}")[0] == 200
    assert _pids_running(other) == []


def _cmd_words() -> list[str]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    out.append(f.read().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                pass
    return out


def test_scan_ends_the_sessions_of_a_vanished_workspace(server: Server) -> None:
    tag = f"{1000 + secrets.randbelow(8000)}.5"
    item = server.spawn(repo="proj", branch="feature", targets={"shell": 1})[0]
    sid = item["session_id"]
    path = Path(server.workspace(item["workspace_id"])["path"])  # type: ignore[index]
    _type(server, sid, f"setsid sleep {tag} &")
    wait_for(lambda: _pids_running(tag), timeout=10)
    shutil.rmtree(path)
    status, body = _post(server, "/api/workspaces/scan")
    assert status == 200 and [w["id"] for w in body["removed"]] == [item["workspace_id"]]
    sock = server.data_dir / "tmux.sock"
    has = subprocess.run(
        ["tmux", "-S", str(sock), "has-session", "-t", f"=schmux-{sid}"], capture_output=True
    )
    assert has.returncode != 0, "the dropped session's tmux session still runs"
    assert _pids_running(tag) == []
