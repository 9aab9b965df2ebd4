"""Dispose with a snapshot, "Dispose anyway" and Restore, in a real Chromium against a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard
from tests.helpers import Server, git, wait_for

pytestmark = pytest.mark.slow


def test_dispose_anyway_keeps_a_snapshot_and_restore_brings_it_back(
    server: Server, new_page: Callable[..., Any], shots: Path
) -> None:
    with server.client() as c:
        assert c.post("/api/config", json={"sessions": {"git_status_poll_interval_ms": 500}})
        item = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})[0]
        assert c.post(f"/api/dispose/{item['session_id']}", json={}).status_code == 200
    wid = item["workspace_id"]
    path = Path(server.workspace(wid)["path"])  # type: ignore[index]
    (path / "README.md").write_text("edited by the agent\n")
    (path / "scratch.txt").write_text("a newcomer's scratch file\n")
    wait_for(lambda: (server.workspace(wid) or {}).get("git_files_changed") == 2, timeout=15)

    page = open_dashboard(new_page(), server)
    expect(page.get_by_test_id("disposed-empty")).to_be_visible()
    row = page.get_by_test_id(f"workspace-{wid}")
    row.get_by_test_id("dispose-workspace").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("2 uncommitted files will be kept in a snapshot for 14 days")
    page.screenshot(path=str(shots / "dispose-dialog-keeps.png"), full_page=True)
    dialog.get_by_test_id("confirm-button").click()
    expect(dialog.get_by_test_id("confirm-error")).to_contain_text("uncommitted changes")
    anyway = dialog.get_by_test_id("confirm-anyway")
    expect(anyway).to_have_text("Dispose anyway (a snapshot is kept)")
    expect(dialog.get_by_test_id("confirm-button")).to_be_hidden()
    expect(dialog.get_by_test_id("confirm-note")).to_contain_text("snapshot for 14 days")
    page.screenshot(path=str(shots / "dispose-dialog-anyway.png"), full_page=True)
    anyway.click()
    expect(row).to_have_count(0)
    assert not path.exists()

    item_row = page.get_by_test_id("disposed-item")
    expect(item_row).to_have_count(1)
    expect(item_row).to_contain_text("feature")
    expect(item_row).to_contain_text("kept 2 files")
    page.screenshot(path=str(shots / "recently-disposed.png"), full_page=True)
    narrow = open_dashboard(new_page(color_scheme="dark", width=760, height=900), server)
    expect(narrow.get_by_test_id("disposed-item")).to_have_count(1)
    narrow.get_by_test_id("disposed-panel").scroll_into_view_if_needed()
    narrow.screenshot(path=str(shots / "recently-disposed-dark-narrow.png"))

    item_row.get_by_test_id("restore-button").click()
    expect(page.get_by_test_id(f"workspace-{wid}")).to_be_visible()
    expect(page.get_by_test_id("toast-success").last).to_contain_text(f"Restored {wid}")
    expect(page.get_by_test_id("disposed-item")).to_have_count(0)
    assert (path / "scratch.txt").read_text() == "a newcomer's scratch file\n"
    assert (path / "README.md").read_text() == "edited by the agent\n"
    assert git(path, "rev-parse", "--abbrev-ref", "HEAD") == "feature"
    page.screenshot(path=str(shots / "restored.png"), full_page=True)
