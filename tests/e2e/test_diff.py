"""GET /api/diff/{workspace_id} on a real server, against real git checkouts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Server, git

FILE_KEYS = {"new_path", "status", "lines_added", "lines_removed", "binary", "truncated"}


def _workspace(server: Server, branch: str) -> tuple[str, Path]:
    item = server.spawn(repo="proj", branch=branch, targets={"sleeper": 1})[0]
    ws = server.workspace(item["workspace_id"])
    assert ws is not None
    return ws["id"], Path(ws["path"])


def _diff(server: Server, wid: str, **params: str) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(f"/api/diff/{wid}", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    for f in body["files"]:
        assert set(f) >= FILE_KEYS, f
    return body


def _by_path(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["new_path"]: f for f in body["files"]}


def test_working_tree_against_head_every_status(server: Server) -> None:
    """Modified, renamed (git mv), deleted, added (staged), binary (tracked and untracked),
    untracked, and a symbolic link that points outside the checkout."""
    wid, path = _workspace(server, "d-head")
    (path / "README.md").write_text("hello\nworld\n")
    (path / "gone.txt").write_text("one\ntwo\n")
    git(path, "add", "gone.txt")
    git(path, "commit", "-q", "-m", "gone")
    git(path, "mv", "src/app.py", "src/main.py")
    (path / "gone.txt").unlink()
    (path / "staged.txt").write_text("s1\ns2\ns3\n")
    git(path, "add", "staged.txt")
    (path / "img.bin").write_bytes(b"\x89PNG\0\0\x01binary")
    git(path, "add", "img.bin")
    (path / "loose.bin").write_bytes(b"\0\1\2")
    (path / "notes.md").write_text("a\nb")
    secret = path.parent / "outside-secret.txt"
    secret.write_text("TOP SECRET\n")
    os.symlink(secret, path / "link")

    body = _diff(server, wid)
    assert (body["workspace_id"], body["repo"], body["branch"]) == (
        wid,
        server.workspace(wid)["repo"],  # type: ignore[index]
        "d-head",
    )
    files = _by_path(body)
    assert files["README.md"] == {
        **files["README.md"],
        "status": "modified",
        "old_path": "README.md",
        "old_content": "hello\n",
        "new_content": "hello\nworld\n",
        "lines_added": 1,
        "lines_removed": 0,
        "binary": False,
    }
    assert files["src/main.py"]["status"] == "renamed"
    assert files["src/main.py"]["old_path"] == "src/app.py"
    assert files["src/main.py"]["old_content"] == files["src/main.py"]["new_content"]
    assert files["gone.txt"]["status"] == "deleted"
    assert files["gone.txt"]["old_content"] == "one\ntwo\n"
    assert "new_content" not in files["gone.txt"] and files["gone.txt"]["lines_removed"] == 2
    assert files["staged.txt"]["status"] == "added" and "old_path" not in files["staged.txt"]
    assert files["staged.txt"]["new_content"] == "s1\ns2\ns3\n"
    assert files["staged.txt"]["lines_added"] == 3
    for name in ("img.bin", "loose.bin"):
        assert files[name]["binary"] is True and files[name]["is_binary"] is True
        assert "new_content" not in files[name] and "old_content" not in files[name]
    assert files["img.bin"]["status"] == "added"
    assert files["loose.bin"]["status"] == "untracked"
    assert files["notes.md"]["status"] == "untracked"
    assert files["notes.md"]["new_content"] == "a\nb" and files["notes.md"]["lines_added"] == 2
    assert files["link"]["new_content"] == str(secret)  # the link's target, never the file
    assert "TOP SECRET" not in str(body)


def test_branch_base_holds_commits_and_uncommitted_work(server: Server) -> None:
    wid, path = _workspace(server, "d-branch")
    (path / "committed.txt").write_text("c\n")
    git(path, "add", "committed.txt")
    git(path, "commit", "-q", "-m", "work")
    (path / "README.md").write_text("changed\n")

    head = _by_path(_diff(server, wid))
    assert set(head) == {"README.md"}
    branch = _diff(server, wid, base="branch")
    assert branch["base"] == "branch"
    files = _by_path(branch)
    assert set(files) == {"README.md", "committed.txt"}
    assert files["committed.txt"]["status"] == "added"
    assert files["committed.txt"]["new_content"] == "c\n"


def test_a_thousand_changed_files_while_the_server_answers(server: Server) -> None:
    wid, path = _workspace(server, "d-many")
    for i in range(600):
        (path / f"t{i:04}.txt").write_text(f"line {i}\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "many")
    for i in range(600):
        (path / f"t{i:04}.txt").write_text(f"line {i}\nmore {i}\n")
    for i in range(400):
        (path / f"u{i:04}.txt").write_text(f"new {i}\n")

    slowest = 0.0
    done = threading.Event()

    def probe() -> None:
        nonlocal slowest
        with httpx.Client(base_url=server.base, timeout=30) as c:
            while not done.is_set():
                t = time.perf_counter()
                assert c.get("/api/healthz").status_code == 200
                slowest = max(slowest, time.perf_counter() - t)

    t = threading.Thread(target=probe)
    t.start()
    try:
        body = _diff(server, wid)
    finally:
        done.set()
        t.join()
    files = _by_path(body)
    assert len(files) == 1000
    assert files["t0599.txt"]["new_content"] == "line 599\nmore 599\n"
    assert files["t0599.txt"]["old_content"] == "line 599\n"
    assert files["u0399.txt"]["status"] == "untracked"
    assert slowest < 1.0, slowest  # the diff runs in a worker thread, not on the loop


def test_a_large_file_is_cut_at_a_line_end_and_flagged(server: Server) -> None:
    wid, path = _workspace(server, "d-large")
    line = "0123456789" * 10 + "\n"
    (path / "big.txt").write_text(line * 30_000)  # ~3 MB
    files = _by_path(_diff(server, wid))
    big = files["big.txt"]
    assert big["truncated"] is True and big["lines_added"] == 30_000
    assert 0 < len(big["new_content"]) <= 1 << 20 and big["new_content"].endswith("\n")


def test_unknown_workspace_bad_base_and_no_token(server: Server) -> None:
    wid, _ = _workspace(server, "d-errors")
    with server.client() as c:
        r = c.get("/api/diff/nope-001")
        assert r.status_code == 404 and "nope-001" in r.json()["error"]
        r = c.get(f"/api/diff/{wid}", params={"base": "tip"})
        assert r.status_code == 400 and "base" in r.json()["error"]
    assert httpx.get(f"{server.base}/api/diff/{wid}").status_code == 401


def test_branch_base_without_a_default_branch_is_a_409(server: Server) -> None:
    wid, path = _workspace(server, "d-orphan")
    git(path, "checkout", "-q", "--orphan", "lonely")
    git(path, "commit", "-q", "-m", "lonely")
    with server.client() as c:
        r = c.get(f"/api/diff/{wid}", params={"base": "branch"})
    assert r.status_code == 409 and "history in common" in r.json()["error"], r.text


def test_names_with_spaces_newlines_and_unicode(server: Server) -> None:
    wid, path = _workspace(server, "d-names")
    odd = "we ird\nname ✓.txt"
    (path / odd).write_text("x\n")
    git(path, "add", "--", odd)
    git(path, "commit", "-q", "-m", "odd")
    git(path, "mv", "--", odd, "renamed ✓ too.txt")
    (path / "tab\there.md").write_text("t\n")
    files = _by_path(_diff(server, wid))
    assert files["renamed ✓ too.txt"]["old_path"] == odd
    assert files["renamed ✓ too.txt"]["status"] == "renamed"
    assert files["tab\there.md"]["status"] == "untracked"
    branch = _by_path(_diff(server, wid, base="branch"))
    assert branch["renamed ✓ too.txt"]["status"] == "added"  # new since the fork
