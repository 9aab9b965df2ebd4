"""One dashboard over several machines (docs/API.md#hosts), with real parts: three real
``--serve`` processes on loopback in token mode as hosts (each its own data dir, tmux socket and
git repo) and a fourth, the aggregating server, configured with them."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from backend.tasks import TaskGroup
from tests.conftest import TARGETS
from tests.helpers import DashboardClient, Server, all_sessions, make_repo, short_tmp, wait_for
from tests.sshd import ALIAS, Sshd, running

HOSTS = ("gpu-box", "lab", "nas")


@dataclass
class Cluster:
    local: Server
    hosts: dict[str, Server]

    def host_config(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "url": srv.base, "token": srv.token} for name, srv in self.hosts.items()
        ]


def _server(root: Path, name: str, config: dict[str, Any]) -> Server:
    repo = make_repo(root / f"origin-{name}", files={"README.md": f"{name}\n"})
    srv = Server(data_dir=root / name, token=f"token-of-{name}-0123456789")
    srv.write_config(
        {"repos": [{"name": f"r{name}", "url": str(repo)}], "run_targets": TARGETS, **config}
    )
    return srv


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    root = short_tmp("hx")
    hosts = {name: _server(root, name, {}).start() for name in HOSTS}
    local = _server(root, "local", {})
    c = Cluster(local, hosts)
    cfg = json.loads((local.data_dir / "config.json").read_text())
    local.write_config({**cfg, "hosts": c.host_config()})
    local.start()
    try:
        yield c
    finally:
        for s in [local, *hosts.values()]:
            if s.proc is not None and s.proc.poll() is None:
                print(f"--- {s.data_dir.name} stderr ---\n{s.stderr()[-3000:]}")
            s.stop()
            s.kill_tmux()
        shutil.rmtree(root, ignore_errors=True)


def _ids(workspaces: list[dict[str, Any]]) -> list[str]:
    return [w["id"] for w in workspaces]


BRANCHES = itertools.count(1)


def spawn_on(c: Cluster, host: str, target: str = "shell") -> dict[str, Any]:
    """A new workspace (on a new branch) on ``host``, spawned through the local server."""
    branch = f"b{next(BRANCHES)}"
    with c.local.client() as cl:
        r = cl.post(
            "/api/spawn",
            json={"host": host, "repo": f"r{host}", "branch": branch, "targets": {target: 1}},
        )
    assert r.status_code == 200, r.text
    (item,) = r.json()
    assert "error" not in item, item
    return item  # type: ignore[no-any-return]


def test_remote_workspaces_carry_host_and_prefixed_ids(cluster: Cluster) -> None:
    item = spawn_on(cluster, "gpu-box")
    assert (
        item["session_id"].startswith("gpu-box:") and item["workspace_id"] == "gpu-box:rgpu-box-001"
    )
    # the answer waited for the host's push: the local list has it already
    payload = cluster.local.sessions()
    ws = {w["id"]: w for w in payload}["gpu-box:rgpu-box-001"]
    assert ws["host"] == "gpu-box" and ws["repo"].endswith("origin-gpu-box")
    (s,) = ws["sessions"]
    assert s["id"] == item["session_id"] and s["host"] == "gpu-box"
    assert s["workspace_id"] == "gpu-box:rgpu-box-001"
    assert _ids(payload) == sorted(_ids(payload))
    # the host itself knows it by its own ids
    assert [w["id"] for w in cluster.hosts["gpu-box"].sessions()] == ["rgpu-box-001"]
    # a local workspace alongside, host ""
    cluster.local.spawn(repo="rlocal", branch="main", targets={"sleeper": 1})
    payload = cluster.local.sessions()
    assert {w["id"]: w["host"] for w in payload}["rlocal-001"] == ""
    assert _ids(payload) == sorted(_ids(payload))


async def test_dashboard_gets_hosts_after_the_greeting_and_remote_changes(cluster: Cluster) -> None:
    async with DashboardClient(cluster.local) as d:
        await d.wait(lambda ws: True)
        wait_for(lambda: len(d.messages) >= 3)
        kinds = [m["type"] for _, m in d.messages[:3]]
        assert kinds == ["sessions", "config", "hosts"]
        hosts = d.of_type("hosts")[0]["hosts"]
        assert [h["name"] for h in hosts] == list(HOSTS)
        assert all(h["state"] == "connected" and h["since"].endswith("Z") for h in hosts)
        # what a spawn form offers for each host: its own repos and run targets
        assert [h["repos"][0]["name"] for h in hosts] == [f"r{n}" for n in HOSTS]
        assert "shell" in [t["name"] for t in hosts[0]["run_targets"]]
        assert all(isinstance(m["seq"], int) for _, m in d.messages)
        # a change made on the host itself (not through us) reaches our clients
        cluster.hosts["lab"].spawn(repo="rlab", branch="main", targets={"sleeper": 1})
        await d.wait(lambda ws: "lab:rlab-001" in _ids(ws))
        # ... and a rename through us, on the host
        sid = spawn_on(cluster, "nas")["session_id"]
        with cluster.local.client() as cl:
            r = cl.put(f"/api/sessions-nickname/{sid}", json={"nickname": "far away"})
        assert r.status_code == 200, r.text
        await d.wait(lambda ws: all_sessions(ws).get(sid, {}).get("nickname") == "far away")
        assert cluster.hosts["nas"].session(sid.split(":", 1)[1])["nickname"] == "far away"  # type: ignore[index]


def test_host_errors_pass_through_and_unknown_hosts_are_refused(cluster: Cluster) -> None:
    with cluster.local.client() as cl:
        r = cl.post("/api/dispose/gpu-box:nope")
        assert r.status_code == 404 and "nope" in r.json()["error"]  # the host's own 404
        r = cl.post("/api/dispose/nohost:x")
        assert r.status_code == 404 and "nohost" in r.json()["error"]
        r = cl.post("/api/spawn", json={"host": "nohost", "repo": "r", "targets": {"shell": 1}})
        assert r.status_code == 400 and "nohost" in r.json()["error"]
        r = cl.post("/api/spawn", json={"host": "lab", "repo": "rlocal", "targets": {"shell": 1}})
        assert r.status_code == 400, r.text  # lab has no repo "rlocal": its own 400
        r = cl.get("/api/diff/gpu-box:rgpu-box-001")
        assert r.status_code == 200 and r.json()["workspace_id"] == "gpu-box:rgpu-box-001"


async def test_typing_into_a_remote_terminal_through_the_local_socket(cluster: Cluster) -> None:
    sid = spawn_on(cluster, "lab")["session_id"]
    with cluster.local.client() as cl:
        ticket = cl.post("/api/ws-ticket", json={}).json()["ticket"]
    seen: list[str] = []
    async with websockets.connect(
        f"{cluster.local.ws_base}/ws/terminal/{sid}?ticket={ticket}"
    ) as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "full"
        await ws.send(json.dumps({"type": "input", "data": "echo relay-$((40+2))-ok\r"}))
        async with asyncio.timeout(10):
            while "relay-42-ok" not in "".join(seen):
                msg = json.loads(await ws.recv())
                seen.append(msg.get("content", ""))
    # an unknown remote session: 404 before the upgrade, like a local one
    with pytest.raises(websockets.InvalidStatus) as info:
        async with websockets.connect(
            f"{cluster.local.ws_base}/ws/terminal/lab:nope",
            additional_headers=cluster.local.headers,
        ):
            pass
    assert info.value.response.status_code == 404


def test_dispose_a_remote_session_and_workspace(cluster: Cluster) -> None:
    item = spawn_on(cluster, "nas", "sleeper")
    sid, wid = item["session_id"], item["workspace_id"]
    with cluster.local.client() as cl:
        workspace_sessions = [s["id"] for s in cluster.local.workspace(wid)["sessions"]]  # type: ignore[index]
        for s in workspace_sessions:
            assert cl.post(f"/api/dispose/{s}").status_code == 200
        assert cluster.local.session(sid) is None
        r = cl.post(f"/api/dispose-workspace/{wid}", json={"force": True})
        assert r.status_code == 200, r.text
    wait_for(lambda: cluster.local.workspace(wid) is None)
    assert cluster.hosts["nas"].workspace(wid.split(":", 1)[1]) is None


def test_a_hosts_disposed_work_is_listed_and_restored_through_us(cluster: Cluster) -> None:
    wid = spawn_on(cluster, "nas", "sleeper")["workspace_id"]
    path = Path(cluster.local.workspace(wid)["path"])  # type: ignore[index]
    (path / "notes.txt").write_text("only here\n")
    with cluster.local.client() as cl:
        r = cl.post(f"/api/dispose-workspace/{wid}")
        assert r.status_code == 409, r.text  # the host's own refusal, passed through
        for s in cluster.local.workspace(wid)["sessions"]:  # type: ignore[index]
            cl.post(f"/api/dispose/{s['id']}")
        r = cl.post(f"/api/dispose-workspace/{wid}", json={"force": True})
        assert r.status_code == 200, r.text
        listed = cl.get("/api/disposed").json()
        snap = next(s for s in listed if s["workspace_id"] == wid)  # newest first
        assert snap["id"].startswith("nas:") and snap["host"] == "nas"
        assert all(s["host"] in ("", "nas") for s in listed)
        r = cl.post(f"/api/disposed/{snap['id']}/restore")
        assert r.status_code == 200, r.text
        back = r.json()["workspace_id"]
        assert back.startswith("nas:")
    restored = cluster.local.workspace(back)
    assert restored is not None and restored["host"] == "nas"
    assert (Path(restored["path"]) / "notes.txt").read_text() == "only here\n"


def test_config_never_shows_a_remote_token_and_keeps_it_on_save(cluster: Cluster) -> None:
    with cluster.local.client() as cl:
        got = cl.get("/api/config").json()
        for h in got["hosts"]:
            assert h["token"] == "" and h["has_token"] is True
        assert "token-of-" not in json.dumps(got)
        # saving back what the page got keeps the stored tokens: the hosts stay connected
        assert cl.post("/api/config", json={"hosts": got["hosts"]}).status_code == 200
        stored = json.loads((cluster.local.data_dir / "config.json").read_text())
        assert [h["token"] for h in stored["hosts"]] == [s.token for s in cluster.hosts.values()]
        for bad, word in [
            ({"hosts": [{"name": "a b", "url": "http://x"}]}, "name"),
            ({"hosts": [{"name": "a", "url": "ftp://x"}]}, "url"),
            (
                {"hosts": [{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}]},
                "twice",
            ),
            ({"hosts": [{"name": "a", "ssh": "me@x", "remote_port": 0}]}, "remote_port"),
            ({"hosts": [{"name": "a", "url": "http://x", "token": 5}]}, "token"),
            ({"hosts": {"name": "a"}}, "list"),
        ]:
            r = cl.post("/api/config", json=bad)
            assert r.status_code == 400 and word in r.json()["error"], (bad, r.text)
    assert [h["state"] for h in _hosts_now(cluster)] == ["connected"] * 3


async def test_dashboard_config_message_has_no_remote_token(cluster: Cluster) -> None:
    async with DashboardClient(cluster.local) as d:
        await d.wait(lambda ws: True)
        wait_for(lambda: d.of_type("config"))
        assert "token-of-" not in json.dumps(d.of_type("config")[0])


def _hosts_now(c: Cluster) -> list[dict[str, Any]]:
    return wait_for(lambda: _hosts_message(c), timeout=10)  # type: ignore[no-any-return]


def _hosts_message(c: Cluster) -> list[dict[str, Any]] | None:
    async def read() -> list[dict[str, Any]] | None:
        async with DashboardClient(c.local) as d:
            for _ in range(200):
                if d.of_type("hosts"):
                    return d.of_type("hosts")[-1]["hosts"]  # type: ignore[no-any-return]
                await asyncio.sleep(0.01)
        return None

    return asyncio.run(read())


async def test_a_killed_host_goes_stale_alone_and_recovers(cluster: Cluster) -> None:
    lab = cluster.hosts["lab"]
    spawn_on(cluster, "lab", "sleeper")
    before = {w["id"] for w in cluster.local.sessions() if w["host"] == "lab"}
    assert before
    async with DashboardClient(cluster.local) as d:
        await d.wait(lambda ws: True)
        lab.stop(signal.SIGKILL)

        def state_of(name: str) -> str | None:
            msgs = d.of_type("hosts")
            return {h["name"]: h for h in msgs[-1]["hosts"]}[name]["state"] if msgs else None

        await _until(lambda: state_of("lab") in ("reconnecting", "offline"))
        await _until(lambda: state_of("lab") == "offline", timeout=20)
        last = d.of_type("hosts")[-1]["hosts"]
        assert {h["name"]: h["state"] for h in last} == {
            "gpu-box": "connected",
            "lab": "offline",
            "nas": "connected",
        }
        assert {h["name"]: h for h in last}["lab"]["error"]
        # its workspaces stay (stale); the other hosts keep updating
        assert before <= {w["id"] for w in cluster.local.sessions() if w["host"] == "lab"}
        sid = spawn_on(cluster, "gpu-box", "sleeper")["session_id"]
        await d.wait(lambda ws: sid in all_sessions(ws))
        with cluster.local.client() as cl:
            r = cl.post("/api/spawn", json={"host": "lab", "repo": "rlab", "targets": {"shell": 1}})
            assert r.status_code == 503 and r.json() == {"error": "host lab is offline"}
        # the host comes back (same port): connected again, with fresh data
        lab.start()
        lab.spawn(repo="rlab", branch="after-restart", targets={"sleeper": 1})
        fresh = {w["id"] for w in lab.sessions()}
        await _until(lambda: state_of("lab") == "connected", timeout=40)
        await d.wait(lambda ws: {f"lab:{i}" for i in fresh} <= set(_ids(ws)))


async def _until(cond: Any, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met")
        await asyncio.sleep(0.02)


def test_removing_and_adding_a_host_applies_live(cluster: Cluster) -> None:
    with cluster.local.client() as cl:
        keep = [h for h in cl.get("/api/config").json()["hosts"] if h["name"] != "nas"]
        assert cl.post("/api/config", json={"hosts": keep}).status_code == 200
        wait_for(lambda: not any(w["host"] == "nas" for w in cluster.local.sessions()))
        nas = cluster.hosts["nas"]
        again = [*keep, {"name": "nas", "url": nas.base, "token": nas.token}]
        assert cl.post("/api/config", json={"hosts": again}).status_code == 200
        wait_for(lambda: any(w["host"] == "nas" for w in cluster.local.sessions()))
        r = httpx.get(cluster.local.base + "/api/stats", headers=cluster.local.headers)
        assert r.json()["hosts"] == 3


def test_testing_a_host_entry_saves_nothing_and_says_what_happened(cluster: Cluster) -> None:
    gpu = cluster.hosts["gpu-box"]
    with cluster.local.client() as cl:
        before = (cluster.local.data_dir / "config.json").read_text()
        shown = {h["name"]: h for h in cl.get("/api/config").json()["hosts"]}["gpu-box"]
        r = cl.post("/api/hosts/test", json=shown)  # blank token: the stored one
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["ok"] is True and answer["error"] == "" and answer["latency_ms"] >= 0
        assert answer["version"] == httpx.get(gpu.base + "/api/healthz").json()["version"]
        r = cl.post("/api/hosts/test", json={"name": "new", "url": gpu.base, "token": "wrong"})
        assert r.json() == {"ok": False, "error": "host new refused the configured token"}
        r = cl.post("/api/hosts/test", json={"name": "new", "url": gpu.base})  # new: no token
        assert r.json() == {"ok": False, "error": "host new needs a token (none is configured)"}
        dead = f"http://127.0.0.1:{_closed_port()}"
        r = cl.post("/api/hosts/test", json={"name": "gone", "url": dead, "token": "t"})
        assert r.json()["ok"] is False and "refused" in r.json()["error"]
        r = cl.post("/api/hosts/test", json={"name": "x", "url": "ftp://x"})
        assert r.status_code == 400 and "url" in r.json()["error"]
        # an ssh host whose ssh fails at once says so at once (not after the test's 20 s)
        started = time.monotonic()
        r = cl.post(
            "/api/hosts/test", json={"name": "lab", "ssh": "nowhere.invalid", "remote_port": 9}
        )
        assert r.json()["ok"] is False and "nowhere.invalid" in r.json()["error"], r.text
        assert time.monotonic() - started < 10
        assert (cluster.local.data_dir / "config.json").read_text() == before


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_frozen_host_is_noticed_by_its_pings_and_comes_back(cluster: Cluster) -> None:
    gpu = cluster.hosts["gpu-box"]
    assert gpu.proc is not None
    async with DashboardClient(cluster.local) as d:
        await d.wait(lambda ws: True)

        def gpu_state() -> dict[str, Any]:
            return {h["name"]: h for h in d.of_type("hosts")[-1]["hosts"]}["gpu-box"]

        await _until(lambda: d.of_type("hosts") and gpu_state()["latency_ms"] is not None)
        frozen = time.monotonic()
        gpu.proc.send_signal(signal.SIGSTOP)  # alive, holding its sockets, answering nothing
        try:
            await _until(lambda: gpu_state()["state"] != "connected", timeout=20)
            noticed = time.monotonic() - frozen
            assert noticed < 12, noticed  # a ping every 5 s, 5 s to answer
            assert "ping" in gpu_state()["error"]
        finally:
            gpu.proc.send_signal(signal.SIGCONT)
        await _until(lambda: gpu_state()["state"] == "connected", timeout=40)


async def test_a_request_in_flight_to_a_host_that_freezes_ends_within_the_ping_window(
    cluster: Cluster,
) -> None:
    """A spawn forwarded to a host that froze (SIGSTOP: its sockets stay open, nothing answers)
    ends with a 503 as soon as its link's pings notice (not after the HTTP client's own long
    wait), and so does a terminal relayed from it (1011, not after the relay's own pings);
    the other hosts and the local server answer as usual meanwhile."""
    gpu, nas = cluster.hosts["gpu-box"], cluster.hosts["nas"]
    assert gpu.proc is not None
    sid = spawn_on(cluster, "nas", "sleeper")["session_id"]
    far = spawn_on(cluster, "gpu-box")["session_id"]
    with cluster.local.client() as cl:
        ticket = cl.post("/api/ws-ticket", json={}).json()["ticket"]
    term = await websockets.connect(f"{cluster.local.ws_base}/ws/terminal/{far}?ticket={ticket}")
    assert json.loads(await term.recv())["type"] == "full"
    async with DashboardClient(cluster.local) as d:
        await d.wait(lambda ws: True)

        def gpu_state() -> dict[str, Any]:
            return {h["name"]: h for h in d.of_type("hosts")[-1]["hosts"]}["gpu-box"]

        await _until(lambda: d.of_type("hosts") and gpu_state()["state"] == "connected")
        group = TaskGroup()
        async with httpx.AsyncClient(
            base_url=cluster.local.base, headers=cluster.local.write_headers, timeout=60
        ) as cl:
            gpu.proc.send_signal(signal.SIGSTOP)
            try:
                frozen = time.monotonic()
                body = {"host": "gpu-box", "repo": "rgpu-box", "branch": f"b{next(BRANCHES)}"}
                spawn = group.spawn(
                    cl.post("/api/spawn", json={**body, "targets": {"sleeper": 1}}), name="spawn"
                )
                # meanwhile: another host's action and the local list answer at once
                for i in range(3):
                    await asyncio.sleep(0.5)
                    t0 = time.monotonic()
                    r = await cl.put(f"/api/sessions-nickname/{sid}", json={"nickname": f"n{i}"})
                    assert r.status_code == 200, r.text
                    assert (await cl.get("/api/sessions")).status_code == 200
                    assert time.monotonic() - t0 < 3.0
                    assert not spawn.done()  # still in flight to the frozen host
                r = await spawn
                waited = time.monotonic() - frozen
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    async with asyncio.timeout(3):  # closed with the spawn's answer, not later
                        while True:
                            await term.recv()
            finally:
                gpu.proc.send_signal(signal.SIGCONT)
                await group.close()
                await term.close()
        # a ping every 5 s with 5 s to answer (and a second to close): within ~11 s
        assert waited < 14, waited
        assert r.status_code == 503, r.text
        assert r.json() == {
            "error": "host gpu-box stopped answering (no answer to a ping within 5 s)"
        }
        assert nas.session(sid.split(":", 1)[1])["nickname"] == "n2"  # type: ignore[index]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        assert closed.value.rcvd.reason.startswith("host gpu-box stopped answering")
        await _until(lambda: gpu_state()["state"] == "connected", timeout=40)


@pytest.fixture
def sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    yield from running(tmp_path, monkeypatch)


async def test_an_ssh_host_through_a_real_sshd(
    sshd: Sshd, make_server: Callable[..., Server], short_dir: Path
) -> None:
    """The app's own tunnel (``ssh -N -L`` with the user's ssh config) to a real sshd on
    loopback, and through it the host's server: its workspaces, a spawn, its terminal."""
    lab = make_server(token="lab-token-0123456789")
    local = make_server(
        {"hosts": [{"name": "lab", "ssh": ALIAS, "remote_port": lab.port, "token": lab.token}]},
        data_dir=short_dir / "agg",
    )
    async with DashboardClient(local) as d:
        await d.wait(lambda ws: True)

        def lab_state() -> str | None:
            msgs = d.of_type("hosts")
            return msgs[-1]["hosts"][0]["state"] if msgs and msgs[-1]["hosts"] else None

        await _until(lambda: lab_state() == "connected", timeout=30)
        with local.client() as cl:
            r = cl.post(
                "/api/spawn",
                json={"host": "lab", "repo": "proj", "branch": "over-ssh", "targets": {"shell": 1}},
            )
            assert r.status_code == 200, r.text
            sid = r.json()[0]["session_id"]
            assert sid.startswith("lab:")
            ticket = cl.post("/api/ws-ticket", json={}).json()["ticket"]
        await d.wait(lambda ws: sid in all_sessions(ws))
        # pasted here, its attach command reaches the host's tmux through ssh
        assert all_sessions(d.workspaces or [])[sid]["attach_cmd"].startswith(f"ssh -t {ALIAS} ")
        async with websockets.connect(f"{local.ws_base}/ws/terminal/{sid}?ticket={ticket}") as ws:
            assert json.loads(await ws.recv())["type"] == "full"
            await ws.send(json.dumps({"type": "input", "data": "echo via-$((2*21))-ssh\r"}))
            seen = ""
            async with asyncio.timeout(10):
                while "via-42-ssh" not in seen:
                    seen += json.loads(await ws.recv()).get("content", "")
        sshd.kill()  # the way to the host is gone: only the link notices, the host lives on
        await _until(lambda: lab_state() in ("reconnecting", "offline"), timeout=40)
        assert sid in all_sessions(d.workspaces or [])  # its last workspaces stay
