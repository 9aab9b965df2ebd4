"""Ids across hosts: a host's workspaces and sessions carry ``<host name>:`` before their own id.

A local id never holds ``:`` (``models.valid_id``), so ``gpu-box:myrepo-001`` names workspace
``myrepo-001`` on host ``gpu-box`` and nothing else. This module rewrites a host's dashboard
payload into the aggregating server's (ids prefixed, ``host`` set) and a host's answers to
routed requests likewise, and merges hosts' encoded workspaces into one list in id order
(``merged_json``); it knows nothing of connections.
"""

from __future__ import annotations

import shlex
from typing import Any

from . import wire

SEP = ":"
# Keys whose string values are ids of the host's workspaces or sessions, in any answer.
ID_KEYS = frozenset({"session_id", "workspace_id"})


def split(value: str) -> tuple[str, str] | None:
    """``("gpu-box", "myrepo-001")`` for ``gpu-box:myrepo-001``; None for a local id."""
    host, sep, rest = value.partition(SEP)
    if not sep:
        return None
    return host, rest


def join(host: str, value: str) -> str:
    return f"{host}{SEP}{value}"


def _host_of(host: str, item: dict[str, Any]) -> str:
    inner = item.get("host")
    # A host that aggregates hosts of its own: the chain of names, as its ids have it.
    return join(host, inner) if isinstance(inner, str) and inner else host


def workspaces(host: str, payload: Any, *, ssh: str = "") -> list[dict[str, Any]]:
    """A host's ``sessions`` payload as this server shows it: every workspace and session id
    (and every id they point to) prefixed with ``host:``, ``host`` set; for a host reached by
    ``ssh``, each ``attach_cmd`` wrapped in ``ssh -t <destination>`` so it can be pasted here.
    Items that are not workspace-shaped (a server of another version, a broken one) are left
    out, never raised."""
    if not isinstance(payload, list):
        return []
    out: list[dict[str, Any]] = []
    for w in payload:
        if not isinstance(w, dict) or not isinstance(w.get("id"), str):
            continue
        ws = dict(w)
        ws["id"] = join(host, w["id"])
        ws["host"] = _host_of(host, w)
        sessions = w.get("sessions")
        ws["sessions"] = [
            _session(host, s, ssh)
            for s in (sessions if isinstance(sessions, list) else [])
            if isinstance(s, dict) and isinstance(s.get("id"), str)
        ]
        conflicts = w.get("conflicts")
        if isinstance(conflicts, list):
            ws["conflicts"] = [_conflict(host, c) for c in conflicts if isinstance(c, dict)]
        out.append(ws)
    out.sort(key=lambda w: str(w["id"]))
    return out


def _session(host: str, s: dict[str, Any], ssh: str) -> dict[str, Any]:
    out = dict(s)
    if ssh and isinstance(s.get("attach_cmd"), str):
        out["attach_cmd"] = f"ssh -t {shlex.quote(ssh)} {shlex.quote(s['attach_cmd'])}"
    out["id"] = join(host, s["id"])
    if isinstance(s.get("workspace_id"), str):
        out["workspace_id"] = join(host, s["workspace_id"])
    out["host"] = _host_of(host, s)
    return out


def _conflict(host: str, c: dict[str, Any]) -> dict[str, Any]:
    other = c.get("with")
    if isinstance(other, str) and other != "base":
        return {**c, "with": join(host, other)}
    return dict(c)


def answer(host: str, value: Any, *, id_keys: frozenset[str] = ID_KEYS) -> Any:
    """A host's JSON answer with the ids it names prefixed (``session_id``, ``workspace_id``
    and whatever else ``id_keys`` names), at any depth."""
    if isinstance(value, list):
        return [answer(host, v, id_keys=id_keys) for v in value]
    if isinstance(value, dict):
        return {
            k: join(host, v)
            if k in id_keys and isinstance(v, str) and v
            else answer(host, v, id_keys=id_keys)
            for k, v in value.items()
        }
    return value


def request_body(host: str, body: dict[str, Any]) -> dict[str, Any]:
    """A request's body as the host must see it: no ``host``, its own ids without the prefix."""
    out = {k: v for k, v in body.items() if k != "host"}
    for key in ID_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            owner = split(value)
            if owner is not None and owner[0] == host:
                out[key] = owner[1]
    return out


def merged_json(local: list[dict[str, Any]], hosts: list[tuple[str, str]]) -> str:
    """The JSON array of ``local`` workspaces and the hosts' ones, in one order by id, from
    each host's workspaces already encoded: ``(first id, "w1,w2,...")`` per host, as
    ``encode_block`` gives them. A host's ids all begin with ``<name>:`` and a local id holds
    no ``:``, so in id order a host's workspaces are one run that no other id falls inside:
    the runs are placed whole, and only the local workspaces are encoded again."""
    items = [(str(w["id"]), wire.encode(w)) for w in local]
    items.extend(block for block in hosts if block[1])
    items.sort(key=lambda item: item[0])
    return "[" + ",".join(text for _, text in items) + "]"


def encode_block(workspaces: list[dict[str, Any]]) -> tuple[str, str]:
    """One host's workspaces (``workspaces`` gave them, in id order) for ``merged_json``."""
    if not workspaces:
        return "", ""
    return str(workspaces[0]["id"]), wire.encode(workspaces)[1:-1]
