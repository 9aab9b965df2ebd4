"""Review rounds beyond one line, on a real server with real git and real tmux: a range comment
typed into a real terminal, the pending round kept across a restart, and comments following
their lines (or going outdated, and auto-addressed once sent) when an agent edits the file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import TARGETS
from tests.helpers import DashboardClient, Server, wait_for

CAT = {"name": "cat", "type": "command", "command": "cat"}
TEXT = "".join(f"line {n}\n" for n in range(1, 11))  # "line 1" .. "line 10"


def _capture(srv: Server, session_id: str) -> str:
    sock = str(srv.data_dir / "tmux.sock")
    tmux_name = json.loads((srv.data_dir / "state.json").read_text())["sessions"]
    name = next(s["tmux_name"] for s in tmux_name if s["id"] == session_id)
    out = subprocess.run(
        ["tmux", "-S", sock, "capture-pane", "-p", "-J", "-S", "-200", "-t", f"={name}:"],
        capture_output=True,
        text=True,
    )
    return out.stdout


def _screen_with(srv: Server, session_id: str, text: str) -> str:
    def shown() -> str | None:
        screen = _capture(srv, session_id)
        return screen if text in screen else None

    return wait_for(shown)  # type: ignore[no-any-return]


def _setup(
    make_server: Callable[..., Server], target: str = "cat"
) -> tuple[Server, str, str, Path]:
    srv = make_server({"run_targets": [*TARGETS, CAT]})
    item = srv.spawn(repo="proj", branch="rounds", targets={target: 1})[0]
    sid, wid = item["session_id"], item["workspace_id"]
    path = Path(srv.workspace(wid)["path"])  # type: ignore[index]
    (path / "notes.txt").write_text(TEXT)
    return srv, sid, wid, path


def _pending(c: Any, wid: str) -> list[dict[str, Any]]:
    r = c.get(f"/api/workspaces/{wid}/review/pending")
    assert r.status_code == 200, r.text
    return r.json()["comments"]  # type: ignore[no-any-return]


def test_a_range_comment_is_typed_into_a_real_terminal_from_the_pending_round(
    make_server: Callable[..., Server],
) -> None:
    srv, sid, wid, _path = _setup(make_server)
    with srv.client() as c:
        add = {
            "comments": [
                {"path": "notes.txt", "line": 2, "end_line": 4, "body": "Why three lines?"},
                {"path": "notes.txt", "line": 9, "body": "And this one.", "colour": "ignored"},
            ]
        }
        r = c.post(f"/api/workspaces/{wid}/review/pending", json=add)
        assert r.status_code == 200, r.text
        added = r.json()["comments"]
        assert [(x["line"], x["end_line"], x["status"]) for x in added] == [
            (2, 4, "pending"),
            (9, None, "pending"),
        ]
        assert added[0]["quote"] == "line 2\nline 3\nline 4"
        assert [x["id"] for x in _pending(c, wid)] == [x["id"] for x in added]
        assert srv.workspace(wid)["review_pending"] == 2  # type: ignore[index]
        # the agent asked for input: the round answers it (the domain's rule, not the route's)
        nudge = {"state": "Needs Input", "summary": "which way?"}
        assert c.post(f"/api/sessions/{sid}/nudge", json=nudge).status_code == 200

        r = c.post(f"/api/workspaces/{wid}/review", json={"session_id": sid})
        assert r.status_code == 200, r.text
        round_id = r.json()["round_id"]
        assert r.json() == {"status": "ok", "round_id": round_id}
        assert _pending(c, wid) == []
        rounds = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"]
    assert [x["id"] for x in rounds[0]["comments"]] == [x["id"] for x in added]
    assert [x["status"] for x in rounds[0]["comments"]] == ["sent", "sent"]
    assert srv.session(sid)["nudge_state"] == ""  # type: ignore[index]
    w = srv.workspace(wid)
    assert (w["review_rounds"], w["review_pending"], w["review_open"]) == (1, 0, 2)  # type: ignore[index]

    screen = _screen_with(srv, sid, "And this one.")
    assert "notes.txt:2-4\n> line 2\n> line 3\n> line 4\nWhy three lines?" in screen, screen
    assert "notes.txt:9\n> line 9\nAnd this one." in screen, screen

    with srv.client() as c:  # nothing pending: nothing to send
        r = c.post(f"/api/workspaces/{wid}/review", json={"session_id": sid})
        assert r.status_code == 400 and "no pending comments" in r.json()["error"], r.text


def test_a_long_range_is_quoted_in_part(make_server: Callable[..., Server]) -> None:
    srv, sid, wid, path = _setup(make_server)
    (path / "long.txt").write_text("".join(f"row {n}\n" for n in range(1, 41)))
    with srv.client() as c:
        body = {"path": "long.txt", "line": 3, "end_line": 30, "body": "all of it"}
        r = c.post(f"/api/workspaces/{wid}/review", json={"session_id": sid, "comments": [body]})
        assert r.status_code == 200, r.text
        quote = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"][0]["comments"][0]["quote"]
    assert quote.split("\n") == [f"row {n}" for n in range(3, 15)] + ["… (16 more lines)"]
    screen = _screen_with(srv, sid, "all of it")
    assert "long.txt:3-30\n> row 3\n" in screen and "> … (16 more lines)\nall of it" in screen


def test_pending_comments_survive_a_restart_and_bad_ones_are_refused(
    make_server: Callable[..., Server],
) -> None:
    srv, _sid, wid, _path = _setup(make_server, target="sleeper")
    url = f"/api/workspaces/{wid}/review/pending"
    with srv.client() as c:
        body = {
            "comments": [
                {"path": "notes.txt", "line": 5, "end_line": 6, "body": "one"},
                {"path": "notes.txt", "line": 1, "body": "two"},
                {"path": "gone.txt", "line": 3, "body": "a file not there"},
            ]
        }
        assert c.post(url, json=body).status_code == 200
        before = _pending(c, wid)
        assert before[2]["quote"] is None and before[2]["outdated"] is False
        bad: list[tuple[Any, str]] = [
            ({"comments": [{"path": "a", "line": 5, "end_line": 4, "body": "x"}]}, "end_line"),
            ({"comments": [{"path": "a", "line": 5, "end_line": "6", "body": "x"}]}, "end_line"),
            ({"comments": [{"path": "a", "line": 1, "end_line": 5000, "body": "x"}]}, "2000"),
            ({"comments": []}, "comments"),
            ({}, "comments"),
            ({"comments": [{"path": "a", "line": 1, "body": "\x1b[201~"}]}, "control"),
        ]
        for b, words in bad:
            r = c.post(url, json=b)
            assert r.status_code == 400 and words in r.json()["error"], (b, r.text)
        r = c.delete(f"{url}/c-nope")
        assert r.status_code == 404 and "c-nope" in r.json()["error"]
        r = c.post("/api/workspaces/nope-001/review/pending", json=body)
        assert r.status_code == 404
        assert _pending(c, wid) == before

    srv.stop()
    again = make_server(data_dir=srv.data_dir, config=None)
    with again.client() as c:
        assert _pending(c, wid) == before
        assert c.delete(f"{url}/{before[0]['id']}").status_code == 200
        assert [x["id"] for x in _pending(c, wid)] == [before[1]["id"], before[2]["id"]]
    assert again.workspace(wid)["review_pending"] == 2  # type: ignore[index]


def _state_comments(srv: Server) -> dict[str, dict[str, Any]]:
    """Every comment in state.json by id: what the background pass wrote (no GET forcing it)."""
    st = srv.state()
    out = {c["id"]: c for p in st.get("pending", []) for c in p["comments"]}
    out.update({c["id"]: c for r in st["reviews"] for c in r["comments"]})
    return out


async def test_comments_follow_their_lines_and_go_outdated_when_the_agent_edits_them(
    make_server: Callable[..., Server],
) -> None:
    srv, sid, wid, path = _setup(make_server, target="sleeper")
    notes = path / "notes.txt"
    with srv.client() as c:
        pend = c.post(
            f"/api/workspaces/{wid}/review/pending",
            json={"comments": [{"path": "notes.txt", "line": 5, "body": "pending on 5"}]},
        ).json()["comments"][0]["id"]
        sent = [
            {"path": "notes.txt", "line": 7, "end_line": 8, "body": "range 7-8"},
            {"path": "notes.txt", "line": 2, "body": "line 2"},
        ]
        r = c.post(f"/api/workspaces/{wid}/review", json={"session_id": sid, "comments": sent})
        assert r.status_code == 200, r.text
        round_id = r.json()["round_id"]
        rng, two = (x["id"] for x in c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"][0]["comments"])  # fmt: skip

    # the agent inserts three lines above: every comment follows its lines
    notes.write_text("new a\nnew b\nnew c\n" + TEXT)
    wait_for(lambda: _state_comments(srv)[pend]["line"] == 8, timeout=15)
    got = _state_comments(srv)
    assert (got[rng]["line"], got[rng]["end_line"], got[rng]["outdated"]) == (10, 11, False)
    assert (got[two]["line"], got[two]["status"]) == (5, "sent")
    assert got[pend]["outdated"] is False

    # the agent rewrites line 8 (inside the sent range): outdated, and addressed by itself
    async with DashboardClient(srv) as dash:
        await dash.wait(lambda ws: ws[0]["review_open"] == 2)
        notes.write_text(notes.read_text().replace("line 8\n", "line eight, fixed\n"))
        await dash.wait(lambda ws: ws[0]["review_open"] == 1, timeout=15)
    got = _state_comments(srv)
    assert got[rng]["outdated"] is True
    assert (got[rng]["status"], got[rng]["addressed_by"]) == ("addressed", "auto")
    assert (got[rng]["line"], got[rng]["end_line"]) == (10, 11)  # where they were last seen
    assert got[rng]["quote"] == "line 7\nline 8"  # the original quote is kept
    assert (got[two]["status"], got[two]["outdated"]) == ("sent", False)

    # the person reopens it (still outdated: it is not auto-addressed again), then marks it
    mark = f"/api/workspaces/{wid}/reviews/mark"
    with srv.client() as c:
        body = {"round_id": round_id, "index": 0, "addressed": False}
        assert c.post(mark, json=body).status_code == 200
        rounds = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"]
        first = rounds[0]["comments"][0]
        assert (first["status"], first["addressed_by"], first["outdated"]) == ("sent", None, True)
        assert first["line_changed"] is True
        notes.write_text(notes.read_text() + "more\n")
        first = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"][0]["comments"][0]
        assert first["status"] == "sent"
        assert c.post(mark, json={"round_id": round_id, "index": 0}).status_code == 200
        first = c.get(f"/api/workspaces/{wid}/reviews").json()["rounds"][0]["comments"][0]
        assert (first["status"], first["addressed_by"]) == ("addressed", "user")

    # the pending comment: its line deleted → outdated, still pending (nothing to address)
    notes.write_text(notes.read_text().replace("line 5\n", ""))
    wait_for(lambda: _state_comments(srv)[pend]["outdated"] is True, timeout=15)
    assert _state_comments(srv)[pend]["status"] == "pending"


def test_a_disposed_workspace_takes_its_reviews_along(make_server: Callable[..., Server]) -> None:
    """Workspace ids are given again (the lowest free number): the next workspace of the repo must
    not inherit the pending comments and rounds of the one disposed."""
    srv, sid, wid, _path = _setup(make_server, target="sleeper")
    with srv.client() as c:
        one = [{"path": "notes.txt", "line": 1, "body": "kept?"}]
        assert c.post(f"/api/workspaces/{wid}/review/pending", json={"comments": one}).is_success
        r = c.post(f"/api/workspaces/{wid}/review", json={"session_id": sid, "comments": one})
        assert r.status_code == 200, r.text
        assert c.post(f"/api/dispose/{sid}").status_code == 200
        r = c.post(f"/api/dispose-workspace/{wid}", json={"force": True})
        assert r.status_code == 200, r.text
    item = srv.spawn(repo="proj", branch="rounds-again", targets={"sleeper": 1})[0]
    assert item["workspace_id"] == wid  # the same id, a new workspace
    with srv.client() as c:
        assert _pending(c, wid) == []
        assert c.get(f"/api/workspaces/{wid}/reviews").json() == {"rounds": []}
    w = srv.workspace(wid)
    assert (w["review_rounds"], w["review_pending"], w["review_open"]) == (0, 0, 0)  # type: ignore[index]
    assert srv.state()["reviews"] == [] and srv.state()["pending"] == []
