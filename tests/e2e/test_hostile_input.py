"""Hostile input against a real server: thousands of generated requests, zero 5xx (issue 7)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import DashboardClient, Server, log_text, wait_for

NASTY = [
    "$(touch /tmp/sx-pwned)", "`touch /tmp/sx-pwned`", "; touch /tmp/sx-pwned;", "#{session_name}",
    "'\"", "a\nb", "\u0000", "../../etc/passwd", "%2e%2e%2f", "ünïcødé ✓ 🚀", "-rf", "--help",
    "x" * 5000, "", " ", "\\", "@{-1}", "refs/heads/x", "a;", "a\\;", "\t",
]  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40) | st.sampled_from(NASTY),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)  # fmt: skip
ids = st.sampled_from(NASTY) | st.text(max_size=60)
texts = st.sampled_from(NASTY) | st.text(max_size=80)


def spawn_bodies(targets: list[str]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {},
        optional={
            "repo": st.sampled_from(["proj", "nope"]) | texts | json_values,
            "branch": texts | json_values,
            "prompt": texts | json_values,
            "nickname": texts | json_values,
            "targets": st.dictionaries(
                st.sampled_from(targets) | texts, st.integers(-3, 3) | json_values, max_size=3
            )
            | json_values,
            "workspace_id": ids | json_values,
        },
    )


def _routes_of_the_app() -> list[tuple[str, str, str, bool]]:
    """(endpoint, method, rule, is_websocket) for every rule the app registers."""
    from backend.app import create_app
    from backend.services import Settings
    from tests.helpers import short_tmp

    tmp = short_tmp()
    try:
        app = create_app(Settings(data_dir=tmp / "d", token="x" * 16))
        out = []
        for rule in app.url_map.iter_rules():
            for method in sorted(rule.methods or ()):
                out.append((rule.endpoint, method, rule.rule, bool(rule.websocket)))
        return out
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])


ROUTES = _routes_of_the_app()
HTTP_ROUTES = [r for r in ROUTES if not r[3]]
WS_ROUTES = sorted({(r[0], r[2]) for r in ROUTES if r[3]})
ARG = re.compile(r"<(?:\w+:)?(\w+)>")


# Every HTTP route of the URL map with every method it takes, ids as {id}: a new route is fuzzed
# without being listed anywhere.
PATHS = sorted({(method, ARG.sub("{id}", rule)) for _, method, rule, _ in HTTP_ROUTES})


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.helpers import make_repo, short_tmp

    root = short_tmp()
    origin = make_repo(root / "origin")
    srv = Server(data_dir=root / "d", token="fuzz-token-0123456789")
    srv.write_config({
        "repos": [{"name": "proj", "url": str(origin)}],
        "run_targets": [
            {"name": "sleeper", "type": "command", "command": "sleep 600"},
            {"name": "echo", "type": "promptable", "command": "printf 'P<%s>\\n'"},
            {"name": "shell", "type": "command", "command": "bash --norc --noprofile"},
        ],
    })  # fmt: skip
    # open-vscode is fuzzed too: no editor, terminal or file manager may open on this machine
    path = [d for d in os.environ.get("PATH", "").split(":") if d and not Path(d, "code").exists()]
    srv.env = {"PATH": ":".join(path), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    srv.start()
    yield srv
    srv.stop()
    srv.kill_tmux()
    subprocess.run(["rm", "-rf", str(root)])


# The two routes whose errors also carry schmux's `success` and `message` keys.
SCHMUX_TOLD = ("/api/open-vscode/", "/api/diff-external/")


def check(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.request.method, r.request.url, r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    if (
        r.status_code >= 400
        and r.request.url.path.startswith("/api/")
        and r.request.method != "HEAD"
    ):
        assert r.headers.get("content-type", "").startswith("application/json"), (
            r.request.method,
            str(r.request.url)[:200],
            r.status_code,
            r.headers,
            r.text[:300],
        )
        body = r.json()
        assert isinstance(body.get("error"), str) and body["error"]
        told = {"error": body["error"], "success": False, "message": body["error"]}
        if r.request.url.path.startswith(SCHMUX_TOLD) and body == told:
            pass  # schmux's client shows `message` there (docs/SCHMUX-COMPAT.md): the same words
        else:
            assert set(body) == {"error"}


FUZZ = settings(
    max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)


@FUZZ
@given(st.sampled_from(PATHS), ids, json_values | st.binary(max_size=200))
def test_every_endpoint_with_garbage(
    fuzz_server: Server, route: tuple[str, str], id_: str, body: Any
) -> None:
    method, path = route
    url = path.replace("{id}", quote(id_, safe="") or "x")
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    with httpx.Client(
        base_url=fuzz_server.base, headers=fuzz_server.write_headers, timeout=30
    ) as c:
        check(c.request(method, url, **kwargs))


@settings(
    max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(st.data())
def test_spawn_and_config_with_garbage(fuzz_server: Server, data: st.DataObject) -> None:
    with httpx.Client(
        base_url=fuzz_server.base, headers=fuzz_server.write_headers, timeout=60
    ) as c:
        if data.draw(st.booleans()):
            body = data.draw(spawn_bodies(["sleeper", "echo"]))
            r = c.post("/api/spawn", json=body)
            check(r)
            if r.status_code == 200:  # keep the box tidy: dispose what got created
                for item in r.json():
                    if "session_id" in item:
                        c.post(f"/api/dispose/{item['session_id']}")
        else:
            patch = data.draw(st.dictionaries(
                st.sampled_from(["sessions", "terminal", "xterm", "server", "allowed_origins", "source_code_management", "unknown"]),
                json_values, max_size=3,
            ))  # fmt: skip
            check(c.post("/api/config", json=patch))


def test_server_healthy_after_fuzzing(fuzz_server: Server) -> None:
    assert httpx.get(fuzz_server.base + "/api/healthz").status_code == 200
    assert "Traceback" not in fuzz_server.stderr()
    assert not Path("/tmp/sx-pwned").exists()
    state = fuzz_server.data_dir / "state.json"
    if state.exists():  # only written once some change succeeded
        assert json.loads(state.read_text())["version"] == 1


def test_metacharacters_in_names_go_through_literally(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    marker = short_dir / "PWNED"
    srv = make_server()
    branch = f"x$(touch_{marker.name})`touch_{marker.name}`;#{{session_name}}'q\"a"
    nickname = "$(id) `id` ; #{pane_pid} \"' ✓"
    prompt = f"$(touch {marker}) `touch {marker}`\n;#{{pane_pid}}\\"
    body = {
        "repo": "proj",
        "branch": branch,
        "targets": {"echo": 1},
        "nickname": nickname,
        "prompt": prompt,
    }
    r = httpx.post(f"{srv.base}/api/spawn", headers=srv.headers, json=body)
    assert r.status_code == 200, r.text
    item = r.json()[0]
    sid = item["session_id"]
    assert item["nickname"] == nickname
    w = srv.workspace(item["workspace_id"])
    assert w is not None and w["branch"] == branch
    wait_for(lambda: "PROMPT<" in log_text(srv, sid), timeout=5)
    assert f"PROMPT<$(touch {marker}) `touch {marker}`" in log_text(srv, sid)
    assert not marker.exists() and not (Path(w["path"]) / marker.name).exists()


EDGE_BODIES = {
    "deep array": "[" * 100_000 + "]" * 100_000,
    "deep object": '{"targets":' + '{"a":' * 3000 + "1" + "}" * 3000 + "}",
    "huge integer": '{"targets":{"sleeper":'
    + "9" * 5000
    + '},"terminal":{"width":'
    + "9" * 5000
    + "}}",
    "NaN": '{"targets":{"sleeper":NaN},"terminal":{"width":Infinity}}',
    "huge float": '{"terminal":{"width":1e999}}',
    "lone surrogate": (
        '{"repo":"proj","branch":"\\ud800b","prompt":"\\udfff","nickname":"\\ud800","state":'
        '"\\ud800","summary":"\\udc00","request_id":"\\ud800","workspace_path":"/tmp/\\ud800",'
        '"targets":{"sleeper":1}}'
    ),
    "surrogate key": '{"\\ud800":1,"targets":{"\\udbff":1}}',
    "surrogate in a list": '{"repos":[{"name":"\\ud800","url":"/x"}],"run_targets":[{"name":"a\\udc00"}]}',
}
EDGE_ROUTES = [
    ("POST", "/api/spawn"),
    ("POST", "/api/config"),
    ("PUT", "/api/config"),
    ("PUT", "/api/sessions-nickname/{sid}"),
    ("POST", "/api/sessions/{sid}/nudge"),
    ("POST", "/api/dispose-workspace/{wid}"),
]


def test_hostile_json_at_the_edge_is_a_400_never_a_500(fuzz_server: Server) -> None:
    """Deep nesting, thousands of digits, NaN and unpaired surrogates in every field: 400 with a
    reason (each was a 500 with a traceback), and nothing reaches the state or the config."""
    with httpx.Client(
        base_url=fuzz_server.base, headers=fuzz_server.write_headers, timeout=30
    ) as c:
        config_before = c.get("/api/config").json()
        item = c.post(
            "/api/spawn", json={"repo": "proj", "branch": "edge", "targets": {"sleeper": 1}}
        ).json()[0]
        sid, wid = item["session_id"], item["workspace_id"]
        for name, body in EDGE_BODIES.items():
            for method, path in EDGE_ROUTES:
                r = c.request(method, path.format(sid=sid, wid=wid), content=body)
                assert r.status_code == 400, (name, method, path, r.status_code, r.text[:200])
                assert set(r.json()) == {"error"} and len(r.json()["error"]) < 300
        assert c.get("/api/config").json() == config_before
        session = next(
            s for w in c.get("/api/sessions").json() for s in w["sessions"] if s["id"] == sid
        )
        assert session["nickname"] == "" and session["nudge_state"] == ""
        c.post(f"/api/dispose/{sid}").raise_for_status()
    assert "Traceback" not in fuzz_server.stderr()


@pytest.mark.parametrize("host", ["a..b", "a b", "[::1", "x" * 300, ".", "a:99999999", "a\tb"])
def test_a_bad_host_header_gets_a_json_400(fuzz_server: Server, host: str) -> None:
    r = httpx.get(
        fuzz_server.base + "/api/healthz", headers={"Host": host.encode().decode("latin-1")}
    )
    assert r.status_code == 400 and "Host" in r.json()["error"]
    r = httpx.get(fuzz_server.base + "/", headers={"Host": host.encode().decode("latin-1")})
    assert r.status_code == 400
    assert "Traceback" not in fuzz_server.stderr()


# -- every route, every string field, every hostile class (issue 12) -----------------------------
#
# The routes come from the app's own URL map, so a route added later is fuzzed without anyone
# listing it here. Each hostile value is sent as raw JSON text (httpx's json= cannot encode a lone
# surrogate, and Python refuses to print an integer of 5000 digits).


@dataclass(frozen=True)
class Raw:
    """JSON text sent as is."""

    text: str


def dumps(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)  # ensure_ascii: a lone surrogate becomes the escape \ud800


MIB = 1 << 20
HOSTILE: dict[str, list[Any]] = {
    "surrogate": ["\ud800", "a\udfffb", "\udc00\ud800", "\udbff"],
    "huge int": [
        Raw("9" * 5000),
        Raw("-" + "9" * 19),
        Raw("1e999"),
        Raw("-1e999"),
        2**63,
        10**18 - 1,
        -(10**18) + 1,
    ],
    "nesting": [
        Raw("[" * 40 + "]" * 40),
        Raw("[" * 100_000 + "]" * 100_000),
        Raw('{"a":' * 3000 + "1" + "}" * 3000),
    ],
    "control": [
        "\x00",
        "\x1b[2J\x1b]0;title\x07",
        "a\r\nb",
        "\x7f\x08\x08",
        "\u2028\u2029\ufeff",
        "\t\v\f",
        "#{pane_pid}#(touch /tmp/sx-pwned)#S",
    ],
    "1 MiB": ["x" * MIB, "é" * (MIB // 2), "y" * (MIB - 4096)],
}
CLASSES = list(HOSTILE)

# Where a string goes in a body: (endpoint, path in the body, a valid body to put it in). The
# base bodies are valid, so the hostile value is what the handler meets, not a missing field.
SPAWN_NEW = {"repo": "proj", "branch": "fz-new", "targets": {"sleeper": 1}}
SPAWN_IN = {"workspace_id": "{wid}", "targets": {"sleeper": 1}}
TARGET = {"name": "t", "type": "command", "command": "true"}
REVIEW = {"session_id": "{sid}", "comments": [{"path": "README.md", "line": 1, "body": "b"}]}
MARK = {"round_id": "r1", "index": 0, "addressed": True}
RANGE = {"path": "README.md", "line": 1, "end_line": 2, "body": "b"}
PENDING = {"comments": [RANGE]}
FIELDS: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {
    "api.spawn": [
        (("repo",), SPAWN_NEW),
        (("branch",), SPAWN_NEW),
        (("request_id",), SPAWN_NEW),
        (("prompt",), {**SPAWN_IN, "targets": {"echo": 1}}),
        (("nickname",), SPAWN_IN),
        (("workspace_id",), SPAWN_IN),
        (("request_id",), SPAWN_IN),
        (("targets", "sleeper"), SPAWN_IN),
        (("targets", None), SPAWN_IN),  # None: the value as a key
        (("host",), SPAWN_IN),
    ],
    "api.set_config": [
        (("workspace_path",), {}),
        (("source_code_management",), {}),
        (("repos", 0, "url"), {"repos": [{"name": "fz", "url": "/nonexistent"}]}),
        (("repos", 0, "name"), {"repos": [{"name": "fz", "url": "/nonexistent"}]}),
        (("run_targets", 0, "name"), {"run_targets": [dict(TARGET)]}),
        (("run_targets", 0, "type"), {"run_targets": [dict(TARGET)]}),
        (("run_targets", 0, "command"), {"run_targets": [dict(TARGET)]}),
        (("terminal", "width"), {}),
        (("sessions", "dashboard_debounce_ms"), {}),
        (("sessions", "git_clone_timeout_ms"), {}),
        (("workspaces", "snapshot_keep_days"), {}),
        (("allowed_origins", 0), {"allowed_origins": ["http://x"]}),
        (("hosts", 0, "name"), {"hosts": [{"name": "h", "url": "http://127.0.0.1:9"}]}),
        (("hosts", 0, "url"), {"hosts": [{"name": "h", "url": "http://127.0.0.1:9"}]}),
        (("hosts", 0, "token"), {"hosts": [{"name": "h", "url": "http://127.0.0.1:9"}]}),
        (("hosts", 0, "ssh"), {"hosts": [{"name": "h", "ssh": "me@lab", "remote_port": 9}]}),
        (
            ("hosts", 0, "remote_port"),
            {"hosts": [{"name": "h", "ssh": "me@lab", "remote_port": 9}]},
        ),
        (("hosts", 0, "has_token"), {"hosts": [{"name": "h", "url": "http://127.0.0.1:9"}]}),
        (("hosts", 0), {"hosts": [{"name": "h", "url": "http://127.0.0.1:9"}]}),
        (("quick_launch", 0, "name"), {"quick_launch": [{"name": "q", "target": "echo"}]}),
        (("quick_launch", 0, "target"), {"quick_launch": [{"name": "q", "target": "echo"}]}),
        (("quick_launch", 0, "prompt"), {"quick_launch": [{"name": "q", "target": "echo"}]}),
        (("nudgenik", "target"), {}),
        (("branch_suggest", "target"), {}),
        (("run_targets", 0, "source"), {"run_targets": [dict(TARGET)]}),
        (("unknown-key",), {}),
        ((None,), {}),
    ],
    "api.test_host": [
        (("name",), {"name": "h", "url": "http://127.0.0.1:9"}),
        (("url",), {"name": "h", "url": "http://127.0.0.1:9"}),
        (("token",), {"name": "h", "url": "http://127.0.0.1:9"}),
        (("remote_port",), {"name": "h", "ssh": "-refused", "remote_port": 9}),
    ],
    "compat.check_branch_conflict": [
        (("repo",), {"repo": "proj", "branch": "b"}),
        (("branch",), {"repo": "proj", "branch": "b"}),
        (("host",), {"repo": "proj", "branch": "b"}),
    ],
    "compat.suggest_branch": [(("prompt",), {"prompt": "p"})],
    "api.nickname": [(("nickname",), {"nickname": "n"})],
    "api.set_nudge": [(("state",), {"state": "s"}), (("summary",), {"state": "s"})],
    "api.dispose_workspace": [(("force",), {}), (("value",), {"force": True})],
    "api.review": [
        (("session_id",), REVIEW),
        (("comments", 0, "path"), REVIEW),
        (("comments", 0, "line"), REVIEW),
        (("comments", 0, "body"), REVIEW),
        (("comments", 0), REVIEW),
        (("comments", 0, "end_line"), REVIEW),
        (("comments",), REVIEW),  # absent or null: the pending round is sent
        (("session_id",), {"session_id": "{sid}"}),
    ],
    "api.add_pending_comments": [
        (("comments", 0, "path"), PENDING),
        (("comments", 0, "line"), PENDING),
        (("comments", 0, "end_line"), PENDING),
        (("comments", 0, "body"), PENDING),
        (("comments", 0, "unknown-key"), PENDING),
        (("comments", 0), PENDING),
        (("comments",), PENDING),
    ],
    "api.mark_comment": [(("round_id",), MARK), (("index",), MARK), (("addressed",), MARK)],
}
# Any other route (and one added later) gets the value at the top of a body, and as the body.
GENERIC = [(("value",), {})]


def _put(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(body, list):
        body = list(body)
        body[head] = _put(body[head], rest, value)
        return body
    body = dict(body)
    if head is None:  # the hostile value as a key (keys are strings: only string values)
        return {**body, (value if isinstance(value, str) else "k"): 1}
    body[head] = _put(body.get(head, {}), rest, value)
    return body


@dataclass
class Tally:
    requests: int = 0
    frames: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    routes: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)

    def count(self, klass: str, route: str, status: int | None = None) -> None:
        self.by_class[klass] = self.by_class.get(klass, 0) + 1
        self.routes.add(route)
        if status is not None:
            self.requests += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
        else:
            self.frames += 1


TALLY = Tally()
SNAPSHOTS = itertools.count(1)


class Fixtures:
    """Real ids for the fuzz to aim at (a session, its workspace, a snapshot), made again when a
    request disposed or restored them."""

    def __init__(self, srv: Server, c: httpx.Client) -> None:
        self.srv, self.c = srv, c
        self.baseline = c.get("/api/config").json()

    def ids(self) -> dict[str, str]:
        live = self.c.get("/api/sessions").json()
        ws = next((w for w in live if w["branch"] == "fz-main"), None)
        if ws is None or not ws["sessions"]:
            where = {"workspace_id": ws["id"]} if ws else {"repo": "proj", "branch": "fz-main"}
            item = self.spawn({**where, "targets": {"shell": 1}})
            ws = {"id": item["workspace_id"], "sessions": [{"id": item["session_id"]}]}
        snaps = self.c.get("/api/disposed").json()
        snap = snaps[0]["id"] if snaps else "none-yet"
        return {
            "session_id": ws["sessions"][0]["id"],
            "workspace_id": ws["id"],
            "snapshot_id": snap,
        }

    def spawn(self, body: dict[str, Any]) -> dict[str, Any]:
        r = self.c.post("/api/spawn", json=body)
        assert r.status_code == 200 and "session_id" in r.json()[0], r.text
        return r.json()[0]  # type: ignore[no-any-return]

    def make_snapshot(self) -> None:
        branch = f"fz-snap-{next(SNAPSHOTS)}"
        item = self.spawn({"repo": "proj", "branch": branch, "targets": {"sleeper": 1}})
        self.c.post(f"/api/dispose/{item['session_id']}").raise_for_status()
        path = Path(
            next(w for w in self.c.get("/api/sessions").json() if w["id"] == item["workspace_id"])[
                "path"
            ]
        )
        (path / "scratch.txt").write_text("kept\n")
        r = self.c.post(f"/api/dispose-workspace/{item['workspace_id']}", json={"force": True})
        assert r.status_code == 200, r.text

    def tidy(self) -> None:
        """Undo what a hostile request was allowed to do: config back, extra sessions gone."""
        if self.c.get("/api/config").json() != self.baseline:
            keys = {
                k: self.baseline[k]
                for k in (
                    "repos",
                    "run_targets",
                    "allowed_origins",
                    "terminal",
                    "sessions",
                    "xterm",
                    "workspaces",
                    "server",
                    "source_code_management",
                )
            }
            r = self.c.post(
                "/api/config",
                json={**keys, "workspace_path": self.baseline["workspace_path"], "hosts": []},
            )
            assert r.status_code == 200, r.text
        for w in self.c.get("/api/sessions").json():
            extra = w["sessions"][1:] if w["branch"] == "fz-main" else w["sessions"]
            for s in extra:
                self.c.post(f"/api/dispose/{s['id']}")


def _url(rule: str, ids: dict[str, str], hostile_arg: str | None = None) -> str:
    share = 16 * 1024 // max(1, len(ARG.findall(rule)))  # per id in the path

    def fill(m: re.Match[str]) -> str:
        if hostile_arg is not None:  # a lone surrogate: its bytes (%ED%A0%80), not UTF-8
            # (httpx sends no URL over 64 KiB: a 1 MiB id is cut to 16 KiB, 48 KiB encoded,
            # shared between the ids of a path with several)
            raw = hostile_arg.encode("utf-8", "surrogatepass")[:share]
            return quote(raw, safe="") or "x"
        return ids.get(m.group(1), "index.html")

    return ARG.sub(fill, rule)


def _send(
    c: httpx.Client, method: str, url: str, body: str | None, klass: str, endpoint: str
) -> httpx.Response:
    r = c.request(method, url, content=body.encode("utf-8") if body is not None else None)
    TALLY.count(klass, endpoint, r.status_code)
    check(r)
    return r


@pytest.mark.parametrize("klass", CLASSES)
def test_every_route_and_string_field_with_each_hostile_class(
    fuzz_server: Server, klass: str
) -> None:
    """Each class × every route of the URL map × every string field the route reads (and the id in
    its path, and the whole body): never a 5xx, always an ``{"error"}`` a person can read."""
    with httpx.Client(
        base_url=fuzz_server.base, headers=fuzz_server.write_headers, timeout=60
    ) as c:
        fx = Fixtures(fuzz_server, c)
        fx.make_snapshot()
        for endpoint, method, rule, _ in HTTP_ROUTES:
            for value in HOSTILE[klass]:
                ids = fx.ids()
                if endpoint == "api.restore" and ids["snapshot_id"] == "none-yet":
                    fx.make_snapshot()
                    ids = fx.ids()
                for path, base in FIELDS.get(endpoint, GENERIC):
                    body = _put(
                        json.loads(
                            json.dumps(base)
                            .replace("{wid}", ids["workspace_id"])
                            .replace("{sid}", ids["session_id"])
                        ),
                        path,
                        value,
                    )
                    _send(c, method, _url(rule, ids), dumps(body), klass, endpoint)
                _send(c, method, _url(rule, ids), dumps(value), klass, endpoint)  # as the body
                if ARG.search(rule) and isinstance(value, str):
                    _send(c, method, _url(rule, ids, hostile_arg=value), "{}", klass, endpoint)
                fx.tidy()
    assert "Traceback" not in fuzz_server.stderr()


def _frames(value: Any) -> list[str]:
    """Terminal frames carrying ``value`` in every field a frame has, and as the frame."""
    return [
        dumps({"type": "input", "data": value}),
        dumps({"type": "resize", "cols": value, "rows": 24}),
        dumps({"type": "resize", "cols": 80, "rows": value}),
        dumps({"type": value, "data": "x"}),
        dumps(value),
    ]


ALLOWED_CLOSE = {1009}  # a frame over 64 KiB; anything else (1011 above all) is a failure


class Socket:
    """A WebSocket client that reads all the time (a client that stops reading stops answering
    pings) and checks what it reads: JSON objects, an ``error`` frame with a readable reason."""

    def __init__(self, url: str, srv: Server) -> None:
        self.url, self.srv = url, srv
        self.ws: Any = None
        self.errors: list[str] = []
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.ws = await websockets.connect(
            self.url, additional_headers=self.srv.headers, max_size=None
        )
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))

    async def _read(self, ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                message = json.loads(raw)
                assert isinstance(message, dict) and "type" in message, raw[:200]
                if message["type"] == "error":
                    assert isinstance(message["error"], str) and 0 < len(message["error"]) < 400
                    self.errors.append(message["error"])

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader  # re-raises what the reader found wrong
        self.ws = self._reader = None


async def _ws_fuzz(srv: Server, path: str, klass: str, endpoint: str) -> int:
    """Every frame of ``_frames`` for every value of the class, over one socket (a new one after
    an allowed close). Returns how many error frames the server answered."""
    sock = Socket(srv.ws_base + path, srv)
    errors = 0
    try:
        for value in HOSTILE[klass]:
            for frame in _frames(value):
                if sock.ws is None:
                    await sock.open()
                TALLY.count(klass, endpoint)
                try:
                    await sock.ws.send(frame)
                    await asyncio.wait_for(await sock.ws.ping(), 30)  # the frame was handled
                except websockets.ConnectionClosed as e:
                    code = e.rcvd.code if e.rcvd else None
                    assert code in ALLOWED_CLOSE, (path, klass, frame[:80], code)
                    size = len(frame.encode("utf-8", "surrogatepass"))
                    assert size > 64 * 1024, (code, frame[:80])
                    errors += len(sock.errors)
                    await sock.close()
    finally:
        errors += len(sock.errors)
        await sock.close()
    return errors


@pytest.mark.parametrize("klass", CLASSES)
async def test_both_websockets_with_each_hostile_class(fuzz_server: Server, klass: str) -> None:
    """Every WebSocket route of the URL map: hostile frames (terminal input and resize, anything on
    the dashboard socket, which ignores them) and hostile ids in the path (404 before upgrade).
    The sockets stay open (a frame over 64 KiB: 1009) and still work afterwards."""
    srv = fuzz_server
    with httpx.Client(base_url=srv.base, headers=srv.write_headers, timeout=60) as c:
        ids = Fixtures(srv, c).ids()
    for endpoint, rule in WS_ROUTES:
        await _ws_fuzz(srv, _url(rule, ids), klass, endpoint)
        if ARG.search(rule):
            for value in HOSTILE[klass]:
                if not isinstance(value, str):
                    continue
                TALLY.count(klass, endpoint)
                with pytest.raises(websockets.InvalidStatus) as info:
                    async with websockets.connect(
                        srv.ws_base + _url(rule, ids, hostile_arg=value),
                        additional_headers=srv.headers,
                    ):
                        pass
                assert info.value.response.status_code in (400, 404, 414, 431), klass
    # the terminal still types and shows; the dashboard still pushes
    sid = ids["session_id"]
    async with (
        websockets.connect(
            f"{srv.ws_base}/ws/terminal/{sid}", additional_headers=srv.headers, max_size=None
        ) as term,
        DashboardClient(srv) as dash,
    ):
        # The hostile input left some line behind (how much of it readline kept depends on
        # timing): Ctrl-C drops it first (a frame of its own: the tty flushes what was typed
        # before the interrupt reached bash), then the command, again if it was flushed.
        seen = ""
        deadline = asyncio.get_running_loop().time() + 15
        while "fuzz-42-alive" not in seen:
            await term.send(json.dumps({"type": "input", "data": "\x03"}))
            await asyncio.sleep(0.3)
            await term.send(json.dumps({"type": "input", "data": "echo fuzz-$((6*7))-alive\r"}))
            tried = asyncio.get_running_loop().time() + 3
            while "fuzz-42-alive" not in seen:
                remaining = min(deadline, tried) - asyncio.get_running_loop().time()
                assert deadline - asyncio.get_running_loop().time() > 0, seen[-300:]
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    frame = await asyncio.wait_for(term.recv(), remaining)
                    seen += json.loads(frame).get("content", "")
        async with httpx.AsyncClient(base_url=srv.base, headers=srv.write_headers) as ac:
            await ac.put(f"/api/sessions-nickname/{sid}", json={"nickname": f"fz-{klass}"})
        await dash.wait(
            lambda ws: any(s["nickname"] == f"fz-{klass}" for w in ws for s in w["sessions"])
        )
        await dash.ws.send(dumps(HOSTILE[klass][0]))
        assert dash.closed_code is None
    assert "Traceback" not in srv.stderr()


async def test_a_hostile_request_id_closes_no_dashboard(fuzz_server: Server) -> None:
    """A spawn's request_id travels in every workspace_progress push: no value of any class may
    close the five dashboards connected meanwhile (a lone surrogate closed all of them)."""
    srv = fuzz_server
    dashboards = [DashboardClient(srv) for _ in range(5)]
    for d in dashboards:
        await d.__aenter__()
    try:
        async with httpx.AsyncClient(base_url=srv.base, headers=srv.write_headers, timeout=60) as c:
            for klass in CLASSES:
                for value in HOSTILE[klass]:
                    branch = f"fz-rid-{next(SNAPSHOTS)}"
                    body = {"repo": "proj", "branch": branch, "targets": {"sleeper": 1}}
                    r = await c.post("/api/spawn", content=dumps({**body, "request_id": value}))
                    TALLY.count(klass, "api.spawn", r.status_code)
                    check(r)
                    for d in dashboards:
                        assert d.closed_code is None, (klass, repr(value)[:60], d.closed_code)
                    if r.status_code == 200:
                        for d in dashboards:
                            await d.wait(lambda ws, b=branch: any(w["branch"] == b for w in ws))
                        await c.post(f"/api/dispose/{r.json()[0]['session_id']}")
    finally:
        for d in dashboards:
            await d.__aexit__(None, None, None)
    assert "Traceback" not in srv.stderr()


ALL_HOSTILE = [(k, v) for k, values in HOSTILE.items() for v in values]
FIELD_NAMES = sorted(
    {str(p[0]) for fields in FIELDS.values() for p, _ in fields if p[0] is not None}
    | {"state", "summary", "force", "data", "cols", "rows", "type"}
)
hostile_bodies = st.recursive(
    st.sampled_from(ALL_HOSTILE).map(lambda kv: kv[1]) | json_values,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=6,
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@given(st.sampled_from(HTTP_ROUTES), hostile_bodies, st.booleans())
def test_hostile_values_mixed_anywhere_in_any_route(
    fuzz_server: Server, route: tuple[str, str, str, bool], body: Any, real_ids: bool
) -> None:
    """Hostile values of every class mixed with ordinary JSON, under the fields the routes read,
    at any depth, on any route of the URL map (real ids or hostile ones in the path)."""
    endpoint, method, rule, _ = route
    with httpx.Client(
        base_url=fuzz_server.base, headers=fuzz_server.write_headers, timeout=60
    ) as c:
        fx = Fixtures(fuzz_server, c)
        ids = fx.ids() if real_ids else {}
        url = _url(rule, ids) if real_ids else _url(rule, ids, hostile_arg="\ud800#{S}\x00")
        _send(c, method, url, dumps(body), "mixed", endpoint)
        if real_ids:
            fx.tidy()


async def test_a_body_over_the_limit_gets_its_413_never_a_reset(fuzz_server: Server) -> None:
    """The 413 came before the client finished sending; the close after it reset the connection,
    and 1 request in 6 saw no answer at all (httpx ReadError). Now the body is read and dropped
    first, and the answer says the connection closes."""
    bodies = ['"' + "x" * MIB + '"', dumps({"request_id": "é" * (MIB // 2)}), "[" * (3 * MIB)]
    async with httpx.AsyncClient(
        base_url=fuzz_server.base, headers=fuzz_server.write_headers, timeout=60
    ) as c:
        for _ in range(20):
            for body in bodies:
                r = await c.post("/api/spawn", content=body)
                TALLY.count("1 MiB", "api.spawn", r.status_code)
                assert r.status_code == 413 and r.headers["connection"] == "close"
                assert "too large" in r.json()["error"]
                assert (await c.get("/api/healthz")).status_code == 200


def test_the_server_is_well_after_all_of_it(fuzz_server: Server) -> None:
    """Run last in this module: the figures for docs/RELIABILITY.md, and the server's health."""
    import statistics
    import time

    from backend.store import StateStore

    times = []
    for _ in range(10):
        t = time.perf_counter()
        assert httpx.get(fuzz_server.base + "/api/healthz").status_code == 200
        times.append(time.perf_counter() - t)
    assert statistics.median(times) < 0.1, times
    log = fuzz_server.stderr()
    assert "Traceback" not in log
    assert not Path("/tmp/sx-pwned").exists()
    StateStore(fuzz_server.data_dir / "state.json").load()  # valid, every field of its type
    config = json.loads((fuzz_server.data_dir / "config.json").read_text())
    assert isinstance(config, dict)
    print(
        f"\nhostile fuzz: {TALLY.requests} requests, {TALLY.frames} WebSocket frames or upgrades;"
        f" by class {dict(sorted(TALLY.by_class.items()))};"
        f" {len(TALLY.routes)} endpoints of {len({r[0] for r in ROUTES})} in the URL map;"
        f" statuses {dict(sorted(TALLY.statuses.items()))};"
        f" healthz median {statistics.median(times) * 1000:.1f} ms"
    )
    if TALLY.requests:  # the matrix ran in this session: it covered every route
        assert TALLY.routes >= {r[0] for r in ROUTES}, {r[0] for r in ROUTES} - TALLY.routes


def test_a_long_request_head_sent_in_pieces_gets_the_apps_answer(fuzz_server: Server) -> None:
    """A 40 KiB URL whose head arrives in 1 KiB pieces gets the app's JSON answer, as it does in
    one piece: at h11's default limit (16 KiB of an incomplete head) it got a bare 431 only when
    TCP cut it up (a CI run of the fuzz)."""
    path = "/api/sessions/" + "%C3%A9" * (40 * 1024 // 6) + "/nudge"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{fuzz_server.port}\r\n"
        f"Authorization: Bearer {fuzz_server.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    ).encode()
    with socket.create_connection(("127.0.0.1", fuzz_server.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(head), 1024):
            sock.sendall(head[i : i + 1024])
            time.sleep(0.002)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500 and status != 431, answer[:300]
    assert b"application/json" in answer.split(b"\r\n\r\n", 1)[0].lower(), answer[:300]
    assert b'"error"' in answer
