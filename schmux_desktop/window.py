"""The desktop window (pywebview). Not built yet: see the desktop-app issue."""

from __future__ import annotations

import argparse
from pathlib import Path


def run_desktop(args: argparse.Namespace, data_dir: Path, token: str | None) -> int:
    from .cli import UsageError

    raise UsageError("the desktop window is not available in this build yet; run with --serve")
