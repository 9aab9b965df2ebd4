"""The review page in real Chromium: conflict badges on the cards, the diff of a workspace, a
comment on a line sent to a real session whose terminal receives it, and the page refreshing
itself when the agent changes a file (no reload, no polling)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard
from tests.conftest import TARGETS
from tests.e2e.test_review import READER
from tests.helpers import Server, wait_for


def test_review_a_workspace_and_send_a_comment_to_its_agent(
    make_server: Callable[..., Server], short_dir: Path, new_page: Callable[..., Any], shots: Path
) -> None:
    script = short_dir / "reader.py"
    script.write_text(READER)
    received = short_dir / "received.bin"
    reader = {
        "name": "reader",
        "type": "command",
        "command": f"{sys.executable} {script} {received}",
    }
    srv = make_server({"run_targets": [*TARGETS, reader]})
    item = srv.spawn(repo="proj", branch="review-me", targets={"reader": 1})[0]
    sid, wid = item["session_id"], item["workspace_id"]
    other = srv.spawn(repo="proj", branch="other", targets={"sleeper": 1})[0]["workspace_id"]
    path = Path(srv.workspace(wid)["path"])  # type: ignore[index]
    (path / "README.md").write_text("hello\nreviewed line\n")
    (path / "notes.txt").write_text("new notes\n")
    (Path(srv.workspace(other)["path"]) / "README.md").write_text("other agent\n")  # type: ignore[index]

    page = open_dashboard(new_page(), srv)
    card = page.get_by_test_id(f"workspace-{wid}")
    expect(card.get_by_test_id("conflict-overlap")).to_contain_text(
        f"overlaps {other}", timeout=15_000
    )
    page.screenshot(path=str(shots / "review-conflict-badges.png"))

    card.get_by_test_id("review-workspace").click()
    files = page.get_by_test_id("review-file")
    expect(files).to_have_count(2)
    expect(page.get_by_test_id("review-files")).to_contain_text("README.md")
    expect(page.get_by_test_id("review-files")).to_contain_text("+1")
    page.get_by_test_id("review-file").filter(has_text="README.md").click()
    assert "file=README.md" in page.url  # a deep link to the file
    expect(page.get_by_test_id("review-file-title")).to_have_text("README.md")
    line = page.locator('[data-testid="review-line"].line-add')
    expect(line).to_contain_text("reviewed line")
    line.click()
    page.get_by_test_id("review-comment-text").fill("Why this line?\nExplain it.")
    page.get_by_test_id("review-comment-add").click()
    expect(page.get_by_test_id("review-pending-item")).to_contain_text("README.md:2")
    page.screenshot(path=str(shots / "review-page.png"), full_page=True)
    page.get_by_test_id("review-send").click()
    expect(page.get_by_test_id("toast-success")).to_contain_text("Sent 1 comment")
    expect(page.get_by_test_id("review-pending-item")).to_have_count(0)

    wait_for(received.exists)
    text = received.read_bytes().decode().replace("\r", "\n")
    assert "README.md:2\n> reviewed line\nWhy this line?\nExplain it." in text, text
    log = srv.data_dir / "logs" / f"{sid}.log"
    wait_for(lambda: "GOT IT" in log.read_text(errors="replace"))

    # the round is listed; the person marks its comment addressed
    done = page.get_by_test_id("review-round-comment")
    expect(done).to_contain_text("README.md:2")
    expect(done.get_by_test_id("review-comment-status")).to_have_text("sent")
    page.get_by_test_id("review-mark").click()
    expect(done.get_by_test_id("review-comment-status")).to_have_text("addressed")

    # the agent edits a file: the page shows it without a reload
    (path / "added-later.py").write_text("print('later')\n")
    expect(files).to_have_count(3, timeout=15_000)
    expect(page.get_by_test_id("review-files")).to_contain_text("added-later.py")
    page.screenshot(path=str(shots / "review-page-refreshed.png"), full_page=True)
