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
from .conflicts import ConflictForecast
from .diffs import Differ
from .errors import BadRequest, Conflict, StorageError
from .events import Change, ConfigChanged, EventBus, SessionsChanged
from .fileio import DataDirError, prepare_dir, remove_stale_temps
from .gitremote import GitRemote
from .gitstatus import GitStatus, GitStatusError, read_all
from .giturl import url_problem
from .models import Workspace, workspace_payload
from .registry import Registry
from .reviews import Reviewer
from .sessions import (
    EVENT_FILE,
    SessionEnv,
    SessionManager,
    check_nickname,
    check_prompt,
    target_missing,
)
from .store import StateStore
from .tasks import TaskGroup
from .terminal import TerminalHub
from .tmux import Tmux
from .trash import Snapshot, Trash
from .watcher import ChangeWatcher
from .workspaces import Restored, ScanResult, WorkspaceManager

log = logging.getLogger(__name__)

SESSION_POLL_SECONDS = 1.0
FULL_PASS_EVERY = 30
GIT_COALESCE_SECONDS = 0.15
HELD_OUTPUT_RECHECK_SECONDS = 1.0
MAX_SESSIONS_PER_SPAWN = 50
TRASH_PRUNE_SECONDS = 3600.0
WARM_UP_AFTER_SECONDS = 1.0  # after the start-up's own work (healthz answers in ~0.3 s)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    token: str | None = None  # None: --no-auth
    version: str = "0.0.0"
    static_dir: Path | None = None
    public_url: str = ""  # filled in once the server is bound


@dataclass(frozen=True)
class SpawnRequest:
    repo: str | None
    branch: str | None
    targets: dict[str, int]
    prompt: str = ""
    nickname: str = ""
    workspace_id: str | None = None
    request_id: str | None = None


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
        self.reviews = Reviewer(self.registry, self.tmux)
        self.attention = AttentionMonitor(self.sessions, self.tmux)
        self.broadcaster = Broadcaster(
            self.snapshot,
            lambda: self.config.to_dict(),
            debounce=lambda: self.config.dashboard_debounce_ms / 1000,
        )
        self.events.subscribe(self.broadcaster.on_event)
        self.conflicts = ConflictForecast(
            lambda: self.registry.state.workspaces,
            lambda: self.events.emit(SessionsChanged("conflict forecast", Change.BACKGROUND)),
            timeout=lambda: self.config.git_status_timeout_ms / 1000,
        )
        self.events.subscribe(self.conflicts.on_event)
        self.events.subscribe(lambda _e: self.terminals.on_sessions_changed())
        self._git_poke = asyncio.Event()
        self._session_poke = asyncio.Event()
        self._git_dirty: set[str] = set()
        self._output_dirty: set[str] = set()
        self._tmux_dirty = False
        self._tmux_hooks = False
        self._watched: set[str] = set()
        self._unwatched: set[str] = set()
        self.watcher = ChangeWatcher(self._on_fs_change)
        self.git_passes = 0
        self.started_at = time.time()
        self._prepared = False
        self._conf_changed = False

    @property
    def session_url(self) -> str:
        return self.public_url

    # -- lifecycle ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Lay out the data dir before serving: its directories, tmux.conf, and no temp file
        that a write killed midway (SIGKILL, power loss) left behind. A problem raises
        ``DataDirError`` with one line naming the path (the CLI prints it and exits 2)."""
        if self._prepared:
            return
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
        self._tmux_hooks = "set-hook" in self.paths.tmux_conf.read_text()
        await self.sessions.adopt()
        # tmux commands over one persistent client from now on; one-shot clients until it is up
        # (and always with SCHMUX_TMUX_CONTROL=0).
        if os.environ.get("SCHMUX_TMUX_CONTROL") != "0":
            self.tasks.spawn(self.tmux.start_control(), name="tmux-control-client")
        if self.watcher.start():
            self.watcher.watch_dir("logs", str(self.paths.logs))
            self.watcher.watch_dir("run", str(self.paths.run))
            self.events.subscribe(self._sync_watches)
            self._sync_watches()
        self.tasks.spawn(self._git_loop(), name="git-status-loop")
        self.tasks.spawn(self.conflicts.run(), name="conflict-forecast")
        self.tasks.spawn(self._session_loop(), name="session-loop")
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
        rounds = self.reviews.counts()
        return [
            {
                **workspace_payload(state.workspaces[wid], by_ws[wid], prefix),
                "conflicts": self.conflicts.of(wid),
                "review_rounds": rounds.get(wid, 0),
            }
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

    # -- spawn ----------------------------------------------------------------------------

    async def spawn(self, req: SpawnRequest) -> list[dict[str, Any]]:
        cfg = self.config
        if not req.targets:
            raise BadRequest(
                '"targets" must name at least one run target with a count, e.g. {"shell": 1}'
            )
        total = 0
        for name, count in req.targets.items():
            if cfg.target(name) is None:
                known = ", ".join(t.name for t in cfg.run_targets) or "none configured"
                raise BadRequest(f"unknown run target {name!r} (configured: {known})")
            total += count
        if total > MAX_SESSIONS_PER_SPAWN:
            raise BadRequest(f"at most {MAX_SESSIONS_PER_SPAWN} sessions per spawn")
        if total == 0:
            raise BadRequest("every target count is 0: nothing to spawn")
        prompt = check_prompt(req.prompt)
        base_nick = check_nickname(req.nickname)
        nicknames: list[str] = []
        if base_nick:
            nicknames = (
                [base_nick] if total == 1 else [f"{base_nick} ({i})" for i in range(1, total + 1)]
            )
            for nick in nicknames:
                if self.sessions.nickname_owner(nick) is not None:
                    raise Conflict(f"nickname {nick!r} is already used by another session")

        if req.workspace_id is not None:
            ws = self.workspaces.get(req.workspace_id)
        else:
            if not req.repo:
                raise BadRequest(
                    '"repo" (a configured repo name or url) is required without "workspace_id"'
                )
            repo = cfg.repo(req.repo)
            if repo is None and (problem := url_problem(req.repo)):
                raise BadRequest(f"repo {req.repo[:200]!r}: {problem}")
            if repo is None:
                known = ", ".join(r.name for r in cfg.repos) or "none configured"
                raise BadRequest(f"unknown repo {req.repo!r} (configured: {known})")
            if not req.branch:
                raise BadRequest('"branch" is required when spawning into a new workspace')
            ws = await self.workspaces.create(repo, req.branch, request_id=req.request_id)
            self.poke_git(ws.id)

        results: list[dict[str, Any]] = []
        i = 0
        for name, count in req.targets.items():
            target = cfg.target(name)
            assert target is not None
            for _ in range(count):
                nick = nicknames[i] if nicknames else ""
                i += 1
                missing = target_missing(target)
                if missing:
                    results.append({"target": name, "error": missing})
                    continue
                try:
                    s = await self.sessions.spawn(
                        ws,
                        target,
                        prompt=prompt,
                        nickname=nick,
                        width=cfg.terminal_width,
                        height=cfg.terminal_height,
                    )
                except (BadRequest, Conflict, StorageError) as e:
                    log.warning("spawn of %s in %s failed: %s", name, ws.id, e.message)
                    if isinstance(e, StorageError) and not any("session_id" in r for r in results):
                        raise  # a full disk: nothing was started (507), not a 200 of errors
                    results.append({"target": name, "error": e.message})
                    continue
                # Output may have landed before the session was registered: look again.
                self._output_dirty.add(s.id)
                self._session_poke.set()
                results.append(
                    {
                        "session_id": s.id,
                        "workspace_id": ws.id,
                        "target": name,
                        "nickname": s.nickname,
                    }
                )
        return results

    async def restart(self, session_id: str) -> dict[str, Any]:
        """Start an ended session again: same target, workspace and nickname, a new id.

        The old session (its tmux session, processes and log) is disposed first, so its
        nickname is free for the new one. A running session is refused (409)."""
        old = self.sessions.get(session_id)
        if old.running:
            raise Conflict(f"session {session_id!r} is still running; dispose it to start over")
        target = self.config.target(old.target)
        if target is None:
            raise Conflict(f"run target {old.target!r} is no longer configured")
        missing = target_missing(target)
        if missing:
            raise Conflict(missing)
        ws = self.workspaces.get(old.workspace_id)
        await self.sessions.dispose(session_id)
        s = await self.sessions.spawn(
            ws,
            target,
            prompt="",
            nickname=old.nickname,
            width=self.config.terminal_width,
            height=self.config.terminal_height,
        )
        self._output_dirty.add(s.id)
        self._session_poke.set()
        return {
            "session_id": s.id,
            "workspace_id": ws.id,
            "target": s.target,
            "nickname": s.nickname,
            "replaces": session_id,
        }

    # -- watching and loops ----------------------------------------------------------------
    #
    # With inotify (Linux) the loops wake on changes: a workspace's files or git metadata, a
    # session's log, tmux touching run/tmux-event when a pane dies. The timed passes remain as a
    # safety net: unwatched workspaces every poll interval, all of them every FULL_PASS_EVERY
    # intervals. Without inotify everything is polled.

    def _on_fs_change(self, key: str, names: set[str]) -> None:
        kind, _, name = key.partition(":")
        if kind == "ws":
            self._git_dirty.add(name)
            self._git_poke.set()
        elif kind == "repo":
            self._git_dirty.update(
                w.id for w in self.registry.state.workspaces.values() if w.repo_name == name
            )
            self._git_poke.set()
        elif kind == "logs":
            ids = {n.removesuffix(".log") for n in names if n.endswith(".log")}
            self.terminals.on_log_change(ids)
            self._output_dirty.update(ids)
            self._session_poke.set()
        elif kind == "run":
            if EVENT_FILE in names:
                self._tmux_dirty = True
                self._session_poke.set()
        elif kind == "*":
            self._git_dirty.update(self.registry.state.workspaces)
            self._tmux_dirty = True
            self._output_dirty.update(self.registry.state.sessions)
            self._git_poke.set()
            self._session_poke.set()

    def _sync_watches(self, _event: object = None) -> None:
        if not self.watcher.active:
            return
        current = set(self.registry.state.workspaces)
        for wid in self._watched - current:
            self.watcher.unwatch(f"ws:{wid}")
            self._watched.discard(wid)
            self._unwatched.discard(wid)
        for wid in current - self._watched:
            self._watched.add(wid)
            if not self._watch_workspace(self.registry.state.workspaces[wid]):
                self._unwatched.add(wid)

    def _watch_workspace(self, ws: Workspace) -> bool:
        key = f"ws:{ws.id}"
        path = Path(ws.path)
        ok = self.watcher.watch_tree(key, str(path))
        dotgit = path / ".git"
        if dotgit.is_file():  # a worktree: its own git dir, plus the shared repo's refs
            try:
                text = dotgit.read_text().strip()
            except OSError:
                return False
            gitdir = Path(text.removeprefix("gitdir:").strip())
            if not gitdir.is_absolute():
                gitdir = (path / gitdir).resolve()
            common = gitdir.parent.parent
            repo_key = f"repo:{ws.repo_name}"
            ok = self.watcher.watch_dir(key, str(gitdir)) and ok
            ok = self.watcher.watch_dir(repo_key, str(common)) and ok
            ok = self.watcher.watch_tree(repo_key, str(common / "refs")) and ok
        elif dotgit.is_dir():
            ok = self.watcher.watch_dir(key, str(dotgit)) and ok
            ok = self.watcher.watch_tree(key, str(dotgit / "refs")) and ok
        else:
            ok = False
        return ok

    def poke_git(self, workspace_id: str | None = None) -> None:
        """Ask for a git status pass soon (for one workspace, or all)."""
        if workspace_id is None:
            self._git_dirty.update(self.registry.state.workspaces)
        else:
            self._git_dirty.add(workspace_id)
        self._git_poke.set()

    async def refresh_git(self, ids: set[str] | None = None) -> bool:
        state = self.registry.state
        targets = [w for w in state.workspaces.values() if ids is None or w.id in ids]
        if not targets:
            return False
        timeout = self.config.git_status_timeout_ms / 1000
        results = await read_all([Path(w.path) for w in targets], concurrency=8, timeout=timeout)
        changes: list[tuple[str, GitStatus | str]] = []
        for w in targets:
            r = results.get(Path(w.path))
            if r is None:
                continue
            if isinstance(r, GitStatusError):
                err = (
                    "workspace directory is missing (run a scan to reconcile)"
                    if not Path(w.path).exists()
                    else str(r)
                )
                if w.git_error != err:
                    changes.append((w.id, err))
                continue
            new = (r.ahead, r.behind, r.dirty, r.lines_added, r.lines_removed, r.files_changed, "")
            old = (
                w.git_ahead,
                w.git_behind,
                w.git_dirty,
                w.git_lines_added,
                w.git_lines_removed,
                w.git_files_changed,
                w.git_error,
            )
            if new != old:
                changes.append((w.id, r))
        self.git_passes += 1
        self.conflicts.mark(wid for wid, _ in changes)
        if not changes:
            return False
        with self.registry.change("git status", kind=Change.BACKGROUND) as st:
            for wid, result in changes:
                live = st.workspaces.get(wid)
                if live is None:
                    continue
                if isinstance(result, str):
                    live.git_error = result
                    continue
                g = result
                live.git_ahead, live.git_behind, live.git_dirty = g.ahead, g.behind, g.dirty
                live.git_lines_added, live.git_lines_removed = g.lines_added, g.lines_removed
                live.git_files_changed, live.git_error = g.files_changed, ""
        return True

    async def _git_loop(self) -> None:
        loop = asyncio.get_running_loop()
        passes = 0
        next_timed = loop.time()
        while True:
            wait = max(0.0, next_timed - loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._git_poke.wait(), wait)
            self._git_poke.clear()
            ids: set[str] | None
            if loop.time() >= next_timed:
                passes += 1
                next_timed = loop.time() + self.config.git_status_poll_interval_ms / 1000
                if not self.watcher.active or passes % FULL_PASS_EVERY == 1:
                    ids = None
                else:
                    ids = set(self._unwatched) | self._git_dirty
            else:
                await asyncio.sleep(GIT_COALESCE_SECONDS)  # let a burst of file events settle
                ids = set(self._git_dirty)
            self.conflicts.mark(self._git_dirty)  # changed files or refs: survey them again
            self._git_dirty.clear()
            try:
                await self.refresh_git(ids)
            except StorageError as e:  # a full disk: rolled back; the next pass tries again
                log.error("git status pass not saved: %s", e.message)
            except Exception:
                log.exception("git status pass failed")

    async def _session_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_timed = loop.time() + self._session_interval()
        held: set[str] = set()
        attention_due: float | None = None
        status_retries = 0
        while True:
            wait = max(0.0, next_timed - loop.time())
            if held:
                wait = min(wait, HELD_OUTPUT_RECHECK_SECONDS)
            if attention_due is not None:
                wait = min(wait, attention_due + 0.05)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._session_poke.wait(), wait)
            self._session_poke.clear()
            timed = loop.time() >= next_timed
            if timed:
                next_timed = loop.time() + self._session_interval()
            try:
                if timed or self._tmux_dirty:
                    self._tmux_dirty = False
                    if await self.sessions.refresh_running() and status_retries < 10:
                        status_retries += 1  # an exit status tmux has not recorded yet
                        loop.call_later(0.2, self._poke_tmux)
                    else:
                        status_retries = 0
                ids = None if timed or not self.watcher.active else self._output_dirty | held
                self._output_dirty = set()
                held = self.sessions.refresh_output(ids, output_every=self.broadcaster.output_every)
                attention_due = await self.attention.check()
            except StorageError as e:
                log.error("session refresh not saved: %s", e.message)
            except Exception:
                log.exception("session refresh failed")

    def _poke_tmux(self) -> None:
        self._tmux_dirty = True
        self._session_poke.set()

    def _session_interval(self) -> float:
        if self.watcher.active and self._tmux_hooks:
            return self.config.git_status_poll_interval_ms / 1000
        return SESSION_POLL_SECONDS
