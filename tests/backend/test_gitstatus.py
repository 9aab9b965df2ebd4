"""Tests for backend.gitstatus against real git repositories in tmp_path."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.gitstatus import (
    GIT_ENV,
    GitStatus,
    GitStatusError,
    git_env,
    read_all,
    read_status,
    run_git,
)

REAL_GIT = shutil.which("git") or "/usr/bin/git"


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No user/system git config, fixed identity, for both the helpers and the code under test."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    yield


def git(cwd: Path, *args: str) -> str:
    res = subprocess.run(
        [REAL_GIT, *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    return res.stdout


def make_repo(path: Path, files: dict[str, str | bytes] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    files = files if files is not None else {"README.md": "hello\nworld\n"}
    for name, content in files.items():
        write(path / name, content)
    if files:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
    return path


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))


def commit_file(repo: Path, name: str, content: str, msg: str = "change") -> None:
    write(repo / name, content)
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", msg)


@pytest.fixture
def origin_and_clone(tmp_path: Path) -> tuple[Path, Path]:
    origin = make_repo(tmp_path / "origin")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    return origin, clone


# --------------------------------------------------------------------------- basics


async def test_clean_repo_all_zero(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    st = await read_status(repo)
    assert st == GitStatus(branch="main")


async def test_clean_clone_all_zero(origin_and_clone: tuple[Path, Path]) -> None:
    _, clone = origin_and_clone
    assert await read_status(clone) == GitStatus(branch="main")


async def test_ignored_file_is_not_dirty(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {".gitignore": "*.log\nbuild/\n"})
    write(repo / "x.log", "noise\n")
    write(repo / "build" / "out.txt", "noise\n")
    assert await read_status(repo) == GitStatus(branch="main")


# --------------------------------------------------------------------------- ahead / behind


async def test_ahead_of_upstream(origin_and_clone: tuple[Path, Path]) -> None:
    _, clone = origin_and_clone
    commit_file(clone, "a.txt", "a\n")
    commit_file(clone, "b.txt", "b\n")
    st = await read_status(clone)
    assert (st.ahead, st.behind, st.dirty) == (2, 0, False)
    assert (st.lines_added, st.lines_removed, st.files_changed) == (0, 0, 0)


async def test_behind_upstream(origin_and_clone: tuple[Path, Path]) -> None:
    origin, clone = origin_and_clone
    commit_file(origin, "o.txt", "o\n")
    git(clone, "fetch", "-q")
    st = await read_status(clone)
    assert (st.ahead, st.behind, st.dirty) == (0, 1, False)


async def test_ahead_and_behind(origin_and_clone: tuple[Path, Path]) -> None:
    origin, clone = origin_and_clone
    commit_file(origin, "o1.txt", "o\n")
    commit_file(origin, "o2.txt", "o\n")
    commit_file(origin, "o3.txt", "o\n")
    commit_file(clone, "c.txt", "c\n")
    git(clone, "fetch", "-q")
    st = await read_status(clone)
    assert (st.ahead, st.behind) == (1, 3)


async def test_no_upstream_counts_against_origin_head(
    origin_and_clone: tuple[Path, Path],
) -> None:
    origin, clone = origin_and_clone
    git(clone, "switch", "-q", "-c", "feature", "--no-track")
    commit_file(clone, "f1.txt", "f\n")
    commit_file(clone, "f2.txt", "f\n")
    commit_file(origin, "o.txt", "o\n")
    git(clone, "fetch", "-q")
    assert git(clone, "rev-parse", "--abbrev-ref", "origin/HEAD").strip() == "origin/main"
    st = await read_status(clone)
    assert st.branch == "feature"
    assert (st.ahead, st.behind) == (2, 1)


async def test_gone_upstream_falls_back_to_origin_head(
    origin_and_clone: tuple[Path, Path],
) -> None:
    origin, clone = origin_and_clone
    git(origin, "branch", "topic")
    git(clone, "fetch", "-q")
    git(clone, "switch", "-q", "-c", "topic", "--track", "origin/topic")
    commit_file(clone, "t.txt", "t\n")
    git(origin, "branch", "-D", "topic")
    git(clone, "fetch", "-q", "--prune")
    st = await read_status(clone)
    assert (st.ahead, st.behind) == (1, 0)


async def test_no_remote_is_zero(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    commit_file(repo, "a.txt", "a\n")
    git(repo, "switch", "-q", "-c", "other")
    commit_file(repo, "b.txt", "b\n")
    st = await read_status(repo)
    assert (st.ahead, st.behind, st.branch) == (0, 0, "other")


async def test_remote_without_origin_head_is_zero(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    repo = make_repo(tmp_path / "r")
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "fetch", "-q", "origin")  # fetch does not create refs/remotes/origin/HEAD
    commit_file(repo, "x.txt", "x\n")
    st = await read_status(repo)
    assert (st.ahead, st.behind) == (0, 0)


# --------------------------------------------------------------------------- line counts


async def test_modified_file_exact_numbers(tmp_path: Path) -> None:
    original = "".join(f"line {i}\n" for i in range(1, 11))
    repo = make_repo(tmp_path / "r", {"f.txt": original, "other.txt": "x\n"})
    lines = original.splitlines(keepends=True)
    lines[2] = "changed 3\n"
    lines[3] = "changed 4\n"
    lines += ["new a\n", "new b\n", "new c\n"]
    write(repo / "f.txt", "".join(lines))
    st = await read_status(repo)
    assert st.dirty
    assert (st.lines_added, st.lines_removed, st.files_changed) == (5, 2, 1)


async def test_staged_only_change(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"f.txt": "a\nb\n"})
    write(repo / "f.txt", "a\nb\nc\nd\n")
    git(repo, "add", "f.txt")
    st = await read_status(repo)
    assert st.dirty
    assert (st.lines_added, st.lines_removed, st.files_changed) == (2, 0, 1)


async def test_staged_and_unstaged_combined_against_head(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"f.txt": "a\nb\n"})
    write(repo / "f.txt", "a\nb\nc\n")
    git(repo, "add", "f.txt")
    write(repo / "f.txt", "a\nc\nd\n")  # against HEAD: -b, +c, +d
    st = await read_status(repo)
    assert (st.lines_added, st.lines_removed, st.files_changed) == (2, 1, 1)


async def test_deleted_file_lines_removed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"gone.txt": "1\n2\n3\n4\n", "keep.txt": "k\n"})
    (repo / "gone.txt").unlink()
    st = await read_status(repo)
    assert st.dirty
    assert (st.lines_added, st.lines_removed, st.files_changed) == (0, 4, 1)


async def test_untracked_text_files_counted(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    write(repo / "new.txt", "a\nb\nc")  # no trailing newline: 3 lines
    write(repo / "nested" / "deep" / "x.txt", "x\n")  # 1 line, inside an untracked dir
    write(repo / "empty.txt", "")  # 0 lines, still a changed file
    st = await read_status(repo)
    assert st.dirty
    assert (st.lines_added, st.lines_removed, st.files_changed) == (4, 0, 3)


async def test_untracked_large_file_counted_in_chunks(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    n = 50_000
    write(repo / "big.txt", "".join(f"row {i:08d}\n" for i in range(n)))  # ~650 KB
    st = await read_status(repo)
    assert (st.lines_added, st.files_changed) == (n, 1)


async def test_untracked_binary_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    write(repo / "blob.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n\n\n")
    st = await read_status(repo)
    assert st.dirty
    assert (st.lines_added, st.lines_removed, st.files_changed) == (0, 0, 1)


async def test_untracked_unreadable_file_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "r")
    secret = repo / "secret.txt"
    write(secret, "a\nb\n")
    write(repo / "ok.txt", "ok\n")
    if os.geteuid() == 0:  # root reads mode-000 files: make opening it fail instead
        real_open = os.open

        def fake_open(path: str | bytes, flags: int, *args: int) -> int:
            if os.fsencode(path).endswith(b"secret.txt"):
                raise PermissionError(13, "Permission denied", path)
            return real_open(path, flags, *args)

        monkeypatch.setattr(os, "open", fake_open)  # what backend.gitstatus calls
    secret.chmod(0)
    try:
        st = await read_status(repo)
    finally:
        secret.chmod(0o644)
    assert st.dirty
    assert (st.lines_added, st.files_changed) == (1, 2)


async def test_binary_tracked_change(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"img.bin": b"\x00\x01\x02binary\n", "t.txt": "t\n"})
    write(repo / "img.bin", b"\x00\x01\x03binary changed\n\x00")
    st = await read_status(repo)
    assert st.dirty
    assert (st.lines_added, st.lines_removed, st.files_changed) == (0, 0, 1)


async def test_filenames_with_spaces_unicode_and_newlines(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"dir with space/ünïcödé file.txt": "a\nb\n", "to be renamed.txt": "r\nr\nr\n"},
    )
    write(repo / "dir with space/ünïcödé file.txt", "a\nB\nc\n")  # +2 -1
    git(repo, "mv", "to be renamed.txt", "renamed → ok.txt")  # rename, no content change
    write(repo / "new\nline name.txt", "x\ny\n")  # untracked, +2
    write(repo / "tab\tand space .txt", "z\n")  # untracked, +1
    st = await read_status(repo)
    assert st.dirty
    assert (st.lines_added, st.lines_removed) == (5, 1)
    # the rename is one file when rename detection is on (git's default for `git diff`)
    assert st.files_changed == 4


# --------------------------------------------------------------------------- special HEADs


async def test_unborn_head_everything_added(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {})
    write(repo / "staged.txt", "1\n2\n3\n")
    git(repo, "add", "staged.txt")
    write(repo / "staged.txt", "1\n2\n3\n4\n")  # working tree wins: 4 lines
    write(repo / "untracked.txt", "u\nv\n")
    st = await read_status(repo)
    assert st.revision  # dirty: a fingerprint of the changed files
    assert dataclasses.replace(st, revision="") == GitStatus(
        ahead=0,
        behind=0,
        dirty=True,
        lines_added=6,
        lines_removed=0,
        files_changed=2,
        branch="main",
    )


async def test_unborn_head_empty_repo(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {})
    assert await read_status(repo) == GitStatus(branch="main")


async def test_unborn_head_only_untracked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {})
    write(repo / "a.txt", "a\n")
    st = await read_status(repo)
    assert (st.dirty, st.lines_added, st.files_changed) == (True, 1, 1)


async def test_detached_head_branch_none(origin_and_clone: tuple[Path, Path]) -> None:
    origin, clone = origin_and_clone
    commit_file(origin, "o.txt", "o\n")
    git(clone, "fetch", "-q")
    git(clone, "checkout", "-q", "--detach", "HEAD")  # one behind origin/main
    st = await read_status(clone)
    assert st.branch is None
    assert (st.ahead, st.behind) == (0, 1)


async def test_detached_head_no_remote(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    git(repo, "checkout", "-q", "--detach")
    assert await read_status(repo) == GitStatus(branch=None)


# --------------------------------------------------------------------------- errors, read_all


async def test_not_a_repo_raises(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitStatusError, match="not a git repository"):
        await read_status(plain)


async def test_run_git_output_and_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    assert (await run_git(repo, "rev-parse", "--abbrev-ref", "HEAD")).strip() == "main"
    with pytest.raises(GitStatusError) as info:
        await run_git(repo, "rev-parse", "--verify", "no-such-ref")
    msg = str(info.value)
    assert "git rev-parse" in msg and str(repo) in msg and "fatal" in msg


async def test_read_all_mixed(tmp_path: Path) -> None:
    good1 = make_repo(tmp_path / "good1")
    good2 = make_repo(tmp_path / "good2")
    write(good2 / "u.txt", "u\n")
    bad = tmp_path / "not-a-repo"
    bad.mkdir()
    missing = tmp_path / "missing"
    res = await read_all([good1, bad, good2, missing], concurrency=2)
    assert list(res) == [good1, bad, good2, missing]
    assert res[good1] == GitStatus(branch="main")
    st2 = res[good2]
    assert isinstance(st2, GitStatus) and st2.dirty and st2.lines_added == 1
    assert isinstance(res[bad], GitStatusError)
    assert "not a git repository" in str(res[bad])
    assert isinstance(res[missing], GitStatusError)


async def test_read_all_empty() -> None:
    assert await read_all([]) == {}


def test_git_env_overrides_and_is_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHMUX_TEST_MARKER", "one")
    monkeypatch.setenv("GIT_DIR", "/elsewhere/.git")
    for env in (GIT_ENV, git_env()):
        assert env["GIT_OPTIONAL_LOCKS"] == "0"
        assert env["LC_ALL"] == "C"
        assert env["GIT_TERMINAL_PROMPT"] == "0"
        assert env["SCHMUX_TEST_MARKER"] == "one"
        assert "GIT_DIR" not in env
    monkeypatch.setenv("SCHMUX_TEST_MARKER", "two")
    assert GIT_ENV["SCHMUX_TEST_MARKER"] == "two"


# --------------------------------------------------------------------------- hangs / timeouts


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie no one has reaped yet is dead for our purposes
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _fake_git_dir(tmp_path: Path, *, hang_if_path_contains: str | None) -> tuple[Path, Path]:
    """A dir holding a `git` that hangs (spawning a child too), writing pids to a file."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    pidfile = tmp_path / "pids"
    pidfile.touch()
    hang = f'sleep 30 &\necho $$ >> "{pidfile}"\necho $! >> "{pidfile}"\nwait\n'
    if hang_if_path_contains is None:
        body = hang
    else:
        body = (
            f'case "$2" in\n  *{hang_if_path_contains}*)\n{hang}    ;;\nesac\n'
            f'exec "{REAL_GIT}" "$@"\n'
        )
    script = bindir / "git"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return bindir, pidfile


def _assert_all_dead(pidfile: Path) -> None:
    pids = [int(x) for x in pidfile.read_text().split()]
    assert pids, "the fake git never ran"
    deadline = time.monotonic() + 3.0
    while any(_pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if _pid_alive(p)], "git (or its child) left running"


async def test_hung_git_times_out_and_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path / "r")
    bindir, pidfile = _fake_git_dir(tmp_path, hang_if_path_contains=None)
    real_path = os.environ["PATH"]
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{real_path}")

    t0 = time.monotonic()
    res = await read_all([repo], timeout=0.5)
    elapsed = time.monotonic() - t0
    assert elapsed < 5.0
    err = res[repo]
    assert isinstance(err, GitStatusError)
    assert "timed out after 0.5 s" in str(err) and str(repo) in str(err)
    _assert_all_dead(pidfile)

    monkeypatch.setenv("PATH", real_path)
    res = await read_all([repo], timeout=5.0)
    assert res[repo] == GitStatus(branch="main")


async def test_hung_repo_does_not_stall_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hung = make_repo(tmp_path / "hangme")
    goods = [make_repo(tmp_path / f"good{i}") for i in range(4)]
    bindir, pidfile = _fake_git_dir(tmp_path, hang_if_path_contains="hangme")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")

    t0 = time.monotonic()
    res = await read_all([hung, *goods], concurrency=1, timeout=1.0)
    assert time.monotonic() - t0 < 5.0
    assert isinstance(res[hung], GitStatusError)
    for g in goods:
        assert res[g] == GitStatus(branch="main")
    _assert_all_dead(pidfile)


async def test_run_git_timeout_kills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir, pidfile = _fake_git_dir(tmp_path, hang_if_path_contains=None)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(GitStatusError, match=r"git status timed out after 0\.3 s"):
        await run_git(tmp_path, "status", timeout=0.3)
    _assert_all_dead(pidfile)


async def test_cancellation_kills_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r")
    bindir, pidfile = _fake_git_dir(tmp_path, hang_if_path_contains=None)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(read_status(repo, timeout=30.0), 0.5)
    _assert_all_dead(pidfile)


async def test_git_missing_from_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r")
    empty = tmp_path / "emptybin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    res = await read_all([repo])
    assert isinstance(res[repo], GitStatusError)
    assert "not found" in str(res[repo])


async def test_read_all_rejects_bad_concurrency(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        await read_all([tmp_path], concurrency=0)


async def test_read_all_many_concurrent(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    clones = []
    for i in range(12):
        c = tmp_path / f"c{i}"
        git(tmp_path, "clone", "-q", str(origin), str(c))
        if i % 2:
            write(c / "README.md", "hello\nthere\nworld\n")
        clones.append(c)
    res = await read_all(clones, concurrency=16, timeout=20.0)
    for i, c in enumerate(clones):
        st = res[c]
        assert isinstance(st, GitStatus)
        assert st.dirty == bool(i % 2)
        assert (st.lines_added, st.files_changed) == ((1, 1) if i % 2 else (0, 0))


# --------------------------------------------------------------------------- revision


async def test_revision_moves_with_an_edit_that_keeps_the_counts(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"f.txt": "hello\n"})
    assert (await read_status(repo)).revision == ""  # clean: nothing to fingerprint
    write(repo / "f.txt", "hello world\n")
    first = await read_status(repo)
    write(repo / "f.txt", "hello there\n")  # still +1 -1 in one file
    second = await read_status(repo)
    assert (first.lines_added, first.lines_removed, first.files_changed) == (1, 1, 1)
    assert (second.lines_added, second.lines_removed, second.files_changed) == (1, 1, 1)
    assert first.revision and second.revision and first.revision != second.revision
    assert (await read_status(repo)).revision == second.revision  # no edit: the same token
    write(repo / "new.txt", "a\n")
    third = await read_status(repo)
    write(repo / "new.txt", "b\n")  # an untracked file edited, same line count
    assert (await read_status(repo)).revision != third.revision
    git(repo, "add", "f.txt")  # staged: the status letters change
    assert (await read_status(repo)).revision not in (third.revision, second.revision)
