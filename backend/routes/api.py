"""The REST API (docs/API.md)."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request

from backend import __version__
from backend import config as config_mod
from backend.diffs import Base, DiffError
from backend.errors import BadRequest, Conflict
from backend.models import Workspace
from backend.reviews import parse_comments
from backend.routes import services
from backend.routes.body import flag, json_object, optional_text, text
from backend.spawner import SpawnRequest

bp = Blueprint("api", __name__, url_prefix="/api")

OK = {"status": "ok"}


@bp.get("/healthz")
async def healthz() -> Response:
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/stats")
async def stats() -> Response:
    """Internals for monitoring and leak tests (not part of the pinned API)."""
    return jsonify(services().stats())


@bp.post("/ws-ticket")
async def ws_ticket() -> Response:
    """A one-time pass for a browser's WebSocket upgrade (browsers cannot send the header)."""
    tickets = services().tickets
    return jsonify({"ticket": tickets.issue(), "expires_in": tickets.ttl})


@bp.get("/sessions")
async def list_sessions() -> Response:
    return jsonify(services().snapshot())


@bp.post("/spawn")
async def spawn() -> Response:
    body = await json_object()
    targets = body.get("targets")
    if not isinstance(targets, dict) or not targets:
        raise BadRequest('"targets" must be an object like {"shell": 1}')
    for name, count in targets.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise BadRequest(f'"targets.{name}" must be a non-negative integer count')
    req = SpawnRequest(
        repo=optional_text(body, "repo"),
        branch=optional_text(body, "branch"),
        targets=dict(targets),
        prompt=optional_text(body, "prompt") or "",
        nickname=optional_text(body, "nickname") or "",
        workspace_id=optional_text(body, "workspace_id")
        or None,  # "": a new workspace (schmux's client)
        request_id=optional_text(body, "request_id"),
    )
    return jsonify(await services().spawn(req))


@bp.post("/sessions/<session_id>/restart")
async def restart(session_id: str) -> Response:
    """An ended session again: same target, workspace and nickname (a new session id)."""
    return jsonify(await services().restart(session_id))


@bp.post("/dispose/<session_id>")
async def dispose(session_id: str) -> Response:
    await services().sessions.dispose(session_id)
    return jsonify(OK)


@bp.post("/dispose-workspace/<workspace_id>")
async def dispose_workspace(workspace_id: str) -> Response:
    svc = services()
    svc.workspaces.get(workspace_id)  # 404 before 400
    body = await json_object(required=False)
    force = flag(body, "force", False)
    snap = await svc.workspaces.dispose(workspace_id, force=force)
    return jsonify({**OK, "snapshot_id": snap.id if snap else None})


@bp.get("/disposed")
async def disposed() -> Response:
    return jsonify(await services().disposed())


@bp.post("/disposed/<snapshot_id>/restore")
async def restore(snapshot_id: str) -> Response:
    restored = await services().restore(snapshot_id)
    ws = restored.workspace
    return jsonify({"workspace_id": ws.id, "branch": ws.branch, "message": restored.note})


@bp.route("/sessions-nickname/<session_id>", methods=["PUT", "PATCH"])
async def nickname(session_id: str) -> Response:
    svc = services()
    svc.sessions.get(session_id)  # 404 before 400
    body = await json_object()
    value = text(body, "nickname")
    svc.sessions.rename(session_id, value)
    return jsonify(OK)


@bp.get("/config")
async def get_config() -> Response:
    return jsonify(services().config.to_dict())


@bp.route("/config", methods=["POST", "PUT"])
async def set_config() -> Response:
    body = await json_object()
    services().update_config(body)
    return jsonify(OK)


@bp.post("/hosts/test")
async def test_host() -> Response:
    """Reach a host as a config entry describes it, saving nothing (docs/API.md#hosts)."""
    svc = services()
    body = await json_object()
    host = config_mod.host_entry(svc.config, body)
    return jsonify(await svc.hosts.test(host))


@bp.post("/workspaces/scan")
async def scan() -> Response:
    result = await services().scan_workspaces()
    return jsonify(
        {
            "added": [_scanned(w) for w in result.added],
            "removed": [_scanned(w) for w in result.removed],
            "updated": [
                {"old": _scanned(old), "new": _scanned(new)} for old, new in result.updated
            ],
        }
    )


def _scanned(w: Workspace) -> dict[str, str]:
    """A workspace in a scan answer: schmux's shape (its client renders these objects)."""
    return {"id": w.id, "repo": w.repo, "branch": w.branch, "path": w.path}


@bp.post("/sessions/<session_id>/nudge")
async def set_nudge(session_id: str) -> Response:
    svc = services()
    svc.sessions.get(session_id)
    body = await json_object()
    state = text(body, "state")
    summary = optional_text(body, "summary") or ""
    svc.sessions.set_nudge(session_id, state, summary)
    return jsonify(OK)


@bp.delete("/sessions/<session_id>/nudge")
async def clear_nudge(session_id: str) -> Response:
    services().sessions.clear_nudge(session_id)
    return jsonify(OK)


@bp.get("/diff/<workspace_id>")
async def diff(workspace_id: str) -> Response:
    svc = services()
    ws = svc.workspaces.get(workspace_id)  # 404 before 400
    raw = request.args.get("base", "head")
    try:
        base = Base(raw)
    except ValueError:
        raise BadRequest('"base" must be "head" or "branch"') from None
    try:
        body = await svc.diffs.json(ws, base)
    except DiffError as e:
        raise Conflict(f"no diff for {workspace_id}: {e}") from None
    return Response(body, content_type="application/json")


@bp.post("/workspaces/<workspace_id>/review")
async def review(workspace_id: str) -> Response:
    """Type a review round into one of the workspace's sessions: the ``comments`` given, or
    without them the workspace's pending round (docs/API.md#review-rounds)."""
    svc = services()
    ws = svc.workspaces.get(workspace_id)  # 404 before 400
    body = await json_object()
    session_id = text(body, "session_id")
    raw = body.get("comments")
    comments = None if raw is None else parse_comments(raw)
    sent = await svc.reviews.send(ws, svc.sessions.get(session_id), comments)
    return jsonify({**OK, "round_id": sent.id})


@bp.get("/workspaces/<workspace_id>/review/pending")
async def pending_comments(workspace_id: str) -> Response:
    """The workspace's pending review comments, each where its lines are now."""
    svc = services()
    ws = svc.workspaces.get(workspace_id)
    return jsonify({"comments": await svc.reviews.fresh_pending(ws)})


@bp.post("/workspaces/<workspace_id>/review/pending")
async def add_pending_comments(workspace_id: str) -> Response:
    """Add comments to the workspace's pending round (kept until sent or removed)."""
    svc = services()
    ws = svc.workspaces.get(workspace_id)  # 404 before 400
    body = await json_object()
    added = await svc.reviews.add_pending(ws, parse_comments(body.get("comments")))
    return jsonify({**OK, "comments": [c.payload() for c in added]})


@bp.delete("/workspaces/<workspace_id>/review/pending/<comment_id>")
async def remove_pending_comment(workspace_id: str, comment_id: str) -> Response:
    svc = services()
    svc.workspaces.get(workspace_id)
    svc.reviews.remove_pending(workspace_id, comment_id)
    return jsonify(OK)


@bp.get("/workspaces/<workspace_id>/reviews")
async def reviews(workspace_id: str) -> Response:
    """The workspace's review rounds, oldest first, with each comment's status."""
    svc = services()
    ws = svc.workspaces.get(workspace_id)
    return jsonify({"rounds": await svc.reviews.fresh_rounds(ws)})


@bp.post("/workspaces/<workspace_id>/reviews/mark")
async def mark_comment(workspace_id: str) -> Response:
    """Mark a sent comment addressed (``"addressed": true``) or open again (false)."""
    svc = services()
    svc.workspaces.get(workspace_id)  # 404 before 400
    body = await json_object()
    round_id = text(body, "round_id")
    index, addressed = body.get("index"), flag(body, "addressed", True)
    if isinstance(index, bool) or not isinstance(index, int):
        raise BadRequest('"index" must be the comment\'s place in the round (0, 1, ...)')
    svc.reviews.mark(workspace_id, round_id, index, addressed=addressed)
    return jsonify(OK)
