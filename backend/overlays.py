"""Overlays: files a person keeps in ``D/overlays/<repo name>/`` (``.env``, local settings, most
often files git ignores), copied into every new workspace of that repo and again on request.

Copying never writes outside the workspace: symbolic links in the overlay are skipped, a path
in the workspace whose parent is a link is skipped, and a link at the destination is replaced
by the file rather than written through. A ``.git`` entry in the overlay is never copied.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .config import Config


@dataclass(frozen=True)
class Copied:
    files: int
    skipped: tuple[str, ...]  # overlay paths not copied, each with why


class Overlays:
    def __init__(self, root: Path) -> None:
        self.root = root

    def dir_of(self, repo_name: str) -> Path:
        return self.root / repo_name

    def listing(self, config: Config) -> list[dict[str, object]]:
        """One entry per configured repo: where its overlay lives, and how many files it has."""
        out: list[dict[str, object]] = []
        for repo in config.repos:
            d = self.dir_of(repo.name)
            files = list(_files(d)) if d.is_dir() else []
            out.append(
                {
                    "repo_name": repo.name,
                    "path": str(d),
                    "exists": d.is_dir(),
                    "file_count": len(files),
                }
            )
        return out

    def copy_into(self, repo_name: str, workspace: Path) -> Copied:
        """Copy the repo's overlay into ``workspace`` (overwriting); nothing when it has none."""
        src = self.dir_of(repo_name)
        if not src.is_dir():
            return Copied(0, ())
        root = workspace.resolve()
        copied = 0
        skipped: list[str] = []
        for rel in _files(src):
            dest = workspace / rel
            parent = dest.parent.resolve()
            if parent != root and root not in parent.parents:
                skipped.append(f"{rel}: its folder in the workspace leads outside it")
                continue
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.is_symlink() or (dest.exists() and not dest.is_file()):
                    if dest.is_dir() and not dest.is_symlink():
                        skipped.append(f"{rel}: a folder of that name is in the workspace")
                        continue
                    dest.unlink()
                shutil.copy2(src / rel, dest, follow_symlinks=False)
                copied += 1
            except OSError as e:
                skipped.append(f"{rel}: {e.strerror or e}")
        return Copied(copied, tuple(skipped))


def _files(top: Path) -> list[Path]:
    """Regular files under ``top`` as relative paths (no links followed, ``.git`` left out)."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        base = Path(dirpath)
        for name in sorted(filenames):
            p = base / name
            if p.is_file() and not p.is_symlink():
                out.append(p.relative_to(top))
    return out
