"""``--self-test`` from source: the same check the frozen app runs in CI."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def test_self_test_passes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "schmux_desktop", "--self-test"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == "self-test passed"
    assert any("/ws/dashboard" in line for line in lines)
    assert any("spawned a shell session" in line for line in lines)
    assert "Traceback" not in out.stderr
