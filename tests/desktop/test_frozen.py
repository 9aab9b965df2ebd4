"""The PyInstaller app (packaging/schmux-desktop.spec), built once per run: self-test and window."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.desktop.conftest import Display, port_open, screenshot, window_titled
from tests.helpers import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def frozen_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("frozen")
    args = [
        str(ROOT / "scripts" / "build-app"),
        "--distpath",
        str(out / "dist"),
        "--workpath",
        str(out / "work"),
    ]
    if (ROOT / "backend" / "web" / "index.html").is_file():
        args.append("--skip-frontend")  # already built by the package install
    started = time.monotonic()
    build = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    print(f"frozen app built in {time.monotonic() - started:.0f} s: {build.stdout.strip()[-200:]}")
    app = out / "dist" / "schmux-desktop"
    yield app
    shutil.rmtree(out, ignore_errors=True)


def test_frozen_app_self_test_passes(frozen_app: Path) -> None:
    binary = frozen_app / "schmux-desktop"
    assert (frozen_app / "_internal" / "backend" / "web" / "index.html").is_file()
    out = subprocess.run(
        [str(binary), "--self-test"], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[-1] == "self-test passed"


def test_frozen_app_opens_the_window(
    frozen_app: Path, xdisplay: Display, desktop_app: Any, shots_dir: Path
) -> None:
    app = desktop_app("--demo", cmd=[str(frozen_app / "schmux-desktop")])
    window_titled(xdisplay, "schmux-desktop")
    main, url = app.page("/")
    main.wait("document.body.innerText.includes('demo')")
    shot = screenshot(xdisplay, shots_dir / "frozen-window.png")
    assert shot["colours"] >= 40, shot
    port = int(url.split(":")[2].split("/")[0])
    app.proc.send_signal(signal.SIGTERM)
    assert app.wait_exit(20) == 0, app.log()
    assert not port_open(port)
