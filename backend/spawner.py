"""The spawn use case: a request for sessions, checked whole, then carried out one by one.

``POST /api/spawn`` names run targets with counts, a prompt and a nickname, and either an
existing workspace or a repo and branch for a new one. Everything a request can get wrong is
refused (400/409) before anything is created; then the workspace is made if needed and each
session started. A session that cannot start is an ``error`` entry in the answer, the others
still start, except on a full disk with nothing started yet (507). ``restart`` starts an ended
session again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, RunTarget
from .errors import BadRequest, Conflict, StorageError
from .giturl import url_problem
from .models import Session, Workspace
from .sessions import SessionManager, check_nickname, check_prompt, target_missing
from .workspaces import WorkspaceManager

log = logging.getLogger(__name__)

MAX_SESSIONS_PER_SPAWN = 50


@dataclass(frozen=True)
class SpawnRequest:
    repo: str | None
    branch: str | None
    targets: dict[str, int]
    prompt: str = ""
    nickname: str = ""
    workspace_id: str | None = None
    request_id: str | None = None


def nicknames_for(base: str, total: int) -> list[str]:
    """One nickname per session: ``base`` alone, else ``base (1)`` … ``base (total)``."""
    if not base:
        return []
    return [base] if total == 1 else [f"{base} ({i})" for i in range(1, total + 1)]


class Spawner:
    def __init__(
        self,
        *,
        config: Callable[[], Config],
        sessions: SessionManager,
        workspaces: WorkspaceManager,
        on_workspace: Callable[[str], None],
        on_session: Callable[[str], None],
        prepare_workspace: Callable[[str, Path], object] = lambda _repo, _path: None,
    ) -> None:
        self._config = config
        self.sessions = sessions
        self.workspaces = workspaces
        self._on_workspace = on_workspace  # a new or restored workspace: its git status soon
        self._on_session = on_session  # a new session: look at its output soon
        self._prepare_workspace = prepare_workspace  # a new workspace (repo name, path): overlays

    def _check_targets(self, cfg: Config, targets: dict[str, int]) -> int:
        if not targets:
            raise BadRequest(
                '"targets" must name at least one run target with a count, e.g. {"shell": 1}'
            )
        total = 0
        for name, count in targets.items():
            if cfg.target(name) is None:
                known = ", ".join(t.name for t in cfg.run_targets) or "none configured"
                raise BadRequest(f"unknown run target {name!r} (configured: {known})")
            total += count
        if total > MAX_SESSIONS_PER_SPAWN:
            raise BadRequest(f"at most {MAX_SESSIONS_PER_SPAWN} sessions per spawn")
        if total == 0:
            raise BadRequest("every target count is 0: nothing to spawn")
        return total

    async def _workspace(self, cfg: Config, req: SpawnRequest) -> Workspace:
        if req.workspace_id is not None:
            return self.workspaces.get(req.workspace_id)
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
        await asyncio.to_thread(self._prepare_workspace, repo.name, Path(ws.path))
        self._on_workspace(ws.id)
        return ws

    async def _start(
        self, cfg: Config, ws: Workspace, target: RunTarget, *, prompt: str, nickname: str
    ) -> Session:
        s = await self.sessions.spawn(
            ws,
            target,
            prompt=prompt,
            nickname=nickname,
            width=cfg.terminal_width,
            height=cfg.terminal_height,
        )
        self._on_session(s.id)  # output may have landed before the session was registered
        return s

    async def spawn(self, req: SpawnRequest) -> list[dict[str, Any]]:
        cfg = self._config()
        total = self._check_targets(cfg, req.targets)
        prompt = check_prompt(req.prompt)
        nicknames = nicknames_for(check_nickname(req.nickname), total)
        for nick in nicknames:
            if self.sessions.nickname_owner(nick) is not None:
                raise Conflict(f"nickname {nick!r} is already used by another session")
        ws = await self._workspace(cfg, req)

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
                    s = await self._start(cfg, ws, target, prompt=prompt, nickname=nick)
                except (BadRequest, Conflict, StorageError) as e:
                    log.warning("spawn of %s in %s failed: %s", name, ws.id, e.message)
                    if isinstance(e, StorageError) and not any("session_id" in r for r in results):
                        raise  # a full disk: nothing was started (507), not a 200 of errors
                    results.append({"target": name, "error": e.message})
                    continue
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
        cfg = self._config()
        old = self.sessions.get(session_id)
        if old.running:
            raise Conflict(f"session {session_id!r} is still running; dispose it to start over")
        target = cfg.target(old.target)
        if target is None:
            raise Conflict(f"run target {old.target!r} is no longer configured")
        missing = target_missing(target)
        if missing:
            raise Conflict(missing)
        ws = self.workspaces.get(old.workspace_id)
        await self.sessions.dispose(session_id)
        s = await self._start(cfg, ws, target, prompt="", nickname=old.nickname)
        return {
            "session_id": s.id,
            "workspace_id": ws.id,
            "target": s.target,
            "nickname": s.nickname,
            "replaces": session_id,
        }
