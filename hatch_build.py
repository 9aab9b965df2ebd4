"""Hatch build hook: build the TypeScript frontend into backend/web before packaging.

Set SCHMUX_SKIP_FRONTEND_BUILD=1 to package whatever backend/web already holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class FrontendBuildHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        frontend = root / "frontend"
        if os.environ.get("SCHMUX_SKIP_FRONTEND_BUILD") == "1":
            return
        if not (frontend / "package.json").exists():
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "building schmux-desktop needs Node.js and npm for the dashboard frontend "
                "(install them, e.g. `apt-get install nodejs npm`)"
            )
        lock = frontend / "package-lock.json"
        install = [npm, "ci"] if lock.exists() else [npm, "install"]
        if not (frontend / "node_modules").exists():
            subprocess.run([*install, "--no-audit", "--no-fund"], cwd=frontend, check=True)
        subprocess.run([npm, "run", "build"], cwd=frontend, check=True)
