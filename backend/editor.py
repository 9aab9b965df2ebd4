"""Opening a workspace in the person's editor, on the machine the server runs on.

In order: VS Code (``code`` on PATH); else ``$VISUAL`` or ``$EDITOR`` in a terminal window
(``x-terminal-emulator``, ``gnome-terminal``, ``konsole``, ``xterm``), when there is a display;
else the desktop's file manager (``xdg-open``, ``open`` on macOS), when there is a display.
The editor is started detached (its own session, no output kept) and not waited for.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from .errors import Conflict, NotFound

TERMINALS = ("x-terminal-emulator", "gnome-terminal", "konsole", "xterm")


def _has_display(env: Mapping[str, str]) -> bool:
    return sys.platform == "darwin" or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def editor_command(path: Path, env: Mapping[str, str] | None = None) -> list[str] | None:
    """The command that opens ``path``, or None when this machine offers none."""
    env = os.environ if env is None else env
    search = env.get("PATH", os.defpath)
    code = shutil.which("code", path=search)
    if code:
        return [code, "--new-window", str(path)]
    if not _has_display(env):
        return None
    editor = (env.get("VISUAL") or env.get("EDITOR") or "").strip()
    if editor:
        for term in TERMINALS:
            found = shutil.which(term, path=search)
            if found:
                return [found, "-e", *shlex.split(editor), str(path)]
    opener = shutil.which("open" if sys.platform == "darwin" else "xdg-open", path=search)
    return [opener, str(path)] if opener else None


def open_in_editor(path: Path) -> str:
    """Start the editor on ``path``; what was started, for a person. 404 when the folder is
    gone, 409 when this machine has no editor to offer."""
    if not path.is_dir():
        raise NotFound(f"the workspace folder {path} is missing (run a scan to reconcile)")
    cmd = editor_command(path)
    if cmd is None:
        raise Conflict(
            "no editor found: install VS Code's `code` command, or set $VISUAL or $EDITOR "
            "and run the server inside a desktop session"
        )
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as e:
        raise Conflict(f"could not start {cmd[0]}: {e.strerror or e}") from e
    threading.Thread(target=proc.wait, name="editor-reaper", daemon=True).start()  # no zombie
    return " ".join(shlex.quote(c) for c in cmd)
