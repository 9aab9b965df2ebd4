"""POST /api/workspaces/{id}/review on a real server: the round reaches a real agent's terminal as
one bracketed paste followed by Enter, is kept in the state across a restart, and is pushed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import TARGETS
from tests.helpers import DashboardClient, Server, wait_for

# An "agent" that asks for bracketed paste, as agents' input boxes do, and records every byte
# it is sent until an Enter comes after the end of a paste.
READER = r"""
import os, sys, termios, tty
out = sys.argv[1]
tty.setraw(0)
os.write(1, b"\x1b[?2004hready> ")
got = b""
while not (b"\x1b[201~" in got and got.endswith(b"\r")):
    got += os.read(0, 65536)
    with open(out + ".tmp", "wb") as f:
        f.write(got)
os.replace(out + ".tmp", out)
os.write(1, b"\r\nGOT IT\r\n")
import time; time.sleep(600)
"""


def _server(make_server: Callable[..., Server], short_dir: Path) -> tuple[Server, Path]:
    script = short_dir / "reader.py"
    script.write_text(READER)
    out = short_dir / "received.bin"
    reader = {"name": "reader", "type": "command", "command": f"{sys.executable} {script} {out}"}
    return make_server({"run_targets": [*TARGETS, reader]}), out


def _review(srv: Server, wid: str, body: Any) -> Any:
    with srv.client() as c:
        return c.post(f"/api/workspaces/{wid}/review", json=body)


async def test_a_round_is_typed_as_one_paste_then_enter_and_kept(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    srv, received = _server(make_server, short_dir)
    item = srv.spawn(repo="proj", branch="rv", targets={"reader": 1})[0]
    sid, wid = item["session_id"], item["workspace_id"]
    wait_for(lambda: "ready>" in (srv.data_dir / "logs" / f"{sid}.log").read_text(errors="replace"))
    comments = [
        {"path": "src/app.py", "line": 1, "body": "Say hello to the world.\nAnd mean it."},
        {"path": "README.md", "line": 1, "body": "Explain $(what) this is; `rm -rf /` stays text"},
    ]
    async with DashboardClient(srv) as dash:
        r = _review(srv, wid, {"session_id": sid, "comments": comments})
        assert r.status_code == 200, r.text
        round_id = r.json()["round_id"]
        assert r.json() == {"status": "ok", "round_id": round_id}
        await dash.wait(lambda ws: ws[0]["review_rounds"] == 1)
    wait_for(received.exists)
    data = received.read_bytes()
    # one bracketed paste (newlines inside it as a terminal pastes them), then Enter
    assert data.startswith(b"\x1b[200~") and data.endswith(b"\x1b[201~\r"), data
    assert data.count(b"\x1b[200~") == 1 and data.count(b"\r") >= 1
    text = data[len(b"\x1b[200~") : -len(b"\x1b[201~\r")].decode().replace("\r", "\n")
    assert text == (
        "Review comments on branch rv (2 comments):\n\n"
        "src/app.py:1\n> print('hi')\nSay hello to the world.\nAnd mean it.\n\n"
        "README.md:1\n> hello\nExplain $(what) this is; `rm -rf /` stays text"
    )
    wait_for(lambda: "GOT IT" in (srv.data_dir / "logs" / f"{sid}.log").read_text(errors="replace"))

    with srv.client() as c:
        rounds = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"]
    assert [r["id"] for r in rounds] == [round_id]
    assert rounds[0]["state"] == "sent" and rounds[0]["session_id"] == sid
    assert [(c["path"], c["line"], c["status"]) for c in rounds[0]["comments"]] == [
        ("src/app.py", 1, "sent"),
        ("README.md", 1, "sent"),
    ]

    assert [c["quote"] for c in rounds[0]["comments"]] == ["print('hi')", "hello"]
    assert [c["line_changed"] for c in rounds[0]["comments"]] == [False, False]

    # the agent changes the first line: the comment says so; the person marks it addressed
    path = Path(srv.workspace(wid)["path"])  # type: ignore[index]
    (path / "src" / "app.py").write_text("print('hello, world')\n")
    with srv.client() as c:
        rounds = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"]
        assert [x["line_changed"] for x in rounds[0]["comments"]] == [True, False]
        mark = f"/api/workspaces/{wid}/reviews/mark"
        assert c.post(mark, json={"round_id": round_id, "index": 0}).status_code == 200
        assert c.post(mark, json={"round_id": round_id, "index": 2}).status_code == 400
        assert c.post(mark, json={"round_id": round_id, "index": "0"}).status_code == 400
        assert c.post(mark, json={"index": 0}).status_code == 400
        bad = {"round_id": round_id, "index": 0, "addressed": "yes"}
        assert c.post(mark, json=bad).status_code == 400
        r = c.post(mark, json={"round_id": "r-nope", "index": 0})
        assert r.status_code == 404 and "r-nope" in r.json()["error"]
        rounds = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"]
    assert [x["status"] for x in rounds[0]["comments"]] == ["addressed", "sent"]

    # the round survives a restart of the app
    srv.stop()
    again = make_server(data_dir=srv.data_dir, config=None)
    with again.client() as c:
        after = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"]
    assert after == rounds
    assert again.workspace(wid)["review_rounds"] == 1  # type: ignore[index]


def test_bad_reviews_are_refused_with_a_reason(
    make_server: Callable[..., Server], short_dir: Path
) -> None:
    srv, received = _server(make_server, short_dir)
    a = srv.spawn(repo="proj", branch="rv-a", targets={"sleeper": 1})[0]
    b = srv.spawn(repo="proj", branch="rv-b", targets={"sleeper": 1})[0]
    wid, sid = a["workspace_id"], a["session_id"]
    ok = [{"path": "README.md", "line": 1, "body": "hi"}]
    cases: list[tuple[str, Any, int, str]] = [
        ("nope-001", {"session_id": sid, "comments": ok}, 404, "nope-001"),
        (wid, {"session_id": "nope", "comments": ok}, 404, "nope"),
        (wid, {"comments": ok}, 400, "session_id"),
        (wid, {"session_id": sid, "comments": []}, 400, "comments"),
        (wid, {"session_id": sid, "comments": [{"path": "a", "line": 0, "body": "x"}]}, 400, "line"),
        (wid, {"session_id": sid, "comments": [{"path": "a", "line": True, "body": "x"}]}, 400, "line"),
        (wid, {"session_id": sid, "comments": [{"path": "", "line": 1, "body": "x"}]}, 400, "path"),
        (wid, {"session_id": sid, "comments": [{"path": "a", "line": 1, "body": " "}]}, 400, "body"),
        (wid, {"session_id": sid, "comments": [{"path": "a", "line": 1, "body": "x\x1b[201~rm -rf ~\r"}]}, 400, "control"),
        (wid, {"session_id": sid, "comments": ["x"]}, 400, "comments[0]"),
        (wid, {"session_id": b["session_id"], "comments": ok}, 400, "not in workspace"),
    ]  # fmt: skip
    for w, body, status, words in cases:
        r = _review(srv, w, body)
        assert r.status_code == status, (body, r.text)
        assert words in r.json()["error"], (body, r.text)
    # an ended session: 409
    with srv.client() as c:
        c.post(f"/api/dispose/{b['session_id']}").raise_for_status()
        ended = srv.spawn(workspace_id=wid, targets={"echo": 1})[0]["session_id"]
        wait_for(lambda: srv.session(ended)["running"] is False)  # type: ignore[index]
        r = _review(srv, wid, {"session_id": ended, "comments": ok})
        assert r.status_code == 409 and "ended" in r.json()["error"], r.text
        assert c.get(f"/api/workspaces/{wid}/reviews").json() == {"rounds": []}
    assert not received.exists()
