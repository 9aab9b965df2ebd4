"""The data dir ``D`` (``--data-dir``) and how the app lays it out.

    D/config.json     the config (``backend.config``)
    D/state.json      workspaces and sessions (``backend.store``)
    D/logs/           a log per session, ``<id>.log`` and ``<id>.log.1`` (``backend.sessionlog``)
    D/run/            launchers, exit records, the event file (``backend.launcher``)
    D/repos/          bare clones shared by the worktrees of a repo (``backend.workspaces``)
    D/workspaces/     the workspaces, unless ``workspaces.path`` puts them elsewhere
    D/trash/          snapshots of disposed workspaces (``backend.trash``)
    D/tmux.sock       the app's own tmux server; ``D/tmux.conf`` its config (``backend.tmux``)

Every directory is private (0700). At start the app makes the missing ones and removes the temp
files a write killed midway (SIGKILL, power loss) left behind: it holds the data dir's lock, so no
one else is writing them, except a launcher writing its exit record in ``D/run`` that moment,
whose temp files go by age.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .fileio import prepare_dir, remove_stale_temps

RUN_TEMPS_OLDER_THAN = 60.0  # seconds: a launcher's exit record being written is younger


@dataclass
class Paths:
    data_dir: Path
    config: Path = field(init=False)
    state: Path = field(init=False)
    logs: Path = field(init=False)
    repos: Path = field(init=False)
    run: Path = field(init=False)
    tmux_socket: Path = field(init=False)
    tmux_conf: Path = field(init=False)
    trash: Path = field(init=False)

    def __post_init__(self) -> None:
        d = self.data_dir
        self.config = d / "config.json"
        self.state = d / "state.json"
        self.logs = d / "logs"
        self.repos = d / "repos"
        self.run = d / "run"
        self.tmux_socket = d / "tmux.sock"
        self.tmux_conf = d / "tmux.conf"
        self.trash = d / "trash"

    @property
    def default_workspaces(self) -> Path:
        return self.data_dir / "workspaces"


def lay_out(paths: Paths, workspace_path: Path) -> list[str]:
    """Make the data dir's directories (``DataDirError`` naming the one that cannot be made)
    and remove stale temp files; returns the names of those removed, relative to the data dir."""
    dirs = [paths.logs, paths.repos, paths.run]
    if workspace_path == paths.default_workspaces:
        dirs.append(workspace_path)
    for d in dirs:
        prepare_dir(d)
    return [
        *remove_stale_temps(paths.data_dir),
        *(f"trash/{n}" for n in remove_stale_temps(paths.trash)),
        *(f"repos/{n}" for n in remove_stale_temps(paths.repos)),
        *(f"run/{n}" for n in remove_stale_temps(paths.run, older_than=RUN_TEMPS_OLDER_THAN)),
    ]
