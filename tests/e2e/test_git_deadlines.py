"""Git that hangs, hostile repo URLs and odd git output (issue 12): a real ``--serve``, real git,
and a real remote that accepts connections and never answers."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TARGETS
from tests.helpers import Server, git, make_repo, wait_for

TIMEOUT_MS = 1500


@pytest.fixture
def silent_remote() -> Iterator[int]:
    """A TCP listener that accepts every connection and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for c in held:
        c.close()
    listener.close()


def git_pids_for(port: int, data_dir: Path) -> list[str]:
    """Live git processes (and helpers) of the silent remote: those whose command line names
    it (clone, git-remote-http) and those working in the data dir (a fetch into a bare repo)."""
    out = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True)
    pids = set(out.stdout.split())
    root = str(data_dir.resolve())
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (proc / "comm").read_text().startswith("git") and os.readlink(
                proc / "cwd"
            ).startswith(root):
                pids.add(proc.name)
    return sorted(pids)


def silent_config(port: int, origin: Path, **sessions: int) -> dict[str, object]:
    return {
        "repos": [
            {"name": "silent", "url": f"git://127.0.0.1:{port}/x"},
            {"name": "silenthttp", "url": f"http://127.0.0.1:{port}/x.git"},
            {"name": "proj", "url": str(origin)},
        ],
        "run_targets": TARGETS,
        "sessions": {"git_clone_timeout_ms": TIMEOUT_MS, **sessions},
    }


def post_spawn(
    srv: Server, repo: str, branch: str, timeout: float = 60
) -> tuple[float, httpx.Response]:
    t0 = time.monotonic()
    r = httpx.post(
        srv.base + "/api/spawn",
        headers=srv.headers,
        json={"repo": repo, "branch": branch, "targets": {"sleeper": 1}},
        timeout=timeout,
    )
    return time.monotonic() - t0, r


@pytest.mark.parametrize("scm", ["git-worktree", "git"])
def test_silent_remote_times_out_and_blocks_no_one(
    make_server: Callable[..., Server], origin: Path, silent_remote: int, scm: str
) -> None:
    srv = make_server(silent_config(silent_remote, origin) | {"source_code_management": scm})
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        first = pool.submit(post_spawn, srv, "silent", "a")
        time.sleep(0.2)
        second = pool.submit(post_spawn, srv, "silent", "b")
        other = pool.submit(post_spawn, srv, "silenthttp", "c")
        time.sleep(0.2)
        local = pool.submit(post_spawn, srv, "proj", "d")
        took_local, r_local = local.result()
        took1, r1 = first.result()
        took2, r2 = second.result()
        took3, r3 = other.result()
    # a spawn of a working repo is not held behind the silent ones
    assert r_local.status_code == 200, r_local.text
    assert "session_id" in r_local.json()[0]
    assert took_local < 1.2, took_local
    for r in (r1, r2, r3):
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert "1.5 s" in err and "git_clone_timeout_ms" in err, err
    limit = TIMEOUT_MS / 1000
    assert limit - 0.2 < took1 < limit + 2.0, took1
    assert limit - 0.2 < took3 < limit + 2.0, took3  # another repo: its own deadline, in parallel
    assert took2 < 2 * limit + 2.5, took2  # the same repo: its own turn after the first's
    # git and its helpers were killed
    wait_for(lambda: git_pids_for(silent_remote, srv.data_dir) == [], timeout=10)
    # nothing half-made is left: no checkout, no temporary bare repo
    assert not list((srv.data_dir / "workspaces").glob("silent*"))
    assert [p.name for p in (srv.data_dir / "repos").iterdir()] == ["proj.git"] * (
        scm == "git-worktree"
    )
    assert srv.sessions() and all(w["repo"] == str(origin) for w in srv.sessions())


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signal_ends_the_app_while_git_hangs(
    make_server: Callable[..., Server], origin: Path, silent_remote: int, sig: str
) -> None:
    import signal

    srv = make_server(silent_config(silent_remote, origin) | {"sessions": {}})  # default 300 s
    pool = concurrent.futures.ThreadPoolExecutor(2)
    spawns = [pool.submit(post_spawn, srv, repo, "a") for repo in ("silent", "silenthttp")]
    assert srv.proc is not None
    proc = srv.proc

    def hanging() -> bool:  # the git:// fetch and the http one (git, git-remote-http)
        return len(git_pids_for(silent_remote, srv.data_dir)) >= 3

    deadline = time.monotonic() + 10
    while not hanging() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hanging(), "the spawns did not start git"
    t0 = time.monotonic()
    proc.send_signal(getattr(signal, sig))
    try:
        proc.wait(8)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the app did not exit within 8 s of {sig} while git hung")
    took = time.monotonic() - t0
    assert took < 5.0, took
    for f in spawns:
        f.result()  # answered or cut off, but finished
    pool.shutdown()
    wait_for(lambda: git_pids_for(silent_remote, srv.data_dir) == [], timeout=10)
    # and it starts again at once (not "already running")
    srv.proc = None
    srv.start()
    assert httpx.get(srv.base + "/api/healthz").status_code == 200


BAD_URLS = [
    "ext::sh -c touch% /tmp/pwned-schmux",
    "fd::17",
    "fd::0,1/x",
    "ftp://example.com/x.git",
    "foo::bar",
    "-uhello",
    "--upload-pack=touch /tmp/pwned-schmux",
    "ssh://-oProxyCommand=touch%20/tmp/pwned/x",
    "-oProxyCommand=x:y",
    "~nosuchuser-schmux/x",
]


def test_disallowed_transports_refused_in_config(server: Server) -> None:
    with server.client() as c:
        for url in BAD_URLS:
            r = c.post("/api/config", json={"repos": [{"name": "bad", "url": url}]})
            assert r.status_code == 400, (url, r.status_code, r.text)
            assert "repos[0].url" in r.json()["error"], r.text
        good = [
            "/abs/path",
            "rel/path",
            "file:///srv/x.git",
            "git://h/x",
            "ssh://u@h/x",
            "git@github.com:u/x.git",
            "h:x",
            "http://h/x.git",
            "https://h/x.git",
        ]
        for url in good:
            r = c.post("/api/config", json={"repos": [{"name": "ok", "url": url}]})
            assert r.status_code == 200, (url, r.text)
        assert "Traceback" not in server.stderr()
    assert not Path("/tmp/pwned-schmux").exists()


def test_disallowed_transport_refused_at_spawn_before_git_runs(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    marker = short_dir / "pwned"
    srv = make_server(start=False)
    # a config.json written by hand (or by another tool) with an ext:: URL
    srv.write_config(
        {
            "repos": [{"name": "evil", "url": f"ext::sh -c touch% {marker}"}],
            "run_targets": TARGETS,
        }
    )
    with pytest.raises(AssertionError):
        srv.start()  # refused at start: one line naming the key
    assert "repos[0].url" in srv.stderr()
    srv.write_config({"repos": [], "run_targets": TARGETS})
    srv.start()
    with srv.client() as c:
        r = c.post(
            "/api/spawn",
            json={"repo": f"ext::sh -c touch% {marker}", "branch": "a", "targets": {"shell": 1}},
        )
        assert r.status_code == 400, r.text
        assert "'ext' remote helper is not allowed" in r.json()["error"]
    assert not marker.exists()


def test_workspace_path_of_unknown_user_is_400(server: Server) -> None:
    with server.client() as c:
        r = c.post("/api/config", json={"workspace_path": "~nosuchuser-schmux/x"})
        assert r.status_code == 400, r.text
        assert "workspace_path" in r.json()["error"] and "nosuchuser" in r.json()["error"]
        assert c.get("/api/config").json()["workspace_path"] != "~nosuchuser-schmux/x"
    assert "Traceback" not in server.stderr()


def test_non_utf8_branch_names_never_break_scan(server: Server, short_dir: Path) -> None:
    ws = server.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]["workspace_id"]
    path = Path(server.workspace(ws)["path"])  # type: ignore[index]
    bare = server.data_dir / "repos" / "proj.git"
    head = git(path, "rev-parse", "HEAD")
    # a branch whose name is not UTF-8, in the shared repo, checked out in the workspace
    subprocess.run(["git", "update-ref", b"refs/heads/\xffx", head], cwd=bare, check=True)
    subprocess.run(["git", "symbolic-ref", "HEAD", b"refs/heads/\xffx"], cwd=path, check=True)
    # and a clone-mode-like checkout under the workspace path, on such a branch
    other = make_repo(Path(server.workspace(ws)["path"]).parent / "proj-077")  # type: ignore[index]
    git(other, "remote", "add", "origin", str(short_dir / "origin"))
    subprocess.run(["git", "update-ref", b"refs/heads/\xfey", "HEAD"], cwd=other, check=True)
    subprocess.run(["git", "symbolic-ref", "HEAD", b"refs/heads/\xfey"], cwd=other, check=True)
    with server.client() as c:
        for _ in range(3):
            r = c.post("/api/workspaces/scan")
            assert r.status_code == 200, r.text
        branch = server.workspace(ws)["branch"]  # type: ignore[index]
        assert branch and "x" in branch
        assert c.get("/api/sessions").status_code == 200
    assert "Traceback" not in server.stderr()


def test_fetch_cut_by_sigkill_leaves_nothing_after_the_next_try(
    make_server: Callable[..., Server], origin: Path, silent_remote: int
) -> None:
    import signal

    srv = make_server(silent_config(silent_remote, origin) | {"sessions": {}})
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pending = pool.submit(post_spawn, srv, "silent", "a")
    repos = srv.data_dir / "repos"
    deadline = time.monotonic() + 10
    while not git_pids_for(silent_remote, srv.data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert git_pids_for(silent_remote, srv.data_dir), "the spawn did not start git"
    srv.stop(signal.SIGKILL)
    with contextlib.suppress(httpx.HTTPError):
        pending.result()
    pool.shutdown()
    assert list(repos.glob(".silent.git.*.tmp"))  # the half-made bare repo of the cut fetch
    for pid in git_pids_for(silent_remote, srv.data_dir):  # the orphaned git of the killed app
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    srv.write_config(silent_config(silent_remote, origin))  # 1.5 s
    srv.start()
    _, r = post_spawn(srv, "silent", "a")
    assert r.status_code == 400 and "git_clone_timeout_ms" in r.json()["error"]
    assert not list(repos.glob(".silent.git.*"))


@pytest.mark.parametrize("scm", ["git-worktree", "git"])
def test_non_utf8_names_never_break_dispose(
    make_server: Callable[..., Server], origin: Path, scm: str
) -> None:
    srv = make_server({"source_code_management": scm})
    item = srv.spawn(repo="proj", branch="main", targets={"sleeper": 1})[0]
    with srv.client() as c:
        assert c.post(f"/api/dispose/{item['session_id']}", json={}).status_code == 200
    wid = item["workspace_id"]
    path = Path(srv.workspace(wid)["path"])  # type: ignore[index]
    # a local branch and an untracked file whose names are not UTF-8, and HEAD on that branch
    subprocess.run(["git", "checkout", "-q", "-b", b"\xffx"], cwd=path, check=True)
    (path / "extra.txt").write_text("new\n")
    git(path, "add", "extra.txt")
    git(path, "commit", "-q", "-m", "unpushed on a non-UTF-8 branch")
    with open(os.path.join(os.fsencode(path), b"\xfe.txt"), "wb") as f:
        f.write(b"untracked\n")
    with srv.client() as c:
        assert c.post("/api/workspaces/scan", json={}).status_code == 200
        r = c.post(f"/api/dispose-workspace/{wid}", json={})
        assert r.status_code == 409, r.text
        r = c.post(f"/api/dispose-workspace/{wid}", json={"force": True})
        assert r.status_code == 200, r.text
        [snap] = c.get("/api/disposed").json()
        r = c.post(f"/api/disposed/{snap['id']}/restore", json={})
        assert r.status_code == 200, r.text
        assert c.get("/api/sessions").status_code == 200
        back = Path(srv.workspace(r.json()["workspace_id"])["path"])  # type: ignore[index]
    # nothing was lost: the commit, the untracked file, and the branch under its own bytes
    assert (back / "extra.txt").read_text() == "new\n"
    assert os.path.exists(os.path.join(os.fsencode(back), b"\xfe.txt"))
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/heads"],
        cwd=back,
        capture_output=True,
        check=True,
    ).stdout
    assert b"refs/heads/\xffx\n" in refs
    assert "Traceback" not in srv.stderr()
