"""schmux's catalogue routes: what its dashboard and scripts call beyond the core API
(docs/SCHMUX-COMPAT.md). Thin: each parses, calls one module, serialises."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quart import Blueprint, Response, jsonify

from backend import editor, quicklaunch
from backend.branchconflicts import branch_owner
from backend.errors import AppError, BadRequest, NotFound
from backend.routes import services
from backend.routes.body import json_object, optional_text, text

bp = Blueprint("compat", __name__, url_prefix="/api")


class NotProvided(AppError):
    """A schmux feature this app does not have: 404, with what to do instead (never a 5xx,
    which would mean the app failed; schmux's client reads a 404 as "turned off")."""

    status = 404


@bp.post("/check-branch-conflict")
async def check_branch_conflict() -> Response:
    body = await json_object()
    repo, branch = text(body, "repo"), text(body, "branch")
    svc = services()
    owner = branch_owner(svc.registry.state.workspaces.values(), svc.config, repo, branch)
    if owner is None:
        return jsonify({"conflict": False})
    return jsonify({"conflict": True, "workspace_id": owner})


@bp.get("/detect-tools")
async def detect_tools() -> Response:
    svc = services()
    tools = await svc.agents.tools(svc.config)
    return jsonify({"tools": [t.payload() for t in tools]})


@bp.get("/builtin-quick-launch")
async def builtin_quick_launch() -> Response:
    return jsonify(quicklaunch.builtin())


@bp.get("/variants")
async def variants() -> Response:
    return jsonify({"variants": []})


@bp.route("/variants/<name>/secrets", methods=["POST", "DELETE"])
async def variant_secrets(name: str) -> Response:
    raise NotFound(f"no variant named {name[:100]!r} (this app has no variants)")


@bp.get("/hasNudgenik")
async def has_nudgenik() -> Response:
    svc = services()
    target = svc.config.nudgenik_target
    available = bool(target) and svc.agents.with_detected(svc.config).target(target) is not None
    return jsonify({"available": available})


@bp.get("/askNudgenik/<session_id>")
async def ask_nudgenik(session_id: str) -> Response:
    services().sessions.get(session_id)  # 404 first
    raise NotProvided(
        "NudgeNik is not available here; the attention state comes from the agents' hooks "
        "and the terminal (nudge_state on each session)"
    )


@bp.get("/overlays")
async def overlays() -> Response:
    svc = services()
    return jsonify({"overlays": svc.overlays.listing(svc.config)})


@bp.post("/workspaces/<workspace_id>/refresh-overlay")
async def refresh_overlay(workspace_id: str) -> Response:
    svc = services()
    ws = svc.workspaces.get(workspace_id)
    path = Path(ws.path)
    if not path.is_dir():
        raise NotFound(f"the folder of {ws.id} is missing (run a scan to reconcile)")
    copied = await asyncio.to_thread(svc.overlays.copy_into, ws.repo_name, path)
    svc.poke_git(ws.id)
    return jsonify({"status": "ok", "files_copied": copied.files, "skipped": list(copied.skipped)})


def _told(e: AppError) -> tuple[Response, int]:
    """An error in the shape of schmux's open-in-editor and external-diff answers: its client
    shows ``message`` (else the bare status text, "Conflict"); ``error`` as on every route."""
    return jsonify({"error": e.message, "success": False, "message": e.message}), e.status


@bp.post("/open-vscode/<workspace_id>")
async def open_vscode(workspace_id: str) -> Response | tuple[Response, int]:
    try:
        ws = services().workspaces.get(workspace_id)
        started = await asyncio.to_thread(editor.open_in_editor, Path(ws.path))
    except AppError as e:
        return _told(e)
    return jsonify({"success": True, "message": f"opened {ws.id} with {started}"})


@bp.post("/suggest-branch")
async def suggest_branch() -> Response:
    body = await json_object()
    if optional_text(body, "prompt") is None:
        raise BadRequest('"prompt" is required')
    raise NotProvided("branch suggestion is not configured: type a branch name")


@bp.route("/diff-external/<workspace_id>", methods=["GET", "POST"])
async def diff_external(workspace_id: str) -> tuple[Response, int]:
    try:
        services().workspaces.get(workspace_id)
        raise NotProvided("external diff tools are not supported: use the diff page")
    except AppError as e:
        return _told(e)


@bp.get("/auth/secrets")
async def auth_secrets() -> Response:
    return jsonify({"client_id_set": False, "client_secret_set": False})


@bp.post("/auth/secrets")
async def save_auth_secrets() -> Response:
    raise NotProvided(
        "GitHub sign-in is not supported: this server uses its own token (see the README)"
    )
