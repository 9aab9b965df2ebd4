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
