"""Hosts in the dashboard (docs/API.md#hosts), in a real Chromium: a real ``--serve`` host and the
aggregating server configured with it; spawn on the host from the form, type into its terminal,
see its section go stale when it is killed."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard
from tests.conftest import TARGETS
from tests.helpers import Server, make_repo, wait_for

pytestmark = pytest.mark.slow


def test_spawn_on_a_host_type_into_it_and_see_it_go_stale(
    make_server: Callable[..., Server], short_dir: Path, new_page: Callable[..., Any], shots: Path
) -> None:
    far = make_repo(short_dir / "far-origin", files={"README.md": "far\n"})
    host = make_server(
        {"repos": [{"name": "far", "url": str(far)}], "run_targets": TARGETS},
        token="host-token-0123456789",
    )
    local = make_server({"hosts": [{"name": "gpu-box", "url": host.base, "token": host.token}]})
    page = open_dashboard(new_page(), local)

    heading = page.locator('[data-testid="host-section"][data-host="gpu-box"]')
    expect(heading.get_by_test_id("host-state")).to_contain_text(re.compile(r"connected · \d+ ms"))
    page.get_by_test_id("spawn-host").select_option("gpu-box")
    expect(page.get_by_test_id("spawn-repo").locator("option")).to_have_text(["far"])
    page.get_by_test_id("spawn-target-shell").fill("1")
    page.get_by_test_id("spawn-branch").fill("remote-work")
    page.get_by_test_id("spawn-nickname").fill("faraway")
    page.get_by_test_id("spawn-submit").click()
    expect(page.get_by_test_id("spawn-status")).to_contain_text("Started 1 session")
    (w,) = host.sessions()
    assert w["branch"] == "remote-work" and w["sessions"][0]["nickname"] == "faraway"
    sid = f"gpu-box:{w['sessions'][0]['id']}"
    card = page.get_by_test_id(f"workspace-gpu-box:{w['id']}")
    expect(card).to_contain_text("remote-work")
    expect(heading.get_by_test_id("host-counts")).to_contain_text("1 workspace")
    page.screenshot(path=str(shots / "hosts-connected.png"), full_page=True)

    # its terminal, relayed through the local server
    page.get_by_test_id(f"session-{sid}").get_by_test_id("open-session").click()
    view = page.get_by_test_id("terminal-view")
    expect(view.get_by_test_id("term-connection-status")).to_contain_text("Connected")
    text = "() => window.__schmuxTerminal ? window.__schmuxTerminal.text() : ''"
    wait_for(lambda: re.search(r"[$#]$", str(page.evaluate(text))), timeout=10)
    page.keyboard.type("echo far-$((6*7))-away\n")
    wait_for(lambda: "far-42-away" in str(page.evaluate(text)), timeout=10)

    # the host dies: its section says so, its card stays, dimmed
    page.goto(local.base + "/#/")
    expect(card).to_be_visible()
    host.stop(signal.SIGKILL)
    expect(heading.get_by_test_id("host-state")).to_contain_text(re.compile("reconnecting|offline"))
    expect(heading).to_have_class(re.compile("is-stale"))
    expect(card).to_have_class(re.compile("is-host-stale"))
    expect(heading.get_by_test_id("host-note")).to_contain_text("last state")
    page.screenshot(path=str(shots / "hosts-offline.png"), full_page=True)
