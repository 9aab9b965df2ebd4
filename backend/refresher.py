"""The background refresh: git status of the workspaces, running state and output of sessions.

With file watching (inotify on Linux) the two loops wake on changes: a workspace's files or git
metadata (``ws:<id>``, ``repo:<name>``), a session's log (``logs``), tmux or a launcher touching
``run/tmux-event`` when a pane dies (``run``). The timed passes remain as a safety net: unwatched
workspaces every poll interval, all of them every ``FULL_PASS_EVERY`` intervals. Without file
watching everything is polled. Time comes from a ``Clock`` (a virtual one in the unit tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from pathlib import Path
from typing import Protocol

from .config import Config
from .errors import StorageError
from .events import Change
from .gitstatus import GitStatus, GitStatusError, read_all
from .launcher import EVENT_FILE
from .registry import Registry

log = logging.getLogger(__name__)

SESSION_POLL_SECONDS = 1.0
FULL_PASS_EVERY = 30
GIT_COALESCE_SECONDS = 0.15
HELD_OUTPUT_RECHECK_SECONDS = 1.0
STATUS_RETRY_SECONDS = 0.2  # a dead pane whose exit status tmux has not recorded yet
STATUS_RETRIES = 10
TRASH_PRUNE_SECONDS = 3600.0

StatusReader = Callable[[list[Path], int, float], Awaitable[dict[Path, GitStatus | GitStatusError]]]


class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        """Until ``event`` is set or ``timeout`` seconds passed, whichever comes first."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> None: ...


class LoopClock:
    """The event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(delay, callback)


class Watching(Protocol):
    @property
    def active(self) -> bool: ...


class SessionRefresh(Protocol):
    """What the session loop asks of the session manager (``backend.sessions``)."""

    async def refresh_running(self) -> bool: ...

    def refresh_output(
        self, ids: set[str] | None = None, *, output_every: float = 5.0
    ) -> set[str]: ...


class AttentionCheck(Protocol):
    async def check(self) -> float | None: ...


async def _read_all(
    paths: list[Path], concurrency: int, timeout: float
) -> dict[Path, GitStatus | GitStatusError]:
    return await read_all(paths, concurrency=concurrency, timeout=timeout)


class Refresher:
    def __init__(
        self,
        registry: Registry,
        *,
        sessions: SessionRefresh,
        attention: AttentionCheck,
        config: Callable[[], Config],
        watcher: Watching,
        unwatched: Callable[[], Collection[str]],
        on_log_change: Callable[[set[str]], None],
        output_every: Callable[[], float],
        clock: Clock | None = None,
        read_status: StatusReader = _read_all,
        git_changed: Callable[[Iterable[str]], None] = lambda _ids: None,
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.attention = attention
        self._config = config
        self.watcher = watcher
        self._unwatched = unwatched  # workspaces the watcher could not cover: polled
        self._on_log_change = on_log_change
        self._output_every = output_every
        self.clock: Clock = clock or LoopClock()
        self._read_status = read_status
        self._git_changed = git_changed  # told which workspaces' git state may have moved
        self.tmux_hooks = False  # tmux touches the event file when a pane dies
        self.git_passes = 0
        self._git_poke = asyncio.Event()
        self._session_poke = asyncio.Event()
        self._git_dirty: set[str] = set()
        self._output_dirty: set[str] = set()
        self._tmux_dirty = False

    # -- what wakes the loops ---------------------------------------------------------------

    def on_fs_change(self, key: str, names: set[str]) -> None:
        """A ``ChangeWatcher`` report: route it to the loop(s) it concerns."""
        kind, _, name = key.partition(":")
        workspaces = self.registry.state.workspaces
        if kind == "ws":
            self._git_dirty.add(name)
            self._git_poke.set()
        elif kind == "repo":
            self._git_dirty.update(w.id for w in workspaces.values() if w.repo_name == name)
            self._git_poke.set()
        elif kind == "logs":
            ids = {n.removesuffix(".log") for n in names if n.endswith(".log")}
            self._on_log_change(ids)
            self._output_dirty.update(ids)
            self._session_poke.set()
        elif kind == "run":
            if EVENT_FILE in names:
                self.poke_tmux()
        elif kind == "*":  # the watcher's queue overflowed: look at everything
            self._git_dirty.update(workspaces)
            self._tmux_dirty = True
            self._output_dirty.update(self.registry.state.sessions)
            self._git_poke.set()
            self._session_poke.set()

    def poke_git(self, workspace_id: str | None = None) -> None:
        """Ask for a git status pass soon (for one workspace, or all)."""
        if workspace_id is None:
            self._git_dirty.update(self.registry.state.workspaces)
        else:
            self._git_dirty.add(workspace_id)
        self._git_poke.set()

    def poke_output(self, session_id: str) -> None:
        """Look at a session's output soon (it may have landed before it was registered)."""
        self._output_dirty.add(session_id)
        self._session_poke.set()

    def poke_tmux(self) -> None:
        self._tmux_dirty = True
        self._session_poke.set()

    # -- git status -------------------------------------------------------------------------

    async def refresh_git(self, ids: set[str] | None = None) -> bool:
        """One git status pass (of ``ids``, or every workspace); True when something changed."""
        state = self.registry.state
        targets = [w for w in state.workspaces.values() if ids is None or w.id in ids]
        if not targets:
            return False
        timeout = self._config().git_status_timeout_ms / 1000
        results = await self._read_status([Path(w.path) for w in targets], 8, timeout)
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
            new = (
                r.ahead,
                r.behind,
                r.dirty,
                r.lines_added,
                r.lines_removed,
                r.files_changed,
                "",
                r.revision,
            )
            old = (
                w.git_ahead,
                w.git_behind,
                w.git_dirty,
                w.git_lines_added,
                w.git_lines_removed,
                w.git_files_changed,
                w.git_error,
                w.git_revision,
            )
            if new != old:
                changes.append((w.id, r))
        self.git_passes += 1
        self._git_changed(wid for wid, _ in changes)
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
                live.git_revision = g.revision
        return True

    async def git_loop(self) -> None:
        clock = self.clock
        passes = 0
        next_timed = clock.now()
        while True:
            await clock.wait(self._git_poke, max(0.0, next_timed - clock.now()))
            self._git_poke.clear()
            ids: set[str] | None
            if clock.now() >= next_timed:
                passes += 1
                next_timed = clock.now() + self._config().git_status_poll_interval_ms / 1000
                if not self.watcher.active or passes % FULL_PASS_EVERY == 1:
                    ids = None
                else:
                    ids = set(self._unwatched()) | self._git_dirty
            else:
                await clock.sleep(GIT_COALESCE_SECONDS)  # let a burst of file events settle
                ids = set(self._git_dirty)
            self._git_changed(self._git_dirty)  # their files or refs changed
            self._git_dirty.clear()
            try:
                await self.refresh_git(ids)
            except StorageError as e:  # a full disk: rolled back; the next pass tries again
                log.error("git status pass not saved: %s", e.message)
            except Exception:
                log.exception("git status pass failed")

    # -- sessions ---------------------------------------------------------------------------

    async def session_loop(self) -> None:
        clock = self.clock
        next_timed = clock.now() + self.session_interval()
        held: set[str] = set()
        attention_due: float | None = None
        status_retries = 0
        while True:
            wait = max(0.0, next_timed - clock.now())
            if held:
                wait = min(wait, HELD_OUTPUT_RECHECK_SECONDS)
            if attention_due is not None:
                wait = min(wait, attention_due + 0.05)
            await clock.wait(self._session_poke, wait)
            self._session_poke.clear()
            timed = clock.now() >= next_timed
            if timed:
                next_timed = clock.now() + self.session_interval()
            try:
                if timed or self._tmux_dirty:
                    self._tmux_dirty = False
                    if await self.sessions.refresh_running() and status_retries < STATUS_RETRIES:
                        status_retries += 1  # an exit status tmux has not recorded yet
                        clock.call_later(STATUS_RETRY_SECONDS, self.poke_tmux)
                    else:
                        status_retries = 0
                ids = None if timed or not self.watcher.active else self._output_dirty | held
                self._output_dirty = set()
                held = self.sessions.refresh_output(ids, output_every=self._output_every())
                attention_due = await self.attention.check()
            except StorageError as e:
                log.error("session refresh not saved: %s", e.message)
            except Exception:
                log.exception("session refresh failed")

    def session_interval(self) -> float:
        """Between timed session passes: the git poll interval when tmux reports dead panes
        itself and logs are watched, else ``SESSION_POLL_SECONDS``."""
        if self.watcher.active and self.tmux_hooks:
            return self._config().git_status_poll_interval_ms / 1000
        return SESSION_POLL_SECONDS

    # -- disposed workspaces ----------------------------------------------------------------

    async def prune_loop(self, prune: Callable[[], Awaitable[int]]) -> None:
        """Snapshots past ``workspaces.snapshot_keep_days`` are forgotten at start, then hourly."""
        while True:
            try:
                n = await prune()
                if n:
                    log.info(
                        "forgot %d expired snapshot%s of disposed workspaces", n, "s"[: n != 1]
                    )
            except Exception:
                log.exception("pruning expired snapshots failed")
            await self.clock.sleep(TRASH_PRUNE_SECONDS)
