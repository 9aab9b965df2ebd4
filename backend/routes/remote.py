"""Requests for a host's ids, forwarded to that host (docs/API.md#hosts).

One hook before every route: a route whose session, workspace or snapshot id carries a host's
prefix (``gpu-box:myrepo-001``), or a spawn (or branch check) whose body names a ``"host"``,
is sent to that host with its token, the ids without their prefix; its answer comes back with
the ids it names prefixed again, its status and error as the host gave them (a host that is
not connected: 503; one that fails or does not answer: 502). Everything else goes on to the
local routes.

Each request waits at most its kind's deadline (``KINDS``; ``backend.hostlimits``) and ends
with 503 "host X stopped answering" as soon as the host's link finds it gone (its pings).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from quart import Response, request

from backend import hostids
from backend.errors import BadGateway
from backend.hostlimits import CallKind
from backend.hosts import Remote
from backend.routes import services
from backend.routes.body import json_object, optional_text

ID_ARGS = ("session_id", "workspace_id", "snapshot_id")
BODY_HOST = frozenset({"api.spawn", "compat.check_branch_conflict"})
# Answers that name workspaces by ``id`` (a scan's W objects); the others by *_id keys.
ID_ANSWERS = {"api.scan": hostids.ID_KEYS | {"id"}}
# What each forwarded route may make the host do (how long it may take); others: QUICK.
KINDS = {
    "api.spawn": CallKind.CLONE,
    "api.restore": CallKind.CLONE,
    "api.dispose_workspace": CallKind.SNAPSHOT,
    "api.scan": CallKind.GIT,
    "api.diff": CallKind.GIT,
    "api.review": CallKind.GIT,
    "compat.check_branch_conflict": CallKind.GIT,
    "compat.refresh_overlay": CallKind.GIT,
    "compat.diff_external": CallKind.GIT,
    "compat.open_vscode": CallKind.GIT,
    "compat.ask_nudgenik": CallKind.GIT,
}
ARG = re.compile(r"<(?:[^:<>]+:)?(\w+)>")
# A write the host pushes right away: its answer waits (this long at most) for that push to
# arrive here, so a client that reads the sessions after the answer sees its own change.
PUSH_WAIT = 0.3


async def forward() -> Response | None:
    """The host's answer when the request is for a host, else None (the local route runs)."""
    hosts = services().hosts
    args = dict(request.view_args or {})
    target: Remote | None = None
    for key in ID_ARGS:
        value = args.get(key)
        owned = hosts.owner(value) if isinstance(value, str) else None
        if owned is not None:
            target, args[key] = owned
            break
    body: dict[str, Any] | None = None
    if target is None and request.endpoint in BODY_HOST:
        body = await json_object(required=False)
        name = optional_text(body, "host") or ""
        workspace = body.get("workspace_id")
        if name:
            target = hosts.named(name)
        elif isinstance(workspace, str) and hostids.split(workspace) is not None:
            owned = hosts.owner(workspace)
            target = owned[0] if owned else None
    if target is None:
        return None
    name = target.config.name
    if body is None and (await request.get_data(as_text=False)).strip():
        body = await json_object()
    content = json.dumps(hostids.request_body(name, body)).encode() if body is not None else None
    rule = request.url_rule.rule if request.url_rule else request.path
    path = ARG.sub(lambda m: urllib.parse.quote(str(args[m.group(1)]), safe=""), rule)
    link = target.link
    updates = link.updates
    answer = await link.request(
        request.method,
        path,
        kind=KINDS.get(request.endpoint or "", CallKind.QUICK),
        query=request.query_string.decode("latin-1"),
        body=content,
    )
    if request.method != "GET" and answer.status < 400:
        await link.next_update(updates, PUSH_WAIT)
    data = answer.body
    if answer.content_type.startswith("application/json") and answer.status < 400:
        keys = ID_ANSWERS.get(request.endpoint or "", hostids.ID_KEYS)
        try:
            value = json.loads(data)
        except ValueError:
            raise BadGateway(f"host {name} answered with something that is not JSON") from None
        data = json.dumps(hostids.answer(name, value, id_keys=keys)).encode()
    return Response(data, status=answer.status, content_type=answer.content_type or None)
