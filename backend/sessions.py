"""Agent sessions: one tmux session each, in a workspace, started by a launcher
(``backend.launcher``, in ``D/run``) and logged to ``D/logs/<id>.log`` (``backend.sessionlog``)."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shlex
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

from .config import RunTarget
from .errors import BadRequest, Conflict, NotFound, StorageError
from .events import Change
from .launcher import Launch, RunDir, SessionEnv
from .models import Session, Workspace, valid_id
from .registry import Registry
from .sessionlog import SessionLogs
from .tmux import Pane, Tmux, TmuxError

from . import procs, sessionprocs  # isort: skip

log = logging.getLogger(__name__)

MAX_NICKNAME = 200
MAX_PROMPT = 256 * 1024
MAX_NUDGE_SUMMARY = 2000


def tmux_name_for(session_id: str) -> str:
    return "schmux-" + session_id.replace(".", "_").replace(":", "_")


def check_nickname(nickname: str) -> str:
    nickname = nickname.strip()
    if len(nickname) > MAX_NICKNAME:
        raise BadRequest(
            f"nickname is too long ({len(nickname)} characters, at most {MAX_NICKNAME})"
        )
    if any(ord(c) < 32 or c == "\x7f" for c in nickname):
        raise BadRequest("nickname must not contain control characters or newlines")
    return nickname


def check_prompt(prompt: str) -> str:
    if "\x00" in prompt:
        raise BadRequest("prompt must not contain NUL characters")
    if len(prompt) > MAX_PROMPT:
        raise BadRequest(f"prompt is too long ({len(prompt)} characters, at most {MAX_PROMPT})")
    return prompt


def target_missing(target: RunTarget) -> str | None:
    """A readable reason when the target's program is not installed, else None."""
    try:
        words = shlex.split(target.command)
    except ValueError:
        return None  # the shell will report it
    while words and "=" in words[0] and not words[0].startswith("="):
        words = words[1:]  # FOO=bar cmd
    if not words:
        return None
    program = words[0]
    if "/" in program:
        ok = os.access(os.path.expanduser(program), os.X_OK)
    else:
        ok = shutil.which(program) is not None or program in _SHELL_BUILTINS
    if ok:
        return None
    return f"target {target.name!r}: command {program!r} is not installed or not on PATH"


# Words a command line may start with that are the shell's own, not programs on PATH.
_SHELL_BUILTINS = frozenset(
    [
        "exec",
        "cd",
        "echo",
        "true",
        "false",
        ":",
        "[",
        "[[",
        "test",
        "printf",
        "export",
        "set",
        "unset",
        "eval",
        ".",
        "source",
        "read",
        "trap",
        "exit",
        "command",
        "builtin",
        "ulimit",
        "umask",
        "for",
        "while",
        "until",
        "if",
        "case",
        "{",
        "(",
        "!",
        "time",
        "select",
        "function",
    ]
)


class SessionManager:
    def __init__(
        self,
        registry: Registry,
        tmux: Tmux,
        *,
        logs_dir: Path,
        run_dir: Path,
        env: Callable[[], SessionEnv],
    ) -> None:
        self.registry = registry
        self.tmux = tmux
        self.logs = SessionLogs(logs_dir)
        self.run = RunDir(run_dir)
        self.env = env
        self._output_updated: dict[str, float] = {}

    @property
    def logs_dir(self) -> Path:
        return self.logs.dir

    @property
    def run_dir(self) -> Path:
        return self.run.path

    @property
    def log_max(self) -> int:
        return self.logs.max_bytes

    @log_max.setter
    def log_max(self, value: int) -> None:
        self.logs.max_bytes = value

    def log_path(self, session_id: str) -> Path:
        return self.logs.path(session_id)

    def exit_path(self, session_id: str) -> Path:
        """Where the launcher writes the command's exit status when it ends."""
        return self.run.exit_path(session_id)

    def get(self, session_id: str) -> Session:
        if not valid_id(session_id):
            raise NotFound(f"no session with id {session_id[:80]!r}")
        session = self.registry.state.sessions.get(session_id)
        if session is None:
            raise NotFound(f"no session with id {session_id!r}")
        return session

    def nickname_owner(self, nickname: str) -> Session | None:
        for s in self.registry.state.sessions.values():
            if s.nickname and s.nickname == nickname:
                return s
        return None

    async def spawn(
        self,
        workspace: Workspace,
        target: RunTarget,
        *,
        prompt: str,
        nickname: str,
        width: int,
        height: int,
    ) -> Session:
        session_id = f"{workspace.id}-{secrets.token_hex(4)}"
        session = Session(
            id=session_id,
            workspace_id=workspace.id,
            target=target.name,
            tmux_name=tmux_name_for(session_id),
            nickname=nickname,
            running=True,
        )
        launch = Launch(
            session_id=session_id,
            workspace_id=workspace.id,
            workspace_path=workspace.path,
            command=target.command,
            prompt=prompt if target.type == "promptable" else "",
            env=self.env(),
        )
        script = self.run.write(launch)
        try:
            log_file = self.logs.create(session_id)
        except StorageError:
            self._forget_files(script)
            raise
        try:
            await self.tmux.new_session(
                session.tmux_name,
                ["/bin/sh", str(script)],
                width=width,
                height=height,
                log=log_file,
                log_max=self.log_max,
            )
        except (TmuxError, OSError) as e:
            self._forget_files(script, log_file)
            raise BadRequest(f"could not start target {target.name!r}: {e}") from e
        try:
            with self.registry.change("spawn") as state:
                if workspace.id not in state.workspaces:
                    raise NotFound(f"workspace {workspace.id!r} was disposed meanwhile")
                if nickname and self.nickname_owner(nickname) is not None:
                    raise Conflict(f"nickname {nickname!r} is already used by another session")
                state.sessions[session_id] = session
        except BaseException:
            # Not recorded (a full disk, a dispose meanwhile): nothing of it stays behind.
            await self.tmux.kill_session(session.tmux_name)
            self._forget_files(script, log_file, self.run.exit_path(session_id))
            raise
        return session

    @staticmethod
    def _forget_files(*paths: Path) -> None:
        for path in paths:
            with contextlib.suppress(OSError):
                path.unlink()

    async def dispose(self, session_id: str) -> None:
        session = self.get(session_id)
        panes = await self.tmux.panes()
        with self.registry.change("dispose"):
            self.registry.state.sessions.pop(session_id, None)
        await self.end(session, panes)

    async def end(self, session: Session, panes: dict[str, Pane] | None = None) -> int:
        """End a session that is no longer in the state: its tmux session, every process it
        started (wherever they went, see ``sessionprocs``), its exit record and its logs.
        Returns how many processes outside tmux's reach had to be signalled."""
        if panes is None:
            try:
                panes = await self.tmux.panes()
            except (TmuxError, TimeoutError):
                panes = {}
        pane = panes.get(session.tmux_name)
        roots = [pane.pid] if pane is not None and pane.pid and not pane.dead else []
        # The pane's descendants are listed before tmux kills it (then they lose their parent).
        tree = await procs.in_worker(lambda: sessionprocs.find(session.id, roots))
        await self.tmux.kill_session(session.tmux_name)
        for pid in roots:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        ended = await procs.in_worker(lambda: sessionprocs.end(session.id, tree))
        self._output_updated.pop(session.id, None)
        self.run.forget(session.id)
        self.logs.forget(session.id)
        return ended

    def rename(self, session_id: str, nickname: str) -> None:
        session = self.get(session_id)
        nickname = check_nickname(nickname)
        if nickname:
            owner = self.nickname_owner(nickname)
            if owner is not None and owner.id != session_id:
                raise Conflict(f"nickname {nickname!r} is already used by another session")
        if session.nickname == nickname:
            return
        with self.registry.change("nickname"):
            session.nickname = nickname

    def set_nudge(
        self,
        session_id: str,
        state: str,
        summary: str,
        *,
        source: str = "agent",
        kind: Change = Change.ACTION,
    ) -> None:
        session = self.get(session_id)
        state = state.strip()
        if not state:
            raise BadRequest('nudge needs a non-empty "state"')
        if len(state) > 100 or any(ord(c) < 32 for c in state):
            raise BadRequest('nudge "state" must be a short single line (at most 100 characters)')
        summary = summary[:MAX_NUDGE_SUMMARY]
        if (session.nudge_state, session.nudge_summary, session.nudge_source) == (
            state,
            summary,
            source,
        ):
            return
        with self.registry.change("nudge", kind=kind):
            session.nudge_state = state
            session.nudge_summary = summary
            session.nudge_source = source

    def clear_nudge(self, session_id: str, *, kind: Change = Change.ACTION) -> None:
        session = self.get(session_id)
        if not session.nudge_state and not session.nudge_summary:
            return
        with self.registry.change("nudge", kind=kind):
            session.nudge_state = ""
            session.nudge_summary = ""
            session.nudge_source = ""

    async def refresh_running(self) -> bool:
        """Bring running state and exit status up to date from the tmux server.

        Returns True when a pane is dead but tmux has no exit status for it yet (its hook can
        fire before the status is recorded): the caller should look again shortly."""
        try:
            panes = await self.tmux.panes()
        except (TmuxError, TimeoutError) as e:
            log.warning("cannot read tmux state: %s", e)
            return False
        pending = False
        changes: list[tuple[Session, bool, int | None, int | None]] = []
        exited = self.run.recorded_exits()
        for s in self.registry.state.sessions.values():
            pane = panes.get(s.tmux_name)
            running = pane is not None and not pane.dead
            status = pane.dead_status if pane is not None and pane.dead else None
            pid = pane.pid if pane is not None else None
            if (running or status is None) and s.id in exited:
                # the launcher's record: the command ended, its pane goes a moment later
                recorded = self.run.recorded_exit(s.id)
                if recorded is not None:
                    running, status = False, recorded
            if pane is not None and pane.dead and status is None:
                pending = True
            if (s.running, s.exit_status, s.pid) != (running, status, pid):
                changes.append((s, running, status, pid))
        if changes:
            with self.registry.change("running", kind=Change.BACKGROUND):
                for s, running, status, pid in changes:
                    s.running, s.exit_status, s.pid = running, status, pid
        return pending

    def refresh_output(self, ids: set[str] | None = None, *, output_every: float = 5.0) -> set[str]:
        """Move ``last_output_at`` forward from the logs, at most once per ``output_every`` s per
        session. Returns the sessions whose newer output is still held back by that throttle."""
        now = time.time()
        held: set[str] = set()
        changes: list[tuple[Session, float]] = []
        for s in self.registry.state.sessions.values():
            if ids is not None and s.id not in ids:
                continue
            try:
                st = self.log_path(s.id).stat()
            except OSError:
                continue
            if st.st_size == 0 or (
                s.last_output_at is not None and st.st_mtime <= s.last_output_at
            ):
                continue
            if now - self._output_updated.get(s.id, 0.0) >= output_every:
                self._output_updated[s.id] = now
                changes.append((s, st.st_mtime))
            else:
                held.add(s.id)
        if changes:
            with self.registry.change("output", kind=Change.OUTPUT):
                for s, mtime in changes:
                    s.last_output_at = mtime
        return held

    async def refresh(self, *, output_every: float = 5.0) -> set[str]:
        await self.refresh_running()
        return self.refresh_output(output_every=output_every)

    async def adopt(self) -> list[str]:
        """After a restart: match state to the live tmux server; kill our orphans.

        Returns the names of orphaned tmux sessions that were killed (sessions started
        by a spawn that never got acknowledged because the app died in between).
        """
        panes = await self.tmux.panes()
        known = {s.tmux_name for s in self.registry.state.sessions.values()}
        orphans = [name for name in panes if name.startswith("schmux-") and name not in known]
        for name in orphans:
            log.warning("killing orphaned tmux session %s (not in state.json)", name)
            pane = panes[name]
            roots = [pane.pid] if pane.pid and not pane.dead else []
            sid = name.removeprefix("schmux-")
            tree = await procs.in_worker(lambda: sessionprocs.find(sid, roots))  # noqa: B023
            await self.tmux.kill_session(name)
            await procs.in_worker(lambda: sessionprocs.end(sid, tree))  # noqa: B023
        self.run.forget_all_but(self.registry.state.sessions)
        await self.refresh()
        return orphans
