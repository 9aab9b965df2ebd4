"""What a newcomer tripped over in the first hour (issue 14), in a real Chromium against a real
``--serve`` with real git and tmux: the layout at the desktop window's widths, a terminal of a
session disposed elsewhere, live spawn results, names that match, "done" and Restart."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard
from tests.helpers import Server, wait_for

pytestmark = pytest.mark.slow

# Text nodes that must stay on one line in a workspace card's header: the repo, the branch,
# the workspace id, the git figures and the buttons.
WRAPPED_JS = """
() => [...document.querySelectorAll(
    '.ws-head .ws-repo, .ws-head .ws-branch, .ws-head .ws-id, .ws-head .stat, ' +
    '.ws-head .dirty-mark, .ws-head .btn')]
  .filter((e) => {
    const r = document.createRange();
    r.selectNodeContents(e);
    const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
    return tops.size > 1;
  })
  .map((e) => e.className + ': ' + e.textContent)
"""


def api(server: Server, method: str, path: str, **kw: Any) -> httpx.Response:
    with server.client() as c:
        return c.request(method, path, **kw)


def test_workspace_header_never_wraps_between_1100_and_1400_px(
    make_server: Callable[..., Server], short_dir: Path, new_page: Callable[..., Any], shots: Path
) -> None:
    server = make_server(data_dir=short_dir / "demo", extra_args=["--demo"])
    items = server.spawn(repo="demo", branch="feature/desktop-window", targets={"shell": 2})
    assert all("session_id" in i for i in items), items
    wid = items[0]["workspace_id"]
    path = Path(server.workspace(wid)["path"])  # type: ignore[index]
    (path / "scratch.txt").write_text("one\ntwo\n")
    api(server, "POST", "/api/config", json={"sessions": {"git_status_poll_interval_ms": 500}})
    wait_for(lambda: (server.workspace(wid) or {}).get("git_dirty") is True, timeout=15)

    page = open_dashboard(new_page(width=1100, height=800), server)
    expect(page.get_by_test_id(f"workspace-{wid}").get_by_test_id("git-dirty")).to_have_attribute(
        "data-dirty", "true"
    )
    wrapped: dict[int, list[str]] = {}
    for width in range(1100, 1421, 20):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(50)
        if width in (1100, 1200, 1400):
            page.screenshot(path=str(shots / f"dashboard-{width}.png"))
        found = page.evaluate(WRAPPED_JS)
        if found:
            wrapped[width] = found
    assert wrapped == {}, wrapped


def test_terminal_of_a_session_disposed_elsewhere_says_so_and_refuses_typing(
    server: Server, new_page: Callable[..., Any], shots: Path
) -> None:
    sid = server.spawn(repo="proj", branch="feature", targets={"shell": 1})[0]["session_id"]
    page = open_dashboard(new_page(), server)
    page.goto(f"{server.base}/#/session/{sid}")
    view = page.get_by_test_id("terminal-view")
    expect(view.get_by_test_id("term-connection-status")).to_contain_text("Connected")
    expect(view.get_by_test_id("term-run-state")).to_have_text("Running")

    assert api(server, "POST", f"/api/dispose/{sid}", json={}).status_code == 200  # elsewhere
    expect(view.get_by_test_id("term-notice")).to_contain_text("disposed")
    state = view.get_by_test_id("term-run-state")
    expect(state).to_have_text("Disposed")
    expect(state).to_have_attribute("data-running", "false")
    page.get_by_test_id("term-screen").click()
    page.keyboard.type("ls")
    note = view.get_by_test_id("term-input-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("not sent")
    page.wait_for_timeout(4500)  # it stays while the session is gone (no silent drop later)
    expect(note).to_be_visible()
    expect(view.get_by_test_id("term-restart")).to_be_hidden()
    page.screenshot(path=str(shots / "terminal-disposed-elsewhere.png"))


def test_spawn_results_follow_renames_and_disposals(
    server: Server, new_page: Callable[..., Any]
) -> None:
    page = open_dashboard(new_page(), server)
    form = page.get_by_test_id("spawn-form")
    form.get_by_test_id("spawn-branch").fill("feature")
    form.get_by_test_id("spawn-target-shell").fill("1")
    form.get_by_test_id("spawn-target-sleeper").fill("0")
    form.get_by_test_id("spawn-target-echo").fill("0")
    form.get_by_test_id("spawn-submit").click()
    result = page.get_by_test_id("spawn-result-ok")
    expect(result).to_have_count(1)
    sid = result.get_attribute("data-spawned-session-id")
    assert sid
    expect(result.get_by_test_id("spawn-result-open")).to_be_visible()

    r = api(server, "PUT", f"/api/sessions-nickname/{sid}", json={"nickname": "renamed"})
    assert r.status_code == 200
    expect(result).to_contain_text("renamed")

    assert api(server, "POST", f"/api/dispose/{sid}", json={}).status_code == 200
    gone = page.get_by_test_id("spawn-results").locator(f'[data-spawned-session-id="{sid}"]')
    expect(gone).to_contain_text("disposed")
    expect(gone.get_by_role("link")).to_have_count(0)  # no link to "No such session"

    wid = server.spawn(repo="proj", branch="other", targets={"sleeper": 1})[0]["workspace_id"]
    form.get_by_test_id("spawn-workspace").select_option(wid)
    sess = server.workspace(wid)["sessions"][0]["id"]  # type: ignore[index]
    api(server, "POST", f"/api/dispose/{sess}", json={})
    assert api(server, "POST", f"/api/dispose-workspace/{wid}", json={}).status_code == 200
    status = form.get_by_test_id("spawn-status")
    expect(status).to_contain_text(f"{wid} was disposed")
    expect(status).not_to_contain_text("spawning into")


def test_names_match_and_two_sessions_of_one_target_differ(
    server: Server, new_page: Callable[..., Any]
) -> None:
    items = server.spawn(repo="proj", branch="feature", targets={"sleeper": 2})
    wid = items[0]["workspace_id"]
    page = open_dashboard(new_page(), server)
    card = page.get_by_test_id(f"workspace-{wid}")
    # The repo is called "proj" in the config and the form; its URL ends in "origin".
    expect(page.get_by_test_id("spawn-repo").locator("option")).to_have_text(["proj"])
    expect(card.locator(".ws-repo")).to_have_text("proj")
    expect(page.get_by_test_id("totals")).to_contain_text("uncommitted")
    expect(page.get_by_test_id("totals")).not_to_contain_text("dirty")
    tags = [
        card.get_by_test_id(f"session-{i['session_id']}").get_by_test_id("session-tag").inner_text()
        for i in items
    ]
    assert tags[0] != tags[1] and all(t.startswith("#") for t in tags), tags
    # The attach command is on screen, not only in a tooltip.
    attach = card.get_by_test_id(f"session-{items[0]['session_id']}").get_by_test_id("attach-cmd")
    expect(attach).to_be_visible()
    expect(attach).to_contain_text("tmux -S")


def test_a_clean_exit_is_done_and_restart_keeps_target_workspace_and_nickname(
    make_server: Callable[..., Server], new_page: Callable[..., Any], shots: Path
) -> None:
    server = make_server(
        {
            "run_targets": [
                {"name": "ok", "type": "command", "command": "echo all good; exit 0"},
                {"name": "shell", "type": "command", "command": "bash --norc --noprofile"},
            ]
        }
    )
    item = server.spawn(repo="proj", branch="main", targets={"ok": 1}, nickname="checker")[0]
    sid, wid = item["session_id"], item["workspace_id"]
    wait_for(lambda: (server.session(sid) or {}).get("exit_status") == 0, timeout=10)
    page = open_dashboard(new_page(), server)
    row = page.get_by_test_id(f"session-{sid}")
    expect(row.get_by_test_id("run-state")).to_have_text("Done")
    expect(row.get_by_test_id("attention")).to_be_hidden()
    totals = page.get_by_test_id("totals")
    expect(totals).to_contain_text("1 done")
    expect(totals).to_contain_text("0 need attention")
    expect(totals).not_to_have_class(re.compile("has-attention"))
    page.screenshot(path=str(shots / "session-done.png"), full_page=True)

    row.get_by_test_id("restart-session").click()
    expect(row).to_have_count(0)
    card = page.get_by_test_id(f"workspace-{wid}")
    new_rows = card.locator("li.session")
    expect(new_rows).to_have_count(1)
    expect(new_rows.get_by_test_id("name-label")).to_have_text("checker")
    new_id = new_rows.get_attribute("data-session-id")
    assert new_id and new_id != sid
    s = wait_for(lambda: server.session(new_id), timeout=5)
    assert (s["target"], s["nickname"]) == ("ok", "checker")

    # From the terminal view: Restart moves the view to the new session.
    wait_for(lambda: (server.session(new_id) or {}).get("exit_status") == 0, timeout=10)
    page.goto(f"{server.base}/#/session/{new_id}")
    view = page.get_by_test_id("terminal-view")
    expect(view.get_by_test_id("term-run-state")).to_have_text("Done")
    view.get_by_test_id("term-restart").click()
    expect(page).not_to_have_url(re.compile(re.escape(new_id)))
    expect(view.get_by_test_id("term-title")).to_have_text("checker")
    expect(view.get_by_test_id("term-notice")).to_be_hidden()
