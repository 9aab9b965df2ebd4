"""Agent sessions: one tmux session each, in a workspace, logged to ``D/logs/<id>.log``."""

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
from dataclasses import dataclass
from pathlib import Path

from .config import RunTarget
from .errors import BadRequest, Conflict, NotFound, StorageError
from .events import Change
from .fileio import make_private_dir
from .models import Session, Workspace, valid_id
from .registry import Registry
from .tmux import Pane, Tmux, TmuxError

from . import procs, sessionprocs  # isort: skip

log = logging.getLogger(__name__)

MAX_NICKNAME = 200
MAX_PROMPT = 256 * 1024
MAX_NUDGE_SUMMARY = 2000
# Touched in the run dir when an agent's command ends (by its launcher) or a pane dies (by a
# tmux hook); the app watches for it.
EVENT_FILE = "tmux-event"


@dataclass(frozen=True)
class SessionEnv:
    url: str
    token: str


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
        self.logs_dir = logs_dir
        self.run_dir = run_dir
        self.env = env
        self._output_updated: dict[str, float] = {}
        self.log_max = 16 * 1024 * 1024

    def log_path(self, session_id: str) -> Path:
        return self.logs_dir / f"{session_id}.log"

    def exit_path(self, session_id: str) -> Path:
        """Where the launcher writes the command's exit status when it ends."""
        return self.run_dir / f"{session_id}.exit"

    def _recorded_exits(self) -> set[str]:
        """The sessions whose launcher recorded an exit: one listing, not a look per session."""
        try:
            names = os.listdir(self.run_dir)
        except OSError:
            return set()
        return {n.removesuffix(".exit") for n in names if n.endswith(".exit")}

    def _recorded_exit(self, session_id: str) -> int | None:
        try:
            text = self.exit_path(session_id).read_text()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.strip().isdigit() else None

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

    def _launcher(
        self, session_id: str, workspace: Workspace, target: RunTarget, prompt: str
    ) -> Path:
        env = self.env()
        lines = [
            "#!/bin/sh",
            "# written by schmux-desktop; removes itself",
            # A trap (not an ignore, which the agent would inherit) keeps this shell alive
            # through Ctrl-C, so the pane reports the agent's status (130) instead of dying by
            # the signal. First thing, so even an early Ctrl-C finds it in place.
            "trap : INT QUIT",
            'rm -f -- "$0"',
            f"export SCHMUX_SESSION_ID={shlex.quote(session_id)}",
            f"export SCHMUX_WORKSPACE_ID={shlex.quote(workspace.id)}",
            f"export SCHMUX_URL={shlex.quote(env.url)}",
            f"export SCHMUX_TOKEN={shlex.quote(env.token)}",
            "unset TMUX TMUX_PANE",
            f"cd -- {shlex.quote(workspace.path)} || exit 126",
        ]
        # In a subshell, so that an ``exit`` or ``exec`` in the target's command line ends the
        # command, not this script.
        if target.type == "promptable" and prompt:
            # The prompt is one single-quoted word: the shell never expands anything in it.
            lines.append(f"(\n{target.command} {shlex.quote(prompt)}\n)")
        else:
            lines.append(f"(\n{target.command}\n)")
        # The launcher, not tmux, records how the command ended: tmux 3.3a can miss the exit
        # (no pane-died hook, no exit status) when the pane's output ends before its process
        # is reaped. The status file says "stopped" and why; the marker line tells the viewer.
        exit_file = shlex.quote(str(self.exit_path(session_id)))
        lines += [
            "s=$?",
            "printf '\\r\\n\\033[0;2mexited (status %s)\\033[0m\\r\\n' \"$s\"",
            f'(umask 077; echo "$s" > {exit_file}.tmp) && mv -f -- {exit_file}.tmp {exit_file}',
            f": > {shlex.quote(str(self.run_dir / EVENT_FILE))}",
            'exit "$s"',
        ]
        make_private_dir(self.run_dir)
        path = self.run_dir / f"{session_id}.sh"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("\n".join(lines) + "\n")
        except OSError as e:
            with contextlib.suppress(OSError):
                path.unlink()  # never an empty or half launcher left behind
            raise StorageError(f"could not write {path}: {e.strerror or e}") from e
        return path

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
        script = self._launcher(session_id, workspace, target, prompt)
        log_file = self.log_path(session_id)
        try:
            make_private_dir(self.logs_dir)
            log_file.touch(mode=0o600)
        except OSError as e:
            self._forget_files(script, log_file)
            raise StorageError(f"could not create {log_file}: {e.strerror or e}") from e
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
            self._forget_files(script, log_file, self.exit_path(session_id))
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
        log_file = self.log_path(session.id)
        for path in (
            self.exit_path(session.id),
            log_file,
            log_file.with_name(log_file.name + ".1"),
        ):
            with contextlib.suppress(OSError):
                path.unlink()
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
        exited = self._recorded_exits()
        for s in self.registry.state.sessions.values():
            pane = panes.get(s.tmux_name)
            running = pane is not None and not pane.dead
            status = pane.dead_status if pane is not None and pane.dead else None
            pid = pane.pid if pane is not None else None
            if (running or status is None) and s.id in exited:
                # the launcher's record: the command ended, its pane goes a moment later
                recorded = self._recorded_exit(s.id)
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
        with contextlib.suppress(OSError):
            # exit records and launchers of sessions that are gone (a launcher left by a spawn
            # the app was killed in; one that ran has removed itself)
            for name in os.listdir(self.run_dir):
                sid = name.removesuffix(".tmp").removesuffix(".exit").removesuffix(".sh")
                if (
                    name.endswith((".exit", ".exit.tmp", ".sh"))
                    and sid not in self.registry.state.sessions
                ):
                    with contextlib.suppress(OSError):
                        (self.run_dir / name).unlink()
        await self.refresh()
        return orphans
