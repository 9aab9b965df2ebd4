"""The launcher files: a valid desktop entry, its icon, both shipped in the app and the wheel."""

from __future__ import annotations

import configparser
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from schmux_desktop.resources import icon_file
from tests.helpers import ROOT

PACKAGING = ROOT / "packaging"


def test_desktop_entry_names_the_command_and_an_icon_that_exists() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(PACKAGING / "schmux-desktop.desktop", encoding="utf-8")
    e = entry["Desktop Entry"]
    assert e["Type"] == "Application" and e["Name"] == "schmux-desktop"
    assert e["Exec"].split()[0] == "schmux-desktop"  # the console script / the app's symlink
    assert e["Terminal"] == "false" and e["Categories"].endswith(";")
    icon = e["Icon"]
    assert (PACKAGING / "icons" / f"{icon}.svg").is_file()
    png = (PACKAGING / "icons" / f"{icon}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (256, 256)
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate is not installed (the checks above ran)")
    out = subprocess.run([validate, str(PACKAGING / "schmux-desktop.desktop")], capture_output=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_window_icon_is_found_and_packaged() -> None:
    found = icon_file()
    assert (
        found is not None
        and found.read_bytes() == (PACKAGING / "icons" / "schmux-desktop.png").read_bytes()
    )
    spec = (PACKAGING / "schmux-desktop.spec").read_text()
    assert '"schmux_desktop/icons"' in spec and "schmux-desktop.desktop" in spec
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"packaging/icons" = "schmux_desktop/icons"' in pyproject


def test_icon_path_in_a_frozen_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    icons = tmp_path / "schmux_desktop" / "icons"
    icons.mkdir(parents=True)
    (icons / "schmux-desktop.png").write_bytes(b"png")
    monkeypatch.setattr("sys._MEIPASS", str(tmp_path), raising=False)
    assert icon_file() == icons / "schmux-desktop.png"
