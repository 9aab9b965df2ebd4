"""Everything long-lived, built once at startup and kept on the app: no globals."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import auth
from . import config as config_mod
from .attention import AttentionMonitor
from .broadcast import Broadcaster
from .config import Config, ConfigError
from .errors import BadRequest
from .events import ConfigChanged, EventBus
from .fileio import DataDirError, prepare_dir, remove_stale_temps
from .gitdirs import WorkspaceWatches
from .gitremote import GitRemote
from .launcher import EVENT_FILE, SessionEnv
from .models import workspace_payload
from .refresher import Refresher
from .registry import Registry
from .sessionlog import require_writer
from .sessions import SessionManager
from .spawner import Spawner, SpawnRequest
from .store import StateStore
from .tasks import TaskGroup
from .terminal import TerminalHub
from .tmux import Tmux
from .trash import Snapshot, Trash
from .watcher import ChangeWatcher
from .workspaces import Restored, ScanResult, WorkspaceManager

log = logging.getLogger(__name__)

__all__ = ["Paths", "Services", "Settings", "SpawnRequest"]

TRASH_PRUNE_SECONDS = 3600.0
WARM_UP_AFTER_SECONDS = 1.0  # after the start-up's own work (healthz answers in ~0.3 s)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    token: str | None = None  # None: --no-auth
    version: str = "0.0.0"
    static_dir: Path | None = None
    public_url: str = ""  # filled in once the server is bound


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


class Services:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.requests_in_flight = 0  # HTTP requests being answered (counted by the app)
        self.paths = Paths(settings.data_dir)
        self.public_url = settings.public_url
        self.events = EventBus()
        self.tickets = auth.Tickets()
        self.throttle = auth.FailureThrottle()
        self.config: Config = config_mod.load(self.paths.config, settings.data_dir)
        self.registry = Registry(StateStore(self.paths.state), self.events)
        self.tasks = TaskGroup()
        self.tmux = Tmux(self.paths.tmux_socket, self.paths.tmux_conf, tasks=self.tasks)
        self.trash = Trash(self.paths.trash, keep_days=lambda: self.config.snapshot_keep_days)
        self.git_remote = GitRemote()
        self.workspaces = WorkspaceManager(
            self.registry,
            self.events,
            repos_dir=self.paths.repos,
            config=lambda: self.config,
            trash=self.trash,
            remote=self.git_remote,
        )
        self.sessions = SessionManager(
            self.registry,
            self.tmux,
            logs_dir=self.paths.logs,
            run_dir=self.paths.run,
            env=lambda: SessionEnv(self.session_url, settings.token or ""),
        )
        self.terminals = TerminalHub(
            self.tmux,
            session=self.sessions.get,
            log_path=self.sessions.log_path,
            marked_by_launcher=lambda sid: self.sessions.exit_path(sid).exists(),
            polling=lambda: not self.watcher.active,
        )
        self.terminals.default_rows = self.config.terminal_height
        self.sessions.log_max = self.config.log_max_bytes
        self.attention = AttentionMonitor(self.sessions, self.tmux)
        self.broadcaster = Broadcaster(
            self.snapshot,
            lambda: self.config.to_dict(),
            debounce=lambda: self.config.dashboard_debounce_ms / 1000,
        )
        self.events.subscribe(self.broadcaster.on_event)
        self.events.subscribe(lambda _e: self.terminals.on_sessions_changed())
        self.watcher = ChangeWatcher(lambda key, names: self.refresher.on_fs_change(key, names))
        self.watches = WorkspaceWatches(self.watcher, lambda: self.registry.state.workspaces)
        self.refresher = Refresher(
            self.registry,
            sessions=self.sessions,
            attention=self.attention,
            config=lambda: self.config,
            watcher=self.watcher,
            unwatched=lambda: self.watches.unwatched,
            on_log_change=self.terminals.on_log_change,
            output_every=lambda: self.broadcaster.output_every,
        )
        self.spawner = Spawner(
            config=lambda: self.config,
            sessions=self.sessions,
            workspaces=self.workspaces,
            on_workspace=self.refresher.poke_git,
            on_session=self.refresher.poke_output,
        )
        self.spawn = self.spawner.spawn
        self.restart = self.spawner.restart
        self.poke_git = self.refresher.poke_git
        self.refresh_git = self.refresher.refresh_git
        self.started_at = time.time()
        self._prepared = False
        self._conf_changed = False

    @property
    def session_url(self) -> str:
        return self.public_url

    @property
    def git_passes(self) -> int:
        return self.refresher.git_passes

    # -- lifecycle ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Lay out the data dir before serving: its directories, tmux.conf, and no temp file
        that a write killed midway (SIGKILL, power loss) left behind. A problem raises
        ``DataDirError`` with one line naming the path (the CLI prints it and exits 2)."""
        if self._prepared:
            return
        require_writer()
        p = self.paths
        dirs = [p.logs, p.repos, p.run]
        if self.config.workspace_path == p.data_dir / "workspaces":
            dirs.append(self.config.workspace_path)
        for d in dirs:
            prepare_dir(d)
        # The app holds the data dir's lock: no one else writes these now. A launcher may be
        # writing its exit record in D/run this moment: those go by age (and in adopt()).
        stale = [
            *remove_stale_temps(p.data_dir),
            *(f"trash/{n}" for n in remove_stale_temps(p.trash)),
            *(f"repos/{n}" for n in remove_stale_temps(p.repos)),
            *(f"run/{n}" for n in remove_stale_temps(p.run, older_than=60.0)),
        ]
        if stale:
            log.info("removed %d stale temp file(s) in %s: %s", len(stale), p.data_dir, stale)
        try:
            self._conf_changed = self.tmux.write_conf(p.run / EVENT_FILE)
        except OSError as e:
            raise DataDirError(f"{p.tmux_conf}: cannot be written: {e.strerror or e}") from None
        self._prepared = True

    async def start(self) -> None:
        self.prepare()
        if self._conf_changed:
            await self.tmux.reload_conf()  # a server left running by an older app
        self.refresher.tmux_hooks = "set-hook" in self.paths.tmux_conf.read_text()
        await self.sessions.adopt()
        # tmux commands over one persistent client from now on; one-shot clients until it is up
        # (and always with SCHMUX_TMUX_CONTROL=0).
        if os.environ.get("SCHMUX_TMUX_CONTROL") != "0":
            self.tasks.spawn(self.tmux.start_control(), name="tmux-control-client")
        if self.watcher.start():
            self.watcher.watch_dir("logs", str(self.paths.logs))
            self.watcher.watch_dir("run", str(self.paths.run))
            self.events.subscribe(self.watches.sync)
            self.watches.sync()
        self.tasks.spawn(self.refresher.git_loop(), name="git-status-loop")
        self.tasks.spawn(self.refresher.session_loop(), name="session-loop")
        self.tasks.spawn(self._trash_loop(), name="trash-prune-loop")
        self.tasks.spawn(self._warm_up(), name="warm-up")

    async def _warm_up(self) -> None:
        """Import GitPython (~60-90 ms) in a worker thread once start-up is over, so that the
        first spawn of a workspace does not pay for it on the event loop."""
        await asyncio.sleep(WARM_UP_AFTER_SECONDS)
        await asyncio.to_thread(importlib.import_module, "backend.gitops")

    async def begin_shutdown(self, request_grace: float = 1.0) -> None:
        """Close every WebSocket with 1000 and let the HTTP requests being answered finish
        (for up to ``request_grace`` s) before the server stops accepting. A clone or fetch
        still running is killed first: a spawn waiting on a silent remote answers at once."""
        self.git_remote.close()
        self.terminals.close_all()
        await self.broadcaster.close_all(1000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request_grace
        while self.requests_in_flight and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.git_remote.close()
        self.broadcaster.shutdown()
        await self.broadcaster.close_all(1000, timeout=0.5)
        await self.tasks.close()
        self.watcher.close()
        self.tmux.close()

    # -- reads ----------------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        """The pinned payload, built from memory only (no git, no tmux)."""
        state = self.registry.state
        by_ws: dict[str, list[Any]] = {wid: [] for wid in state.workspaces}
        for s in state.sessions.values():
            by_ws.setdefault(s.workspace_id, []).append(s)
        prefix = self.tmux.attach_prefix
        return [
            workspace_payload(state.workspaces[wid], by_ws[wid], prefix)
            for wid in sorted(state.workspaces)
        ]

    def stats(self) -> dict[str, Any]:
        try:
            open_fds = len(os.listdir("/proc/self/fd"))
        except OSError:
            open_fds = -1
        rss_kb = 0
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
        return {
            "uptime_s": round(time.time() - self.started_at, 1),
            "workspaces": len(self.registry.state.workspaces),
            "sessions": len(self.registry.state.sessions),
            "dashboard_clients": len(self.broadcaster.clients),
            "terminal_viewers": sum(len(s.viewers) for s in self.terminals.streams.values()),
            "pushes": self.broadcaster.pushes,
            "git_passes": self.git_passes,
            "background_tasks": len(self.tasks),
            "asyncio_tasks": len(asyncio.all_tasks()),
            "asyncio_task_kinds": dict(
                collections.Counter(
                    getattr(t.get_coro(), "__qualname__", "?") for t in asyncio.all_tasks()
                ).most_common(5)
            ),
            "open_fds": open_fds,
            "rss_mb": round(rss_kb / 1024, 1),
            "file_watching": self.watcher.active,
        }

    # -- config ---------------------------------------------------------------------------

    def update_config(self, patch: Any) -> Config:
        """Merge ``patch`` into the config and save it; ``StorageError`` (507) when the disk
        refuses, and then nothing changed."""
        if not isinstance(patch, dict):
            raise BadRequest("the config body must be a JSON object")
        merged = config_mod.merge(self.config.raw, patch)
        try:
            new = config_mod.parse(merged, self.settings.data_dir)
        except ConfigError as e:
            raise BadRequest(f"invalid config: {e}") from e
        config_mod.save(self.paths.config, new)
        self.config = new
        self.sessions.log_max = new.log_max_bytes
        self.events.emit(ConfigChanged())
        return new

    # -- workspaces: scan, dispose, restore -------------------------------------------------

    async def scan_workspaces(self) -> ScanResult:
        """Reconcile with the disk; sessions of workspaces that vanished are ended for good
        (their tmux sessions and processes), not only dropped from the list."""
        result = await self.workspaces.scan()
        for s in result.dropped_sessions:
            await self.sessions.end(s)
        return result

    async def dispose_workspace(self, workspace_id: str, *, force: bool = False) -> Snapshot | None:
        return await self.workspaces.dispose(workspace_id, force=force)

    def disposed(self) -> list[dict[str, Any]]:
        days = self.config.snapshot_keep_days
        return [s.payload(days) for s in self.trash.newest_first()]

    async def restore(self, snapshot_id: str) -> Restored:
        restored = await self.workspaces.restore(snapshot_id)
        self.poke_git(restored.workspace.id)
        return restored

    async def _trash_loop(self) -> None:
        """Snapshots past ``workspaces.snapshot_keep_days`` are forgotten at start, then hourly."""
        while True:
            try:
                n = await self.workspaces.prune_trash()
                if n:
                    log.info(
                        "forgot %d expired snapshot%s of disposed workspaces", n, "s"[: n != 1]
                    )
            except Exception:
                log.exception("pruning expired snapshots failed")
            await asyncio.sleep(TRASH_PRUNE_SECONDS)
