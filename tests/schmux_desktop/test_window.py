"""The desktop entry point's edges that need no display: clear one-line errors, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT


def run_desktop(data_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schmux_desktop", "--data-dir", str(data_dir), "--demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env.update(extra)
    return env


def test_no_display_is_a_one_line_error(short_dir: Path) -> None:
    out = run_desktop(short_dir / "d", clean_env())
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "schmux-desktop: error: no display: run with --serve, or set DISPLAY"
    )
    assert out.stdout == ""


def test_unreachable_display_is_a_one_line_error(short_dir: Path) -> None:
    out = run_desktop(short_dir / "d", clean_env(DISPLAY=":987"))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot open DISPLAY=:987" in lines[0], out.stderr
