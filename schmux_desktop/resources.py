"""Find the bundled frontend files, from a source checkout, an installed wheel or a frozen app."""

from __future__ import annotations

import sys
from pathlib import Path


def static_dir() -> Path | None:
    candidates: list[Path] = []
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.append(Path(frozen_root) / "backend" / "web")
    import backend

    candidates.append(Path(backend.__file__).resolve().parent / "web")
    for c in candidates:
        if (c / "index.html").is_file():
            return c
    return None


ICON_NAME = "schmux-desktop.png"


def icon_file() -> Path | None:
    """The app icon (PNG: Qt reads it without its SVG plugin), if this install has it."""
    here = Path(__file__).resolve().parent
    candidates = [here / "icons" / ICON_NAME]  # a wheel, or a frozen app
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.insert(0, Path(frozen_root) / "schmux_desktop" / "icons" / ICON_NAME)
    candidates.append(here.parent / "packaging" / "icons" / ICON_NAME)  # a source checkout
    return next((c for c in candidates if c.is_file()), None)
