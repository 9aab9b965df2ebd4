"""The composition root: everything long-lived, built once at startup and kept on the app (no
globals), wired together, started and stopped. The work is done by the parts it builds: use cases
in ``spawner`` and ``refresher``, the domain in the managers."""

from __future__ import annotations

import asyncio
import collections
import importlib
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import auth, hostids, wire
from . import config as config_mod
from .agents import AgentDetector
from .attention import AttentionMonitor
from .broadcast import Broadcaster
from .config import Config
from .conflicts import ConflictForecast
from .datadir import Paths, lay_out
from .diffs import Differ
from .events import Change, ConfigChanged, EventBus, SessionsChanged
from .fileio import DataDirError
from .gitdirs import WorkspaceWatches
from .gitremote import GitRemote
from .hosts import Hosts
from .launcher import EVENT_FILE, SessionEnv
from .models import snapshot_payload
from .overlays import Overlays
from .procs import own_usage
from .refresher import Refresher
from .registry import Registry
from .reviewer import Reviewer
from .sessionlog import require_writer
from .sessions import SessionManager
from .spawner import Spawner
from .store import StateStore
from .tasks import TaskGroup
from .terminal import TerminalHub
from .tmux import Tmux
from .trash import Trash
from .watcher import ChangeWatcher
from .workspaces import Restored, ScanResult, WorkspaceManager

log = logging.getLogger(__name__)

WARM_UP_AFTER_SECONDS = 1.0
HOST_READ_TIMEOUT = 3.0  # a list gathered from the hosts leaves out those slower than this
SNAPSHOT_IDS = frozenset(
    {"id", "workspace_id"}
)  # after the start-up's own work (healthz answers in ~0.3 s)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    token: str | None = None  # None: --no-auth
    version: str = "0.0.0"
    static_dir: Path | None = None
    public_url: str = ""  # filled in once the server is bound


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
        self.diffs = Differ(timeout=self.config.git_status_timeout_ms / 1000)
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
        self.reviews = Reviewer(
            self.registry,
            self.tmux,
            clear_nudge=self.sessions.clear_nudge,
            workspaces=lambda: self.registry.state.workspaces,
        )
        self.attention = AttentionMonitor(self.sessions, self.tmux)
        self.broadcaster = Broadcaster(
            self.snapshot_json,
            lambda: self.config.to_dict(),
            debounce=lambda: self.config.dashboard_debounce_ms / 1000,
            hosts=lambda: self.hosts.statuses(),
        )
        self.events.subscribe(self.broadcaster.on_event)
        # A host's push went through its own debounce: it is passed on at once.
        self.hosts = Hosts(
            self.tasks,
            on_sessions=self.broadcaster.request_remote,
            on_state=self.broadcaster.push_hosts,
        )
        self.conflicts = ConflictForecast(
            lambda: self.registry.state.workspaces,
            lambda: self.events.emit(SessionsChanged("conflict forecast", Change.BACKGROUND)),
            timeout=lambda: self.config.git_status_timeout_ms / 1000,
        )
        self.events.subscribe(self.conflicts.on_event)
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
            git_changed=self._git_changed,
        )
        self.agents = AgentDetector()
        self.overlays = Overlays(settings.data_dir / "overlays")
        self.spawner = Spawner(
            # agents found on PATH are promptable targets too
            config=lambda: self.agents.with_detected(self.config),
            prepare_workspace=self.overlays.copy_into,
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

    def _git_changed(self, ids: Iterable[str]) -> None:
        """Workspaces whose files or git state may have moved: survey and re-anchor them."""
        ids = set(ids)
        self.conflicts.mark(ids)
        self.reviews.mark_changed(ids)

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
        stale = lay_out(p, self.config.workspace_path)
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
        self.tasks.spawn(self.conflicts.run(), name="conflict-forecast")
        self.tasks.spawn(self.reviews.run(), name="review-anchors")
        self.tasks.spawn(self.refresher.session_loop(), name="session-loop")
        self.tasks.spawn(
            self.refresher.prune_loop(self.workspaces.prune_trash), name="trash-prune-loop"
        )
        self.tasks.spawn(self._warm_up(), name="warm-up")
        self.hosts.apply(self.config.hosts)

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
        self.hosts.close()
        self.git_remote.close()
        self.broadcaster.shutdown()
        await self.broadcaster.close_all(1000, timeout=0.5)
        await self.tasks.close()
        self.watcher.close()
        self.tmux.close()

    # -- reads ----------------------------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        """The pinned payload, built from memory only (no git, no tmux)."""
        out = self._local_snapshot()
        if len(self.hosts):  # every host's last workspaces, ids prefixed: one order by id
            out = sorted(out + self.hosts.workspaces(), key=lambda w: str(w["id"]))
        return out

    def snapshot_json(self) -> str:
        """``snapshot()`` as JSON text: each host's workspaces encoded once per host push, not
        once per push (1,000 workspaces of 10 hosts: ~8 ms a push, against the changed
        host's ~1 ms)."""
        if not len(self.hosts):
            return wire.encode(self._local_snapshot())
        return hostids.merged_json(self._local_snapshot(), self.hosts.encoded())

    def _local_snapshot(self) -> list[dict[str, Any]]:
        state = self.registry.state
        out = snapshot_payload(state.workspaces, state.sessions.values(), self.tmux.attach_prefix)
        reviews = self.reviews.summary()
        for w in out:  # from caches: the forecast's last answer, the rounds kept in the state
            w["conflicts"] = self.conflicts.of(w["id"])
            rounds, pending, open_ = reviews.get(w["id"], (0, 0, 0))
            w["review_rounds"], w["review_pending"], w["review_open"] = rounds, pending, open_
        return out

    def stats(self) -> dict[str, Any]:
        open_fds, rss_mb = own_usage()
        return {
            "uptime_s": round(time.time() - self.started_at, 1),
            "workspaces": len(self.registry.state.workspaces),
            "sessions": len(self.registry.state.sessions),
            "hosts": len(self.hosts),
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
            "rss_mb": rss_mb,
            "file_watching": self.watcher.active,
        }

    # -- config ---------------------------------------------------------------------------

    def update_config(self, patch: Any) -> Config:
        """Merge ``patch`` into the config and save it; ``StorageError`` (507) when the disk
        refuses, and then nothing changed."""
        new = config_mod.apply_patch(self.config, patch, self.settings.data_dir)
        config_mod.save(self.paths.config, new)
        self.config = new
        self.sessions.log_max = new.log_max_bytes
        self.events.emit(ConfigChanged())
        self.hosts.apply(new.hosts)
        return new

    # -- workspaces: scan, dispose, restore -------------------------------------------------

    async def scan_workspaces(self) -> ScanResult:
        """Reconcile with the disk; sessions of workspaces that vanished are ended for good
        (their tmux sessions and processes), not only dropped from the list."""
        result = await self.workspaces.scan()
        for s in result.dropped_sessions:
            await self.sessions.end(s)
        return result

    async def disposed(self) -> list[dict[str, Any]]:
        """The snapshots kept here and on every connected host (ids prefixed), newest first."""
        days = self.config.snapshot_keep_days
        out = [{**s.payload(days), "host": ""} for s in self.trash.newest_first()]
        if not len(self.hosts):
            return out
        for name, answer in await self.hosts.gather("/api/disposed", timeout=HOST_READ_TIMEOUT):
            items = answer if isinstance(answer, list) else []
            for item in hostids.answer(name, items, id_keys=SNAPSHOT_IDS):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    out.append({**item, "host": name})
        out.sort(key=lambda s: str(s.get("disposed_at") or ""), reverse=True)
        return out

    async def restore(self, snapshot_id: str) -> Restored:
        restored = await self.workspaces.restore(snapshot_id)
        self.poke_git(restored.workspace.id)
        return restored
