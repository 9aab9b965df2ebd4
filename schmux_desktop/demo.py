"""``--demo``: a small real git repo inside the data dir, registered as repo ``demo``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from backend.config import ConfigError
from backend.fileio import write_json_atomic

README = """# demo

A small repository created by `schmux-desktop --demo` so the dashboard has something real to show.
Spawn a `shell` session into it, edit a file, commit: the dashboard updates live.
"""

FILES = {
    "README.md": README,
    "hello.py": 'def hello(name: str) -> str:\n    return f"hello, {name}"\n\n\nif __name__ == "__main__":\n    print(hello("world"))\n',
    ".gitignore": "__pycache__/\n",
}


def _git(repo: Path, *args: str) -> None:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="schmux-desktop demo",
        GIT_AUTHOR_EMAIL="demo@schmux-desktop.invalid",
        GIT_COMMITTER_NAME="schmux-desktop demo",
        GIT_COMMITTER_EMAIL="demo@schmux-desktop.invalid",
    )
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def ensure_demo(data_dir: Path) -> bool:
    """Add the demo repo and a shell target when the config has no repos. True if added."""
    config_path = data_dir / "config.json"
    raw: dict[str, object] = {}
    if config_path.exists():
        try:
            loaded = json.loads(config_path.read_text(encoding="utf-8") or "{}")
        except json.JSONDecodeError as e:
            raise ConfigError(f"{config_path}: not valid JSON: {e.msg} (line {e.lineno})") from e
        if not isinstance(loaded, dict):
            raise ConfigError(f"{config_path}: the config must be a JSON object")
        raw = loaded
    if raw.get("repos"):
        return False
    repo = data_dir / "demo-repo"
    if not (repo / ".git").exists():
        repo.mkdir(parents=True, exist_ok=True)
        _git(repo, "init", "-q", "-b", "main")
        for name, text in FILES.items():
            (repo / name).write_text(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "Demo repository")
    raw["repos"] = [{"name": "demo", "url": str(repo)}]
    targets = raw.get("run_targets")
    target_list = list(targets) if isinstance(targets, list) else []
    if not any(isinstance(t, dict) and t.get("name") == "shell" for t in target_list):
        target_list.append({"name": "shell", "type": "command", "command": "bash"})
    raw["run_targets"] = target_list
    write_json_atomic(config_path, raw)
    return True
