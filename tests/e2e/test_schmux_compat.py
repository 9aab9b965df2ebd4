"""schmux's own dashboard and scripts against ours: the calls its client makes (its api.ts,
docs/api.md), replayed against a real server with real git and tmux, and the shapes it reads.
See docs/SCHMUX-COMPAT.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import websockets

from tests.helpers import Server, git, until, wait_for

Make = Callable[..., Server]


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _started(make_server: Make, env: dict[str, str], **kw: Any) -> Server:
    s = make_server(start=False, **kw)
    s.env = env
    return s.start()


def _path_without(*names: str) -> str:
    """PATH with every directory holding one of ``names`` left out."""
    keep = [
        d
        for d in os.environ.get("PATH", "").split(":")
        if d and not any((Path(d) / n).exists() for n in names)
    ]
    return ":".join(keep)


# -- spawn on a new branch: the conflict check, then spawn with "workspace_id": "" -------------


def test_check_branch_conflict_then_spawn_on_a_new_branch(server: Server, origin: Path) -> None:
    with server.client() as c:
        r = c.post("/api/check-branch-conflict", json={"repo": str(origin), "branch": "feature"})
        assert r.status_code == 200 and r.json() == {"conflict": False}
        # what schmux's spawn form sends for a new workspace
        body = {
            "repo": str(origin),
            "branch": "feature",
            "prompt": "",
            "nickname": "",
            "targets": {"sleeper": 1},
            "workspace_id": "",
        }
        r = c.post("/api/spawn", json=body)
        assert r.status_code == 200, r.text
        wid = r.json()[0]["workspace_id"]
        for repo in (str(origin), "proj"):  # by url (schmux) or by name
            r = c.post("/api/check-branch-conflict", json={"repo": repo, "branch": "feature"})
            assert r.json() == {"conflict": True, "workspace_id": wid}
        r = c.post("/api/check-branch-conflict", json={"repo": "proj", "branch": "other"})
        assert r.json() == {"conflict": False}
        for bad in ({}, {"repo": "proj"}, {"repo": 1, "branch": "x"}):
            r = c.post("/api/check-branch-conflict", json=bad)
            assert r.status_code == 400 and "error" in r.json()


def test_no_branch_conflict_in_clone_mode(make_server: Make, origin: Path) -> None:
    srv = make_server({"source_code_management": "git"})
    srv.spawn(repo="proj", branch="feature", targets={"sleeper": 1})
    with srv.client() as c:
        r = c.post("/api/check-branch-conflict", json={"repo": "proj", "branch": "feature"})
        assert r.json() == {"conflict": False}


# -- payload keys --------------------------------------------------------------------------------


def test_payload_has_host_branch_and_branch_url(
    make_server: Make, origin: Path, tmp_path: Path
) -> None:
    """A repo configured by its GitHub URL (git rewrites it to the local origin here) gets a
    link to its branch on workspaces and sessions; a local repo gets ""."""
    bare = tmp_path / "gh.git"
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(bare))
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(
        Path(os.environ["GIT_CONFIG_GLOBAL"]).read_text()
        + f'[url "{bare}"]\n\tinsteadOf = https://github.com/me/app.git\n'
    )
    repos = [
        {"name": "proj", "url": str(origin)},
        {"name": "app", "url": "https://github.com/me/app.git"},
    ]
    srv = _started(make_server, {"GIT_CONFIG_GLOBAL": str(gitconfig)}, config={"repos": repos})
    a = srv.spawn(repo="app", branch="feature", targets={"sleeper": 1})[0]
    assert "error" not in a, a
    srv.spawn(repo="proj", branch="feature", targets={"sleeper": 1})
    by_id = {w["id"]: w for w in srv.sessions()}
    gh = by_id[a["workspace_id"]]
    assert gh["host"] == "" and gh["branch_url"] == "https://github.com/me/app/tree/feature"
    s = gh["sessions"][0]
    assert s["host"] == "" and s["branch"] == "feature"
    assert s["branch_url"] == gh["branch_url"]
    local = by_id["proj-001"]
    assert local["branch_url"] == "" and local["host"] == ""
    assert local["sessions"][0]["branch"] == "feature"


# -- agents on PATH ------------------------------------------------------------------------------


def test_detected_agents_are_listed_with_versions_and_spawnable(
    make_server: Make, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    _script(
        bin_dir / "claude",
        'if [ "$1" = --version ]; then echo "9.8.7 (Claude Code)"; exit 0; fi\n'
        'printf "CLAUDE<%s>\\n" "$*"; exec sleep 600\n',
    )
    path = f"{bin_dir}:{_path_without('codex', 'gemini', 'aider', 'opencode')}"
    srv = _started(make_server, {"PATH": path})
    with srv.client() as c:
        tools = c.get("/api/detect-tools").json()["tools"]
        by_name = {t["name"]: t for t in tools}
        claude = by_name["claude"]
        assert claude["source"] == "detected" and claude["command"] == "claude"
        assert claude["version"] == "9.8.7 (Claude Code)" and claude["type"] == "promptable"
        assert by_name["sleeper"]["source"] == "config"
        assert {"name", "command", "source"} <= set(by_name["sleeper"])
        # a detected agent is a promptable target: the prompt is its one argument
        r = c.post("/api/spawn", json={"repo": "proj", "branch": "ai", "targets": {"claude": 1},
                                       "prompt": "fix $HOME; `id`"})  # fmt: skip
        item = r.json()[0]
        assert "session_id" in item, item
        log = srv.data_dir / "logs" / f"{item['session_id']}.log"
        wait_for(lambda: log.exists() and "CLAUDE<fix $HOME; `id`>" in log.read_text())


# -- quick launch --------------------------------------------------------------------------------


def test_quick_launch_builtin_and_configured(server: Server) -> None:
    with server.client() as c:
        presets = c.get("/api/builtin-quick-launch").json()
        assert isinstance(presets, list) and len(presets) >= 3
        assert all(set(p) == {"name", "target", "prompt"} for p in presets)
        assert c.get("/api/config").json()["quick_launch"] == []
        mine = [{"name": "review", "target": "echo", "prompt": "review it"}]
        assert c.post("/api/config", json={"quick_launch": mine}).status_code == 200
        assert c.get("/api/config").json()["quick_launch"] == mine
        # schmux's shell-command presets and a null prompt are its page's own shapes
        theirs = [{"name": "tests", "command": "make test", "prompt": None}]
        assert c.post("/api/config", json={"quick_launch": theirs}).status_code == 200
        assert c.get("/api/config").json()["quick_launch"] == [
            {"name": "tests", "target": "", "prompt": "", "command": "make test"}
        ]
        for bad in ([{"name": "x"}], {"name": "x"}, [{"name": "", "target": "echo"}]):
            r = c.post("/api/config", json={"quick_launch": bad})
            assert r.status_code == 400 and "quick_launch" in r.json()["error"]


# -- overlays ------------------------------------------------------------------------------------


def test_overlays_copied_into_new_workspaces_and_refreshed(server: Server, tmp_path: Path) -> None:
    with server.client() as c:
        assert c.get("/api/overlays").json() == {
            "overlays": [
                {
                    "repo_name": "proj",
                    "path": str(server.data_dir / "overlays" / "proj"),
                    "exists": False,
                    "file_count": 0,
                }
            ]
        }
        ov = server.data_dir / "overlays" / "proj"
        (ov / "conf").mkdir(parents=True)
        (ov / ".env").write_text("SECRET=1\n")
        (ov / "conf" / "local.json").write_text("{}\n")
        outside = tmp_path / "outside.txt"
        outside.write_text("not mine\n")
        (ov / "link").symlink_to(outside)  # links are not copied
        (ov / ".git").mkdir()
        (ov / ".git" / "x").write_text("x")
        listed = c.get("/api/overlays").json()["overlays"][0]
        assert listed["exists"] is True and listed["file_count"] == 2

        wid = server.spawn(repo="proj", branch="ov", targets={"sleeper": 1})[0]["workspace_id"]
        ws = Path(server.workspace(wid)["path"])  # type: ignore[index]
        assert (ws / ".env").read_text() == "SECRET=1\n"
        assert (ws / "conf" / "local.json").read_text() == "{}\n"
        assert not (ws / "link").exists() and not (ws / ".git" / "x").exists()

        (ov / ".env").write_text("SECRET=2\n")
        (ws / "conf" / "local.json").unlink()
        r = c.post(f"/api/workspaces/{wid}/refresh-overlay")
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        assert r.json()["files_copied"] == 2
        assert (ws / ".env").read_text() == "SECRET=2\n"
        assert (ws / "conf" / "local.json").exists()

        r = c.post("/api/workspaces/nope-001/refresh-overlay")
        assert r.status_code == 404 and "error" in r.json()


def test_overlay_never_writes_through_a_link_in_the_workspace(
    server: Server, tmp_path: Path
) -> None:
    wid = server.spawn(repo="proj", branch="ov2", targets={"sleeper": 1})[0]["workspace_id"]
    ws = Path(server.workspace(wid)["path"])  # type: ignore[index]
    victim = tmp_path / "victim"
    victim.mkdir()
    (ws / "conf").symlink_to(victim)  # a folder of the workspace that leads outside it
    (victim / "keep.txt").write_text("mine\n")
    (ws / ".env").symlink_to(victim / "keep.txt")
    ov = server.data_dir / "overlays" / "proj"
    (ov / "conf").mkdir(parents=True)
    (ov / "conf" / "local.json").write_text("{}\n")
    (ov / ".env").write_text("SECRET=1\n")
    with server.client() as c:
        r = c.post(f"/api/workspaces/{wid}/refresh-overlay")
    assert r.status_code == 200, r.text
    assert r.json()["files_copied"] == 1 and len(r.json()["skipped"]) == 1
    assert not (victim / "local.json").exists()
    assert (victim / "keep.txt").read_text() == "mine\n"  # the link was replaced, not followed
    assert (ws / ".env").read_text() == "SECRET=1\n" and not (ws / ".env").is_symlink()


# -- open in editor ------------------------------------------------------------------------------


def test_open_in_vscode_runs_code_on_the_workspace(make_server: Make, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    seen = tmp_path / "code-args"
    _script(bin_dir / "code", f'printf "%s\\n" "$@" > {seen}\n')
    srv = _started(make_server, {"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    wid = srv.spawn(repo="proj", branch="ed", targets={"sleeper": 1})[0]["workspace_id"]
    with srv.client() as c:
        r = c.post(f"/api/open-vscode/{wid}")
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        wait_for(seen.exists)
        assert seen.read_text().split() == ["--new-window", srv.workspace(wid)["path"]]  # type: ignore[index]
        assert c.post("/api/open-vscode/nope-001").status_code == 404


def test_open_in_editor_without_any_is_a_409_with_the_reason(make_server: Make) -> None:
    env = {"PATH": _path_without("code"), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    srv = _started(make_server, env)
    wid = srv.spawn(repo="proj", branch="ed", targets={"sleeper": 1})[0]["workspace_id"]
    with srv.client() as c:
        r = c.post(f"/api/open-vscode/{wid}")
    assert r.status_code == 409 and "editor" in r.json()["error"]


def test_open_in_editor_and_external_diff_failures_say_why_where_schmux_reads_it(
    make_server: Make,
) -> None:
    """schmux's openVSCode and diffExternal POST with the JSON header and no body, and show
    ``err.message || response.statusText``: with ``error`` alone its dialog said "Conflict"."""
    env = {"PATH": _path_without("code"), "DISPLAY": "", "WAYLAND_DISPLAY": ""}
    srv = _started(make_server, env)
    wid = srv.spawn(repo="proj", branch="ed", targets={"sleeper": 1})[0]["workspace_id"]
    as_schmux = {**srv.headers, "Content-Type": "application/json"}  # and no body
    r = httpx.post(f"{srv.base}/api/open-vscode/{wid}", headers=as_schmux)
    assert r.status_code == 409
    body = r.json()
    assert body["success"] is False and "no editor found" in body["message"]
    assert body["error"] == body["message"]
    r = httpx.post(f"{srv.base}/api/open-vscode/nope-001", headers=as_schmux)
    assert r.status_code == 404 and "nope-001" in r.json()["message"]
    r = httpx.post(f"{srv.base}/api/diff-external/{wid}", headers=as_schmux, content=b"{}")
    assert r.status_code == 404 and "diff page" in r.json()["message"]


def test_schmux_bodyless_writes_from_its_page_work(server: Server) -> None:
    """schmux's disposeSession, disposeWorkspace and scanWorkspaces post with no body and no
    Content-Type (``fetch(url, {method: 'POST'})``). From a page of this origin that is taken as
    ``{}``; without Origin (a script), with a body, or with a form type the JSON rule stands."""
    item = server.spawn(repo="proj", branch="gap", targets={"sleeper": 1})[0]
    sid, wid = item["session_id"], item["workspace_id"]
    same_origin = {**server.headers, "Origin": server.base}  # as the browser sends it
    refused: list[tuple[dict[str, str], bytes | None]] = [
        (server.headers, None),  # a script: no Origin
        (same_origin, b"x"),  # a body without a type
        ({**same_origin, "Content-Type": "text/plain"}, None),
        ({**same_origin, "Content-Type": "application/x-www-form-urlencoded"}, b""),
    ]
    for headers, content in refused:
        r = httpx.post(f"{server.base}/api/dispose/{sid}", headers=headers, content=content)
        assert r.status_code == 415, (headers, content, r.text)
        assert "Content-Type: application/json" in r.json()["error"]
    chunked = httpx.post(
        f"{server.base}/api/dispose/{sid}", headers=same_origin, content=iter([b""])
    )
    assert chunked.status_code == 415, chunked.text
    foreign = {**server.headers, "Origin": "http://127.0.0.1:1"}
    assert httpx.post(f"{server.base}/api/dispose/{sid}", headers=foreign).status_code == 403
    assert server.session(sid) is not None and server.workspace(wid) is not None

    r = httpx.post(server.base + "/api/workspaces/scan", headers=same_origin)
    assert r.status_code == 200 and set(r.json()) == {"added", "removed", "updated"}, r.text
    r = httpx.post(f"{server.base}/api/dispose-workspace/{wid}", headers=same_origin)
    assert r.status_code == 409, r.text  # it still has a session: schmux shows the reason
    assert "session" in r.json()["error"]
    r = httpx.post(f"{server.base}/api/dispose/{sid}", headers=same_origin)
    assert r.status_code == 200, r.text
    assert server.session(sid) is None
    wait_for(lambda: not (server.workspace(wid) or {"sessions": [1]})["sessions"])
    r = httpx.post(f"{server.base}/api/dispose-workspace/{wid}", headers=same_origin)
    assert r.status_code == 200, r.text
    assert server.workspace(wid) is None


# -- the terminal ---------------------------------------------------------------------------------


async def test_terminal_takes_schmux_resize_frames(server: Server) -> None:
    """schmux's terminal sends every frame as ``{"type", "data": string}``: a resize carries
    its size as JSON inside ``data``. It resizes the pane and gets no error frame."""
    sid = server.spawn(repo="proj", branch="term", targets={"shell": 1})[0]["session_id"]
    frames: list[dict[str, Any]] = []
    async with websockets.connect(
        f"{server.ws_base}/ws/terminal/{sid}", additional_headers=server.headers
    ) as ws:

        async def read() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for raw in ws:
                    frames.append(json.loads(raw))

        reader = asyncio.get_running_loop().create_task(read())
        await ws.send(json.dumps({"type": "resize", "data": json.dumps({"cols": 97, "rows": 31})}))
        await ws.send(json.dumps({"type": "input", "data": "echo cols=$(tput cols)\r"}))

        def screen() -> str:
            out = ""
            for f in frames:
                out = f["content"] if f["type"] == "full" else out + f.get("content", "")
            return out

        await until(lambda: "cols=97" in screen())
        # a size that is not one is still refused, the same way as in our own form
        await ws.send(json.dumps({"type": "resize", "data": json.dumps({"cols": "x", "rows": 5})}))
        await ws.send(json.dumps({"type": "resize", "data": "not json"}))
        await until(lambda: len([f for f in frames if f["type"] == "error"]) == 2)
        await ws.close()
        await reader
    assert [f["error"] for f in frames if f["type"] == "error"] == [
        '"resize" needs integer "cols" and "rows"'
    ] * 2


# -- the rest of the catalogue -------------------------------------------------------------------


def test_variants_and_nudgenik(server: Server) -> None:
    with server.client() as c:
        assert c.get("/api/variants").json() == {"variants": []}
        assert c.get("/api/hasNudgenik").json() == {"available": False}
        assert c.post("/api/config", json={"nudgenik": {"target": "echo"}}).status_code == 200
        assert c.get("/api/hasNudgenik").json() == {"available": True}
        assert c.post("/api/config", json={"nudgenik": {"target": "gone"}}).status_code == 200
        assert c.get("/api/hasNudgenik").json() == {"available": False}


def test_routes_we_do_not_offer_answer_json_404s(server: Server) -> None:
    wid = server.spawn(repo="proj", branch="x", targets={"sleeper": 1})[0]["workspace_id"]
    with server.client() as c:
        calls = [
            c.post("/api/suggest-branch", json={"prompt": "add dark mode"}),
            c.post(f"/api/diff-external/{wid}", json={}),
            c.post("/api/auth/secrets", json={"client_id": "a", "client_secret": "b"}),
            c.post("/api/variants/v/secrets", json={"secrets": {}}),
        ]
        for r in calls:
            assert r.status_code == 404 and set(r.json()) >= {"error"}, r.text
        assert c.get("/api/auth/secrets").json() == {
            "client_id_set": False,
            "client_secret_set": False,
        }
    # schmux's client reads a 404 from /auth/me as "sign-in is off"
    r = httpx.get(server.base + "/auth/me", headers=server.headers)
    assert r.status_code == 404 and set(r.json()) == {"error"}


# -- the config page -----------------------------------------------------------------------------

CONFIG_KEYS = {
    "workspace_path", "source_code_management", "repos", "run_targets", "quick_launch",
    "nudgenik", "branch_suggest", "conflict_resolve", "network", "access_control",
    "needs_restart", "external_diff_commands", "external_diff_cleanup_after_ms", "terminal",
    "sessions", "xterm",
}  # fmt: skip


def test_config_has_every_key_the_page_reads_and_takes_back_what_it_saves(server: Server) -> None:
    with server.client() as c:
        cfg = c.get("/api/config").json()
        assert set(cfg) >= CONFIG_KEYS
        assert {"seed_lines", "bootstrap_lines", "width", "height"} <= set(cfg["terminal"])
        assert cfg["sessions"]["git_clone_timeout_ms"] > 0
        assert cfg["sessions"]["dashboard_poll_interval_ms"] == 5000  # schmux's poll period
        assert {"mtime_poll_interval_ms", "query_timeout_ms", "operation_timeout_ms"} <= set(
            cfg["xterm"]
        )
        assert all(t["source"] == "user" for t in cfg["run_targets"])
        assert cfg["needs_restart"] is False and cfg["access_control"]["enabled"] is False
        # the page saves the whole object back, with its own additions
        saved = {**cfg, "terminal": {**cfg["terminal"], "seed_lines": 500}, "models": []}
        saved["run_targets"] = [*cfg["run_targets"], {"name": "x", "type": "promptable",
                                                      "command": "cat", "source": "user"}]  # fmt: skip
        r = c.post("/api/config", json=saved)
        assert r.status_code == 200, r.text
        again = c.get("/api/config").json()
        assert again["terminal"]["seed_lines"] == 500 and again["models"] == []
        assert [t["name"] for t in again["run_targets"]][-1] == "x"
        r = c.post("/api/config", json={"nudgenik": "claude"})
        assert r.status_code == 400 and "nudgenik" in r.json()["error"]


def test_scan_answers_workspace_objects(server: Server) -> None:
    wid = server.spawn(repo="proj", branch="sc", targets={"sleeper": 1})[0]["workspace_id"]
    ws = Path(server.workspace(wid)["path"])  # type: ignore[index]
    git(ws, "checkout", "-q", "-b", "sc2")
    with server.client() as c:
        r = c.post("/api/workspaces/scan")
    assert r.status_code == 200
    updated = r.json()["updated"]
    assert updated and updated[0]["old"]["branch"] == "sc" and updated[0]["new"]["branch"] == "sc2"
    assert set(updated[0]["new"]) == {"id", "repo", "branch", "path"}


async def test_a_reverse_proxy_that_names_its_host_serves_schmuxs_page(server: Server) -> None:
    """schmux's dashboard served by a proxy on another port: the browser's Origin is the proxy's.
    A proxy that says so with X-Forwarded-Host gets the socket and the writes; without it (and
    without allowed_origins) they stay refused."""
    proxy = "http://127.0.0.1:9"
    forwarded = {"Origin": proxy, "X-Forwarded-Host": "127.0.0.1:9", "X-Forwarded-Proto": "http"}
    async with websockets.connect(
        f"{server.ws_base}/ws/dashboard", additional_headers={**server.headers, **forwarded}
    ) as ws:
        assert json.loads(await ws.recv())["type"] == "sessions"
    with contextlib.suppress(websockets.InvalidStatus):
        async with websockets.connect(
            f"{server.ws_base}/ws/dashboard",
            additional_headers={**server.headers, "Origin": proxy},
        ):
            raise AssertionError("a foreign Origin without the proxy's header was let in")
    r = httpx.post(server.base + "/api/workspaces/scan", headers={**server.headers, **forwarded})
    assert r.status_code == 200, r.text
    r = httpx.post(
        server.base + "/api/workspaces/scan", headers={**server.headers, "Origin": proxy}
    )
    assert r.status_code == 403, r.text
