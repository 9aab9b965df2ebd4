"""glibc's malloc thresholds (schmux_desktop/heap.py); the speed it buys is measured by
``bench/bench_hosts.py scale``, not here."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from schmux_desktop import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_the_thresholds_are_set_on_glibc() -> None:
    code = "from schmux_desktop.heap import tune_malloc; print(tune_malloc())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_nothing_is_changed_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert heap.tune_malloc() is False
