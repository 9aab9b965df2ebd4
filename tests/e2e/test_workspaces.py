"""Workspaces on real git: branch handling, dispose safety, scan, clone mode."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from tests.helpers import Server, git, make_repo, wait_for


def _dispose(server: Server, wid: str) -> tuple[int, str]:
    with server.client() as c:
        r = c.post(f"/api/dispose-workspace/{wid}")
    return r.status_code, r.json().get("error", "")


def test_branch_handling_in_worktree_mode(server: Server, origin: Path) -> None:
    # remote branch → tracking branch
    w1 = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]["workspace_id"]
    p1 = Path(server.workspace(w1)["path"])  # type: ignore[index]
    assert git(p1, "rev-parse", "--abbrev-ref", "HEAD") == "feature"
    assert git(p1, "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/feature"
    # new branch → from the remote's default branch
    w2 = server.spawn(repo=str(origin), branch="brand-new", targets={"sleeper": 1})[0][
        "workspace_id"
    ]
    p2 = Path(server.workspace(w2)["path"])  # type: ignore[index]
    assert git(p2, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")
    assert (w1, w2) == ("proj-001", "proj-002")
    # the same branch again → 409
    with server.client() as c:
        r = c.post(
            "/api/spawn", json={"repo": "proj", "branch": "feature", "targets": {"sleeper": 1}}
        )
    assert r.status_code == 409 and "proj-001" in r.json()["error"]


def test_lowest_free_number_is_reused(server: Server) -> None:
    ids = [server.spawn(repo="proj", branch=f"b{i}", targets={"sleeper": 1})[0] for i in range(3)]
    with server.client() as c:
        c.post(f"/api/dispose/{ids[0]['session_id']}").raise_for_status()
        assert c.post("/api/dispose-workspace/proj-001").status_code == 200
    again = server.spawn(repo="proj", branch="b9", targets={"sleeper": 1})[0]
    assert again["workspace_id"] == "proj-001"


def test_dispose_refusals_name_each_reason(server: Server) -> None:
    item = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]
    wid, sid = item["workspace_id"], item["session_id"]
    path = Path(server.workspace(wid)["path"])  # type: ignore[index]

    status, error = _dispose(server, wid)
    assert status == 409 and "1 session" in error

    with server.client() as c:
        c.post(f"/api/dispose/{sid}").raise_for_status()

    (path / "README.md").write_text("changed\n")
    status, error = _dispose(server, wid)
    assert status == 409 and "modified" in error and "README.md" in error
    git(path, "add", "README.md")
    status, error = _dispose(server, wid)
    assert status == 409 and "staged" in error
    git(path, "reset", "-q", "--hard")

    (path / "notes.txt").write_text("x\n")
    status, error = _dispose(server, wid)
    assert status == 409 and "untracked" in error and "notes.txt" in error
    (path / "notes.txt").unlink()

    (path / "c.txt").write_text("c\n")
    git(path, "add", "c.txt")
    git(path, "commit", "-q", "-m", "unpushed work")
    status, error = _dispose(server, wid)
    assert status == 409 and "1 commit" in error and "not pushed" in error
    assert path.is_dir() and server.workspace(wid) is not None

    git(path, "push", "-q", "origin", "feature")
    status, error = _dispose(server, wid)
    assert status == 200, error
    assert not path.exists()
    assert server.workspace(wid) is None


def test_ignored_files_do_not_block_dispose(server: Server) -> None:
    wid = server.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]
    with server.client() as c:
        c.post(f"/api/dispose/{wid['session_id']}").raise_for_status()
    path = Path(server.workspace(wid["workspace_id"])["path"])  # type: ignore[index]
    exclude = Path(git(path, "rev-parse", "--git-common-dir"))
    if not exclude.is_absolute():
        exclude = path / exclude
    (exclude / "info").mkdir(exist_ok=True)
    (exclude / "info" / "exclude").write_text("*.log\n")
    (path / "build.log").write_text("noise\n")
    assert _dispose(server, wid["workspace_id"])[0] == 200


def test_scan_reconciles_with_disk(server: Server) -> None:
    a = server.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]
    b = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]
    path_a = Path(server.workspace(a["workspace_id"])["path"])  # type: ignore[index]
    path_b = Path(server.workspace(b["workspace_id"])["path"])  # type: ignore[index]
    shutil.rmtree(path_a)
    git(path_b, "checkout", "-q", "-b", "renamed-by-hand")
    bare = server.data_dir / "repos" / "proj.git"
    hand = server.data_dir / "workspaces" / "proj-042"
    git(bare, "worktree", "add", "-q", "-b", "hand", str(hand), "origin/main")
    with server.client() as c:
        r = c.post("/api/workspaces/scan")
    assert r.status_code == 200

    # schmux's shape: workspace objects, "updated" as old and new
    def w(wid: str, branch: str, path: Path) -> dict[str, str]:
        return {"id": wid, "repo": str(server_repo), "branch": branch, "path": str(path)}

    server_repo = server.workspace(b["workspace_id"])["repo"]  # type: ignore[index]
    assert r.json() == {
        "added": [w("proj-042", "hand", hand)],
        "removed": [w(a["workspace_id"], "main", path_a)],
        "updated": [
            {
                "old": w(b["workspace_id"], "feature", path_b),
                "new": w(b["workspace_id"], "renamed-by-hand", path_b),
            }
        ],
    }
    ids = {w["id"]: w for w in server.sessions()}
    assert set(ids) == {b["workspace_id"], "proj-042"}
    assert ids[b["workspace_id"]]["branch"] == "renamed-by-hand"
    assert ids["proj-042"]["branch"] == "hand"
    # a second scan finds nothing new
    with server.client() as c:
        assert c.post("/api/workspaces/scan").json() == {"added": [], "removed": [], "updated": []}


def test_clone_mode(make_server: Callable[..., Server], origin: Path) -> None:
    srv = make_server({"source_code_management": "git"})
    items = srv.spawn(repo="proj", branch="feature", targets={"sleeper": 1})
    wid = items[0]["workspace_id"]
    path = Path(srv.workspace(wid)["path"])  # type: ignore[index]
    assert (path / ".git").is_dir()  # a full clone, not a worktree
    assert git(path, "rev-parse", "--abbrev-ref", "HEAD") == "feature"
    # the same branch twice is fine with clones
    items2 = srv.spawn(repo="proj", branch="feature", targets={"sleeper": 1})
    assert items2[0]["workspace_id"] == "proj-002"
    new = srv.spawn(repo="proj", branch="fresh", targets={"sleeper": 1})[0]["workspace_id"]
    assert git(Path(srv.workspace(new)["path"]), "rev-parse", "--abbrev-ref", "HEAD") == "fresh"  # type: ignore[index]
    with srv.client() as c:
        c.post(f"/api/dispose/{items[0]['session_id']}").raise_for_status()
        assert c.post(f"/api/dispose-workspace/{wid}").status_code == 200
    assert not path.exists()


def test_git_status_numbers_reach_the_payload(server: Server) -> None:
    wid = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]["workspace_id"]
    path = Path(server.workspace(wid)["path"])  # type: ignore[index]
    (path / "README.md").write_text("hello\nmore\nlines\n")  # +2 -0 (hello kept)
    (path / "new.txt").write_text("a\nb\nc\n")  # untracked: +3
    (path / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)  # untracked binary
    with server.client() as c:
        c.post("/api/workspaces/scan")  # nothing to reconcile; the poll picks up status
    w = wait_for(
        lambda: (x := server.workspace(wid)) and x["git_files_changed"] == 3 and x, timeout=15
    )
    assert w["git_dirty"] is True
    assert (w["git_lines_added"], w["git_lines_removed"]) == (5, 0)


def test_branch_of_a_worktree_deleted_by_hand_can_be_spawned_again(server: Server) -> None:
    # git still has the deleted worktree registered (its path and its branch): the spawn
    # forgets the stale registration (no longer on every spawn: only when git refuses).
    server.spawn(repo="proj", branch="main", targets={"sleeper": 1})  # the bare clone
    bare = server.data_dir / "repos" / "proj.git"
    hand = server.data_dir / "by-hand"
    git(bare, "worktree", "add", "-q", "-b", "again", str(hand), "origin/main")
    shutil.rmtree(hand)
    second = server.spawn(repo="proj", branch="again", targets={"sleeper": 1})[0]
    path = Path(server.workspace(second["workspace_id"])["path"])  # type: ignore[index]
    assert git(path, "rev-parse", "--abbrev-ref", "HEAD") == "again"


def test_new_branch_starts_from_the_remotes_own_default_branch(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    # The default branch is asked for while the first fetch runs; neither main nor master here.
    trunk = make_repo(short_dir / "trunk-origin", branches=("trunk", "other"))
    git(trunk, "checkout", "-q", "trunk")
    git(trunk, "commit", "-q", "--allow-empty", "-m", "on trunk")
    git(trunk, "branch", "-q", "-D", "main")
    srv = make_server({"repos": [{"name": "t", "url": str(trunk)}]})
    w = srv.spawn(repo="t", branch="topic", targets={"sleeper": 1})[0]["workspace_id"]
    path = Path(srv.workspace(w)["path"])  # type: ignore[index]
    assert git(path, "rev-parse", "HEAD") == git(trunk, "rev-parse", "trunk")
    bare = srv.data_dir / "repos" / "t.git"
    assert git(bare, "symbolic-ref", "refs/remotes/origin/HEAD") == "refs/remotes/origin/trunk"


def test_new_branch_starts_from_what_the_remote_has_now(server: Server, origin: Path) -> None:
    # The second spawn of the repo: the bare clone exists, but the remote moved since its fetch.
    server.spawn(repo="proj", branch="first", targets={"sleeper": 1})
    git(origin, "commit", "-q", "--allow-empty", "-m", "main moved on")
    git(origin, "branch", "pushed-meanwhile")
    git(origin, "checkout", "-q", "-b", "pushed-meanwhile-2")
    git(origin, "commit", "-q", "--allow-empty", "-m", "on a new remote branch")
    git(origin, "checkout", "-q", "main")
    fresh = server.spawn(repo="proj", branch="fresh", targets={"sleeper": 1})[0]
    p = Path(server.workspace(fresh["workspace_id"])["path"])  # type: ignore[index]
    assert git(p, "rev-parse", "HEAD") == git(origin, "rev-parse", "main")
    assert git(p, "status", "--porcelain") == ""
    # a branch that appeared on the remote since the last fetch is tracked, not made anew
    tracked = server.spawn(repo="proj", branch="pushed-meanwhile-2", targets={"sleeper": 1})[0]
    p2 = Path(server.workspace(tracked["workspace_id"])["path"])  # type: ignore[index]
    assert git(p2, "rev-parse", "HEAD") == git(origin, "rev-parse", "pushed-meanwhile-2")
    assert git(p2, "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/pushed-meanwhile-2"


def test_a_failed_fetch_leaves_no_worktree_and_no_branch(server: Server, origin: Path) -> None:
    # The new branch's files are checked out while the fetch runs: a fetch that fails undoes it.
    server.spawn(repo="proj", branch="first", targets={"sleeper": 1})
    away = origin.with_name("origin-away")
    origin.rename(away)
    try:
        with server.client() as c:
            r = c.post(
                "/api/spawn", json={"repo": "proj", "branch": "doomed", "targets": {"sleeper": 1}}
            )
        assert r.status_code == 400 and "could not fetch" in r.json()["error"]
    finally:
        away.rename(origin)
    bare = server.data_dir / "repos" / "proj.git"
    assert "doomed" not in git(bare, "branch", "--list", "doomed")
    assert "doomed" not in git(bare, "worktree", "list")
    assert not (server.data_dir / "workspaces" / "proj-002").exists()
    again = server.spawn(repo="proj", branch="doomed", targets={"sleeper": 1})[0]
    assert again["workspace_id"] == "proj-002"
