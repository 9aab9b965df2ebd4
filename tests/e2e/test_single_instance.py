"""One app per data dir: a second launch is refused (or raises the window); a dead one never blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.helpers import ROOT, Server


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [sys.executable, "-m", "schmux_desktop", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=30, env=env or base,
    )  # fmt: skip


def test_second_serve_on_the_same_data_dir_is_refused(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    assert srv.proc is not None
    info = json.loads((srv.data_dir / "instance.lock").read_text())
    assert info == {"pid": srv.proc.pid, "mode": "serve", "url": srv.base + "/"}
    assert "token" not in json.dumps(info)

    r = run_cli("--serve", "--data-dir", str(srv.data_dir), "--token", "other-token-0123456789")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "already running" in lines[0] and f"pid {srv.proc.pid}" in lines[0], lines[0]
    assert srv.base in lines[0] and r.stdout == ""

    # A desktop launch on it cannot raise a window that is not there: it names the address.
    r = run_cli("--data-dir", str(srv.data_dir))
    assert r.returncode == 2 and "open that address in a browser" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

    # The first one is untouched, and another data dir is fine.
    assert srv.sessions() == []


def test_a_killed_server_does_not_block_the_next_one(make_server: Callable[..., Server]) -> None:
    srv = make_server()
    assert srv.proc is not None
    srv.proc.kill()  # SIGKILL: no clean-up; the kernel drops the flock with the process
    srv.proc.wait()
    srv.proc = None
    assert (srv.data_dir / "instance.lock").exists()  # stale file, no lock
    srv.start()
    assert srv.sessions() == []
    srv.stop()
    # Stopped cleanly: start again at once.
    srv.start()
    assert srv.sessions() == []


def test_missing_tmux_or_git_is_a_one_line_error(short_dir: Path) -> None:
    bindir = short_dir / "bin"
    bindir.mkdir()
    for tool, missing in (("git", "tmux"), ("tmux", "git")):
        for f in bindir.iterdir():
            f.unlink()
        real = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        (bindir / tool).symlink_to(real)
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env["PATH"] = str(bindir)
        for mode in (["--serve"], []):
            r = run_cli(*mode, "--data-dir", str(short_dir / "d"), env=env)
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 2 and len(lines) == 1, (mode, r.stderr)
            assert lines[0].startswith(f"schmux-desktop: error: {missing} is not installed"), lines
            assert r.stdout == ""
