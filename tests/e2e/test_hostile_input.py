"""Hostile input against a real server: thousands of generated requests, zero 5xx (issue 7)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Server, log_text, wait_for

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


PATHS = [
    ("POST", "/api/dispose/{id}"),
    ("POST", "/api/dispose-workspace/{id}"),
    ("PUT", "/api/sessions-nickname/{id}"),
    ("PATCH", "/api/sessions-nickname/{id}"),
    ("POST", "/api/sessions/{id}/nudge"),
    ("DELETE", "/api/sessions/{id}/nudge"),
    ("GET", "/api/sessions"),
    ("GET", "/api/config"),
    ("POST", "/api/workspaces/scan"),
    ("GET", "/{id}"),
]


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
        ],
    })  # fmt: skip
    srv.start()
    yield srv
    srv.stop()
    srv.kill_tmux()
    subprocess.run(["rm", "-rf", str(root)])


def check(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.request.method, r.request.url, r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    if r.status_code >= 400 and r.request.url.path.startswith("/api/"):
        body = r.json()
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]


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
