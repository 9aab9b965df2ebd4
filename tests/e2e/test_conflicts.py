"""The payload's ``conflicts`` on a real server: two workspaces editing one file, a branch that
conflicts with a new commit on the default branch, pushed over /ws/dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers import DashboardClient, Server, git


def _workspace(server: Server, branch: str) -> tuple[str, Path]:
    item = server.spawn(repo="proj", branch=branch, targets={"sleeper": 1})[0]
    ws = server.workspace(item["workspace_id"])
    assert ws is not None
    return ws["id"], Path(ws["path"])


def _conflicts(workspaces: list[dict[str, Any]], wid: str) -> list[dict[str, Any]]:
    return next(w["conflicts"] for w in workspaces if w["id"] == wid)  # type: ignore[no-any-return]


async def test_every_workspace_has_conflicts_and_two_editing_one_file_see_each_other(
    server: Server,
) -> None:
    a, pa = _workspace(server, "c-one")
    b, pb = _workspace(server, "c-two")
    c, pc = _workspace(server, "c-three")
    assert all(w["conflicts"] == [] for w in server.sessions())
    async with DashboardClient(server) as dash:
        (pa / "README.md").write_text("from a\n")  # uncommitted
        (pb / "README.md").write_text("from b\n")
        git(pb, "commit", "-qam", "b's work")  # committed
        (pc / "other.txt").write_text("c alone\n")
        await dash.wait(
            lambda ws: (
                _conflicts(ws, a) == [{"with": b, "files": ["README.md"]}]
                and _conflicts(ws, b) == [{"with": a, "files": ["README.md"]}]
            ),
            timeout=15,
        )
        assert _conflicts(dash.workspaces or [], c) == []
        # a gives its change up: the overlap goes, for both
        git(pa, "checkout", "--", "README.md")
        await dash.wait(lambda ws: _conflicts(ws, a) == [] and _conflicts(ws, b) == [], timeout=15)
    # GET /api/sessions carries the same (from the cache: no git while building it)
    assert {w["id"]: w["conflicts"] for w in server.sessions()} == {a: [], b: [], c: []}


async def test_a_branch_that_conflicts_with_a_new_commit_on_main(
    server: Server, origin: Path
) -> None:
    wid, path = _workspace(server, "c-base")
    (path / "README.md").write_text("the agent's version\n")
    (path / "src" / "app.py").write_text("print('agent')\n")
    git(path, "add", "src/app.py")
    git(path, "commit", "-q", "-m", "agent")
    async with DashboardClient(server) as dash:
        # main moves on elsewhere, touching one of the two files; the workspace fetches it
        (origin / "README.md").write_text("main's version\n")
        git(origin, "commit", "-qam", "main moves on")
        git(path, "fetch", "-q", "origin")
        await dash.wait(
            lambda ws: _conflicts(ws, wid) == [{"with": "base", "files": ["README.md"]}],
            timeout=15,
        )
        # the agent takes main's side: nothing left to conflict
        (path / "README.md").write_text("main's version\n")
        await dash.wait(lambda ws: _conflicts(ws, wid) == [], timeout=15)
    # the forecast left the checkout's index alone (README.md is still unstaged)
    assert git(path, "diff", "--cached", "--name-only") == ""
    assert git(path, "diff", "--name-only") == "README.md"
