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

    # the status window's page counts per machine too (same origin: the token is kept)
    status = new_page()
    status.goto(local.url)
    status.goto(local.base + "/status.html")
    machines = status.get_by_test_id("status-hosts")
    expect(machines.locator('li[data-host="gpu-box"]')).to_have_text("gpu-box 1/1")
    expect(machines.locator('li[data-host=""]')).to_have_text("This machine 0/0")
    expect(status.get_by_test_id("running")).to_have_text("1")
    status.close()

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


def test_the_machines_panel_tests_adds_and_removes_a_real_host(
    make_server: Callable[..., Server], short_dir: Path, new_page: Callable[..., Any], shots: Path
) -> None:
    """The Machines panel against a real host: a wrong token is said to be wrong, the right
    one says Connected with the host's version; added, its workspaces appear under its own
    header; removed (after the confirm dialog), its section goes. No response the page gets
    (HTTP or WebSocket) ever holds the host's token."""
    far = make_repo(short_dir / "far-origin", files={"README.md": "far\n"})
    host = make_server(
        {"repos": [{"name": "far", "url": str(far)}], "run_targets": TARGETS},
        token="host-secret-token-0123456789",
    )
    host.spawn(repo="far", branch="far-branch", targets={"sleeper": 1})
    (far_ws,) = host.sessions()
    with host.client() as c:
        version = c.get("/api/healthz").json()["version"]
    local = make_server({})
    page = new_page()
    seen: list[str] = []  # every response body and socket frame the page received

    def on_response(response: Any) -> None:
        try:
            seen.append(response.text())
        except Exception:  # a redirect or an aborted request: nothing to read
            seen.append("")

    page.on("response", on_response)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: seen.append(str(f))))
    open_dashboard(page, local)

    panel = page.get_by_test_id("hosts-panel")
    panel.locator("summary").click()
    expect(panel.get_by_test_id("hosts-list")).to_contain_text("None yet")
    panel.get_by_test_id("host-name").fill("gpu-box")
    panel.get_by_test_id("host-url").fill(host.base)
    panel.get_by_test_id("host-token").fill("a-wrong-token-0123456789")
    panel.get_by_test_id("host-test").click()
    result = panel.get_by_test_id("host-result")
    expect(result).to_have_text("Not reachable: host gpu-box refused the configured token.")
    expect(result).to_have_attribute("data-ok", "false")
    panel.get_by_test_id("host-token").fill(host.token or "")
    panel.get_by_test_id("host-test").click()
    expect(result).to_have_text(
        re.compile(rf"^Connected \(schmux-desktop {re.escape(version)}\) in \d+ ms\.$")
    )
    expect(result).to_have_attribute("data-ok", "true")
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(shots / "hosts-machines-test.png"))
    assert "gpu-box" not in (local.data_dir / "config.json").read_text()

    panel.get_by_test_id("host-add").click()
    item = panel.locator('[data-testid="host-item"][data-host="gpu-box"]')
    expect(item).to_have_attribute("data-state", "connected")
    expect(panel.get_by_test_id("host-token")).to_have_value("")  # the form forgets it
    heading = page.locator('[data-testid="host-section"][data-host="gpu-box"]')
    card = page.get_by_test_id(f"workspace-gpu-box:{far_ws['id']}")
    expect(card).to_contain_text("far-branch")
    expect(heading.get_by_test_id("host-counts")).to_contain_text("1 workspace")
    follows = page.evaluate(
        "([h, c]) => !!(h.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING)",
        [heading.element_handle(), card.element_handle()],
    )
    assert follows, "the host's workspace is not under its header"
    page.screenshot(path=str(shots / "hosts-machines-added.png"), full_page=True)

    item.get_by_test_id("host-remove").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("Remove machine “gpu-box”?")
    page.get_by_test_id("confirm-button").click()
    expect(heading).to_have_count(0)
    expect(card).to_have_count(0)
    expect(item).to_have_count(0)
    assert "gpu-box" not in (local.data_dir / "config.json").read_text()
    assert host.sessions()[0]["id"] == far_ws["id"]  # nothing on the host was touched

    assert seen and any("far-branch" in text for text in seen)  # the host's data came through
    leaked = [text[:200] for text in seen if host.token and host.token in text]
    assert not leaked, leaked
