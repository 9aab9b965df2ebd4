"""Review rounds in real Chromium against a real server, git and tmux: a range selected by
shift-click and another by dragging over the line numbers, sent to a real session whose terminal
shows them, and each comment's status changing on the page (no reload) after the agent edits the
file: moved lines followed, changed ones outdated and auto-addressed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard
from tests.conftest import TARGETS
from tests.e2e.test_review_rounds import CAT, TEXT, _screen_with
from tests.helpers import Server


def _line(page: Any, n: int) -> Any:
    """Line ``n`` of the working tree in the unified diff (rows carry data-side and data-line)."""
    return page.locator(f'[data-testid="review-line"][data-side="new"][data-line="{n}"]')


def _comment(page: Any, body: str) -> None:
    page.get_by_test_id("review-comment-text").fill(body)
    page.get_by_test_id("review-comment-add").click()
    expect(page.get_by_test_id("review-comment-text")).to_have_count(0)


def test_select_a_range_send_it_and_see_statuses_follow_the_agents_edit(
    make_server: Callable[..., Server], new_page: Callable[..., Any], shots: Path
) -> None:
    srv = make_server({"run_targets": [*TARGETS, CAT]})
    item = srv.spawn(repo="proj", branch="rounds-ui", targets={"cat": 1})[0]
    sid, wid = item["session_id"], item["workspace_id"]
    notes = Path(srv.workspace(wid)["path"]) / "notes.txt"  # type: ignore[index]
    notes.write_text(TEXT)

    page = open_dashboard(new_page(), srv)
    page.goto(f"{srv.base}/#/review/{wid}?file=notes.txt")
    expect(page.get_by_test_id("review-file-title")).to_have_text("notes.txt")

    # a range by shift-click: line 3, then shift+line 5
    _line(page, 3).locator(".code").click()
    _line(page, 5).locator(".code").click(modifiers=["Shift"])
    expect(page.get_by_test_id("review-comment-where")).to_have_text("notes.txt:3-5")
    expect(page.locator(".is-selected-line")).to_have_count(3)
    _comment(page, "Three lines that say little.")
    # a range by dragging over the line numbers: 7 to 8
    _line(page, 7).locator(".ln").nth(1).hover()
    page.mouse.down()
    _line(page, 8).locator(".ln").nth(1).hover()
    page.mouse.up()
    expect(page.get_by_test_id("review-comment-where")).to_have_text("notes.txt:7-8")
    _comment(page, "Merge these two.")
    _line(page, 1).locator(".code").click()
    _comment(page, "A better first line?")

    pending = page.get_by_test_id("review-pending-item")
    expect(pending).to_have_count(3)
    expect(pending.nth(0)).to_contain_text("notes.txt:3-5")
    expect(pending.nth(0).locator(".comment-quote")).to_have_text("line 3\nline 4\nline 5")
    page.reload()  # kept on the server, not in the page
    expect(page.get_by_test_id("review-pending-item")).to_have_count(3)
    page.screenshot(path=str(shots / "review-rounds-pending.png"), full_page=True)

    expect(page.get_by_test_id("review-send")).to_have_text("Send 3 comments to agent")
    page.get_by_test_id("review-send").click()
    expect(page.get_by_test_id("toast-success")).to_contain_text("Sent 3 comments")
    expect(page.get_by_test_id("review-pending-item")).to_have_count(0)
    screen = _screen_with(srv, sid, "A better first line?")
    assert "notes.txt:3-5\n> line 3\n> line 4\n> line 5\nThree lines that say little." in screen
    assert "notes.txt:7-8\n> line 7\n> line 8\nMerge these two." in screen

    history = page.get_by_test_id("review-round-comment")
    expect(history).to_have_count(3)
    statuses = history.get_by_test_id("review-comment-status")
    expect(statuses).to_have_text(["sent", "sent", "sent"])

    # the agent inserts a line at the top and rewrites line 4: no reload, the page follows
    notes.write_text("inserted\n" + TEXT.replace("line 4\n", "line four\n"))
    expect(statuses.nth(0)).to_have_text("auto-addressed", timeout=15_000)
    expect(history.nth(0).get_by_test_id("review-comment-outdated")).to_have_text("outdated")
    expect(history.nth(1)).to_contain_text("notes.txt:8-9")  # moved down one line
    expect(history.nth(2)).to_contain_text("notes.txt:2")
    expect(statuses).to_have_text(["auto-addressed", "sent", "sent"])

    # the person marks the first line's comment addressed, reopens the auto-addressed one and
    # marks it again, and writes a new comment that stays pending
    history.nth(2).get_by_test_id("review-mark").click()
    expect(statuses.nth(2)).to_have_text("addressed")
    history.nth(0).get_by_test_id("review-mark").click()
    expect(statuses.nth(0)).to_have_text("sent")
    expect(history.nth(0).get_by_test_id("review-comment-outdated")).to_be_visible()
    history.nth(0).get_by_test_id("review-mark").click()
    expect(statuses.nth(0)).to_have_text("addressed")
    history.nth(0).get_by_test_id("review-mark").click()  # and reopen it for the picture
    expect(statuses.nth(0)).to_have_text("sent")
    _line(page, 11).locator(".code").click()
    _comment(page, "Still to send.")
    expect(page.get_by_test_id("review-pending-item")).to_contain_text("notes.txt:11")
    notes.write_text(notes.read_text().replace("line 8\n", "line eight\n"))  # B: auto-addressed
    expect(statuses).to_have_text(["sent", "auto-addressed", "addressed"], timeout=15_000)
    page.screenshot(path=str(shots / "review-rounds-states.png"), full_page=True)
