"""The dashboard in a real Chromium against a real ``--serve`` backend (issue 4, "Done means")."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard
from tests.helpers import Server, git, wait_for

pytestmark = pytest.mark.slow

STATUS_WORDS = re.compile(r"Reconnecting|Offline")


def session_row(page: Any, session_id: str) -> Any:
    return page.get_by_test_id(f"session-{session_id}")


def workspace_row(page: Any, workspace_id: str) -> Any:
    return page.get_by_test_id(f"workspace-{workspace_id}")


def choose_filter(page: Any, value: str) -> None:
    """Click the visible label of a filter option, as a person would."""
    page.locator(f'label[for="filter-{value}"]').click()
    expect(page.get_by_test_id(f"filter-{value}")).to_be_checked()


def api(server: Server, method: str, path: str, **kw: Any) -> httpx.Response:
    with server.client() as c:
        return c.request(method, path, **kw)


def fast_git_polling(server: Server) -> None:
    r = api(server, "POST", "/api/config", json={"sessions": {"git_status_poll_interval_ms": 500}})
    assert r.status_code == 200, r.text


def spawned_ids(items: list[dict[str, Any]]) -> list[str]:
    assert all("session_id" in i for i in items), items
    return [i["session_id"] for i in items]


def test_demo_loads_spawns_from_the_form_and_shows_version(
    make_server: Callable[..., Server], short_dir: Path, new_page: Callable[..., Any], shots: Path
) -> None:
    server = make_server(data_dir=short_dir / "demo", extra_args=["--demo"])
    page = open_dashboard(new_page(), server)

    version = httpx.get(server.base + "/api/healthz").json()["version"]
    expect(page.get_by_test_id("footer-version")).to_contain_text(version)
    expect(page.get_by_test_id("first-run")).to_be_hidden()
    expect(page.get_by_test_id("spawn-repo").locator("option")).to_contain_text(["demo"])
    expect(page.get_by_test_id("spawn-target-shell")).to_have_value("1")

    page.get_by_test_id("spawn-branch").fill("try-it")
    page.get_by_test_id("spawn-nickname").fill("helper")
    page.get_by_test_id("spawn-submit").click()
    row = page.locator("[data-session-id]").filter(has_text="helper")
    expect(row).to_be_visible()
    expect(row.get_by_test_id("run-state")).to_have_text("Running")
    expect(page.get_by_test_id("spawn-status")).to_contain_text("Started 1 session")
    # The clone/checkout progress pushed while the workspace was prepared ends as a full bar.
    expect(page.locator('[data-testid="progress-item"][data-stage="ready"]')).to_be_visible()
    ws = server.sessions()
    assert [s["nickname"] for w in ws for s in w["sessions"]] == ["helper"]
    expect(workspace_row(page, ws[0]["id"])).to_contain_text("try-it")
    page.screenshot(path=str(shots / "demo-light.png"), full_page=True)

    dark = open_dashboard(new_page(color_scheme="dark"), server)
    expect(dark.locator("[data-session-id]").filter(has_text="helper")).to_be_visible()
    dark.screenshot(path=str(shots / "demo-dark.png"), full_page=True)


def test_spawn_rename_dispose(server: Server, new_page: Callable[..., Any], shots: Path) -> None:
    page = open_dashboard(new_page(), server)
    page.get_by_test_id("spawn-branch").fill("feature")
    page.get_by_test_id("spawn-target-shell").fill("0")
    page.get_by_test_id("spawn-target-sleeper").fill("2")
    page.get_by_test_id("spawn-nickname").fill("job")
    page.get_by_test_id("spawn-submit").click()
    expect(page.get_by_test_id("spawn-result-ok")).to_have_count(2)
    ws = wait_for(lambda: [w for w in server.sessions() if len(w["sessions"]) == 2])[0]
    first, second = ws["sessions"]
    for s in (first, second):
        expect(session_row(page, s["id"]).get_by_test_id("name-label")).to_have_text(s["nickname"])

    # Rename to a taken name: the server's 409 text appears next to the field.
    row = session_row(page, second["id"])
    row.get_by_test_id("rename-button").click()
    field = row.get_by_test_id("rename-input")
    expect(field).to_be_focused()
    field.fill(first["nickname"])
    field.press("Enter")
    expect(row.get_by_test_id("rename-error")).not_to_be_empty()
    expect(field).to_be_visible()
    page.screenshot(path=str(shots / "rename-conflict.png"), full_page=True)

    # Keyboard only: type a free name, Enter saves.
    field.fill("worker")
    field.press("Enter")
    expect(row.get_by_test_id("name-label")).to_have_text("worker")
    expect(row.get_by_test_id("rename-input")).to_have_count(0)
    wait_for(lambda: (server.session(second["id"]) or {}).get("nickname") == "worker")

    # Disposing the workspace while it has sessions: confirmation names what is lost; 409 shown as is.
    workspace_row(page, ws["id"]).get_by_test_id("dispose-workspace").click()
    dialog = page.get_by_test_id("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(ws["path"])
    expect(dialog).to_contain_text("2 sessions")
    dialog.get_by_test_id("confirm-button").click()
    expect(dialog.get_by_test_id("confirm-error")).to_be_visible()
    refused = api(server, "POST", f"/api/dispose-workspace/{ws['id']}")
    assert refused.status_code == 409
    expect(dialog.get_by_test_id("confirm-error")).to_have_text(refused.json()["error"])
    page.screenshot(path=str(shots / "dispose-workspace-refused.png"), full_page=True)
    dialog.get_by_test_id("confirm-cancel").click()
    expect(dialog).to_be_hidden()

    # Dispose both sessions through the dialog; each row disappears.
    for sid, label in ((second["id"], "worker"), (first["id"], first["nickname"])):
        session_row(page, sid).get_by_test_id("dispose-session").click()
        expect(dialog).to_contain_text(label)
        dialog.get_by_test_id("confirm-button").click()
        expect(session_row(page, sid)).to_have_count(0)
    assert server.session(first["id"]) is None and server.session(second["id"]) is None

    # Now the clean, empty workspace can go.
    workspace_row(page, ws["id"]).get_by_test_id("dispose-workspace").click()
    dialog.get_by_test_id("confirm-button").click()
    expect(workspace_row(page, ws["id"])).to_have_count(0)
    assert server.workspace(ws["id"]) is None


def test_prompt_goes_only_with_a_promptable_target(
    server: Server, new_page: Callable[..., Any]
) -> None:
    page = open_dashboard(new_page(), server)
    prompt = page.get_by_test_id("spawn-prompt")
    expect(prompt).to_be_disabled()  # only "shell" (a command target) is chosen
    page.get_by_test_id("spawn-target-shell").fill("0")
    page.get_by_test_id("spawn-target-echo").fill("1")
    expect(prompt).to_be_enabled()
    prompt.fill("say $HOME; `hi`")
    page.get_by_test_id("spawn-branch").fill("main")
    page.get_by_test_id("spawn-submit").click()
    expect(page.get_by_test_id("spawn-result-ok")).to_have_count(1)
    expect(prompt).to_have_value("")  # cleared after a fully successful spawn


def test_commit_changes_ahead_count_without_reload(
    server: Server, new_page: Callable[..., Any]
) -> None:
    fast_git_polling(server)
    items = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})
    ws = server.workspace(items[0]["workspace_id"])
    assert ws is not None
    page = open_dashboard(new_page(), server)
    ahead = workspace_row(page, ws["id"]).get_by_test_id("git-ahead")
    expect(ahead).to_have_text("0")
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url))

    path = Path(ws["path"])
    (path / "new.txt").write_text("one\ntwo\n")
    expect(workspace_row(page, ws["id"]).get_by_test_id("git-dirty")).to_have_attribute(
        "data-dirty", "true", timeout=20_000
    )
    expect(workspace_row(page, ws["id"]).get_by_test_id("git-lines-added")).to_have_text("2")
    git(path, "add", "new.txt")
    git(path, "commit", "-q", "-m", "more")
    expect(ahead).to_have_text("1", timeout=20_000)
    expect(workspace_row(page, ws["id"]).get_by_test_id("git-dirty")).to_have_attribute(
        "data-dirty", "false"
    )
    assert navigations == []


def test_server_restart_marks_stale_then_reconnects(
    server: Server, new_page: Callable[..., Any], shots: Path
) -> None:
    items = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1}, nickname="survivor")
    sid = spawned_ids(items)[0]
    page = open_dashboard(new_page(), server)
    status = page.get_by_test_id("connection-status")
    expect(status).to_have_attribute("role", "status")
    expect(page.get_by_test_id("stale-marker")).to_be_hidden()

    server.stop()
    expect(status).to_contain_text(STATUS_WORDS)
    expect(page.get_by_test_id("stale-marker")).to_be_visible()
    expect(session_row(page, sid)).to_be_visible()  # the last state stays on screen
    expect(status).to_contain_text(re.compile(r"retry in \d+s"))
    text = status.inner_text()
    assert sum(w in text for w in ("Connected", "Reconnecting", "Offline")) == 1, text
    page.screenshot(path=str(shots / "reconnecting-stale.png"), full_page=True)
    # Let a few retries fail so the backoff grows; the indicator then says Offline.
    expect(status).to_contain_text("Offline", timeout=20_000)
    page.screenshot(path=str(shots / "offline-stale.png"), full_page=True)

    server.start()  # same port, same data dir, same token: the cookie still works
    status.click()  # a click retries at once instead of waiting out the backoff
    expect(status).to_contain_text("Connected", timeout=10_000)
    expect(page.get_by_test_id("stale-marker")).to_be_hidden()
    expect(session_row(page, sid)).to_be_visible()
    # Fresh state flows again.
    assert (
        api(server, "PUT", f"/api/sessions-nickname/{sid}", json={"nickname": "back"}).status_code
        == 200
    )
    expect(session_row(page, sid).get_by_test_id("name-label")).to_have_text("back")


def test_two_tabs_both_update(server: Server, new_page: Callable[..., Any]) -> None:
    first = open_dashboard(new_page(), server)
    second = open_dashboard(new_page(context=first.context), server)
    items = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1}, nickname="shared")
    sid = spawned_ids(items)[0]
    for page in (first, second):
        expect(session_row(page, sid).get_by_test_id("name-label")).to_have_text("shared")
    api(server, "POST", f"/api/dispose/{sid}")
    for page in (first, second):
        expect(session_row(page, sid)).to_have_count(0)


def test_no_polling_after_load(server: Server, new_page: Callable[..., Any]) -> None:
    page = new_page()
    requests: list[tuple[float, str]] = []
    page.on("request", lambda r: requests.append((time.monotonic(), r.url)))
    open_dashboard(page, server)
    loaded = time.monotonic()
    items = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})
    expect(session_row(page, spawned_ids(items)[0])).to_be_visible()  # arrived by push
    page.wait_for_timeout(15_000)
    paths = [httpx.URL(u).path for _, u in requests]
    assert paths.count("/api/healthz") == 1, paths
    assert "/api/sessions" not in paths, paths
    after = [httpx.URL(u).path for t, u in requests if t > loaded]
    assert [p for p in after if p.startswith("/api/")] == [], after


def test_filter_sort_persist_and_attention(
    server: Server, new_page: Callable[..., Any], shots: Path
) -> None:
    fast_git_polling(server)
    busy = spawned_ids(
        server.spawn(repo="proj", branch="feature", targets={"sleeper": 1}, nickname="busy")
    )[0]
    done = spawned_ids(
        server.spawn(repo="proj", branch="main", targets={"echo": 1}, prompt="hi", nickname="done")
    )[0]
    wait_for(lambda: (server.session(done) or {}).get("running") is False, timeout=20)
    r = api(
        server,
        "POST",
        f"/api/sessions/{busy}/nudge",
        json={"state": "needs_input", "summary": "Approve the plan?"},
    )
    assert r.status_code < 300, r.text

    page = open_dashboard(new_page(), server)
    expect(session_row(page, done).get_by_test_id("run-state")).to_have_text("Done")  # exit 0
    attention = session_row(page, busy).get_by_test_id("attention")
    expect(attention).to_be_visible()
    expect(attention).to_contain_text("Approve the plan?")
    page.screenshot(path=str(shots / "attention.png"), full_page=True)

    choose_filter(page, "running")
    expect(page.get_by_test_id("filter-running")).to_be_checked()
    expect(session_row(page, done)).to_have_count(0)
    expect(session_row(page, busy)).to_be_visible()
    page.get_by_test_id("sort-select").select_option("activity")
    page.reload()
    expect(page.get_by_test_id("connection-status")).to_contain_text("Connected")
    expect(page.get_by_test_id("filter-running")).to_be_checked()
    expect(page.get_by_test_id("sort-select")).to_have_value("activity")
    expect(session_row(page, busy)).to_be_visible()
    expect(session_row(page, done)).to_have_count(0)

    choose_filter(page, "attention")
    expect(session_row(page, busy)).to_be_visible()
    api(server, "DELETE", f"/api/sessions/{busy}/nudge")
    expect(session_row(page, busy)).to_have_count(0)  # no longer needs attention

    choose_filter(page, "running")
    expect(session_row(page, busy)).to_be_visible()
    api(server, "POST", f"/api/dispose/{busy}")
    expect(page.get_by_test_id("empty-state")).to_be_visible()  # nothing running is left
    page.get_by_test_id("show-all").click()
    expect(page.get_by_test_id("filter-all")).to_be_checked()
    expect(session_row(page, done)).to_be_visible()


def test_open_links_to_the_session_route(server: Server, new_page: Callable[..., Any]) -> None:
    sid = spawned_ids(server.spawn(repo="proj", branch="feature", targets={"sleeper": 1}))[0]
    page = open_dashboard(new_page(), server)
    session_row(page, sid).get_by_test_id("open-session").click()
    assert page.url.endswith(f"#/session/{sid}")
    expect(page.get_by_test_id("terminal-view")).to_be_visible()
    page.get_by_test_id("back-to-dashboard").click()
    expect(session_row(page, sid)).to_be_visible()


def test_first_run_adds_a_repo(
    make_server: Callable[..., Server], origin: Path, new_page: Callable[..., Any], shots: Path
) -> None:
    server = make_server({"repos": []})
    page = open_dashboard(new_page(), server)
    first_run = page.get_by_test_id("first-run")
    expect(first_run).to_be_visible()
    page.screenshot(path=str(shots / "first-run.png"), full_page=True)
    page.get_by_test_id("first-run-url").fill(str(origin))
    page.get_by_test_id("first-run-submit").click()
    expect(first_run).to_be_hidden()
    expect(page.get_by_test_id("spawn-repo").locator("option")).to_contain_text([origin.name])
    repos = api(server, "GET", "/api/config").json()["repos"]
    assert repos == [{"name": origin.name, "url": str(origin)}]


def _big_state(tick: int) -> list[dict[str, Any]]:
    out = []
    for n in range(1, 101):
        wid = f"load-{n:03d}"
        changed = n % 10 == tick % 10
        out.append(
            {
                "id": wid,
                "repo": "git@example.invalid:me/load.git",
                "branch": f"branch-{n}",
                "short_repo": "load",
                "path": f"/data/workspaces/{wid}",
                "session_count": 3,
                "sessions": [
                    {
                        "id": f"{wid}-{k}",
                        "target": "claude",
                        "nickname": "",
                        "running": True,
                        "created_at": "2024-01-15T10:30:00Z",
                        "last_output_at": f"2024-01-15T10:{30 + (tick if changed else 0) % 30:02d}:00Z",
                        "nudge_state": "needs_input" if (k == 0 and n % 17 == 0) else "",
                        "nudge_summary": "Approve?" if (k == 0 and n % 17 == 0) else "",
                        "attach_cmd": f"tmux -S /data/tmux.sock attach -t {wid}-{k}",
                    }
                    for k in range(3)
                ],
                "git_ahead": tick if changed else 0,
                "git_behind": 0,
                "git_dirty": changed,
                "git_lines_added": tick * 3 if changed else 0,
                "git_lines_removed": tick if changed else 0,
                "git_files_changed": 1 if changed else 0,
            }
        )
    return out


def test_smooth_with_100_workspaces_updating(server: Server, new_page: Callable[..., Any]) -> None:
    """300 sessions pushed many times a second: only changed cards are patched; scroll and an open
    rename field survive; no main-thread stall.

    The socket is played by Playwright (the backend serves the page and answers REST), so the
    test controls exactly what is pushed and when.
    """
    import json

    page = new_page()
    sockets: list[Any] = []
    page.route_web_socket(re.compile(r"/ws/dashboard(\?.*)?$"), lambda ws: sockets.append(ws))
    page.goto(server.url)
    for _ in range(100):  # the socket opens once its ticket arrives; Playwright's events need
        if sockets:  # its own waits (a time.sleep would hold them back)
            break
        page.wait_for_timeout(100)
    ws = sockets[0]
    ws.send(
        json.dumps(
            {
                "type": "config",
                "config": {"repos": [{"name": "load", "url": "x"}], "run_targets": []},
            }
        )
    )
    ws.send(json.dumps({"type": "sessions", "seq": 1, "workspaces": _big_state(0)}))
    expect(page.get_by_test_id("workspace-load-100")).to_be_visible()
    expect(page.get_by_test_id("connection-status")).to_contain_text("Connected")

    row = page.get_by_test_id("session-load-050-1")
    row.scroll_into_view_if_needed()
    row.get_by_test_id("rename-button").click()
    field = row.get_by_test_id("rename-input")
    field.fill("half-typed")
    scroll = page.evaluate("window.scrollY")
    assert scroll > 0

    # Record which workspace cards each push touches, and any long task (> 50 ms) on the main thread.
    page.evaluate(
        """() => {
        window.__long = [];
        new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
          .observe({ type: "longtask" });
        window.__touched = new Set();
        new MutationObserver((records) => {
          for (const r of records) {
            const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
            const card = el && el.closest("[data-workspace-id]");
            if (card) window.__touched.add(card.dataset.workspaceId);
          }
        }).observe(document.querySelector('[data-testid="ws-list"]'),
                   { subtree: true, childList: true, characterData: true, attributes: true });
    }"""
    )

    def changed(tick: int) -> set[str]:
        return {f"load-{n:03d}" for n in range(1, 101) if n % 10 == tick % 10}

    for tick in range(1, 21):
        page.evaluate("window.__touched.clear()")
        ws.send(json.dumps({"type": "sessions", "seq": tick + 1, "workspaces": _big_state(tick)}))
        probe = f"load-{(tick % 10) or 10:03d}"
        expect(page.get_by_test_id(f"workspace-{probe}").get_by_test_id("git-ahead")).to_have_text(
            str(tick)
        )
        page.wait_for_timeout(50)
        touched = set(page.evaluate("[...window.__touched]"))
        # Only the cards whose data changed (now, or back from the previous push) were patched.
        assert touched == changed(tick) | changed(tick - 1), (tick, sorted(touched))
    assert page.evaluate("window.scrollY") == scroll
    expect(field).to_be_focused()
    expect(field).to_have_value("half-typed")
    # Timing on a shared 2-core machine is noisy: only a pathological stall fails the test.
    long_tasks = page.evaluate("window.__long")
    assert all(d < 250 for d in long_tasks), f"long tasks (ms) while updating: {long_tasks}"


def test_spawn_into_existing_workspace_and_scan(
    server: Server, new_page: Callable[..., Any]
) -> None:
    items = server.spawn(repo="proj", branch="feature", targets={"sleeper": 1})
    wid = items[0]["workspace_id"]
    page = open_dashboard(new_page(), server)
    workspace_row(page, wid).get_by_test_id("spawn-into-workspace").click()
    expect(page.get_by_test_id("spawn-workspace")).to_have_value(wid)
    expect(page.get_by_test_id("spawn-branch")).to_be_hidden()
    page.get_by_test_id("spawn-target-shell").fill("1")
    page.get_by_test_id("spawn-nickname").fill("second")
    page.get_by_test_id("spawn-submit").click()
    expect(workspace_row(page, wid).locator("[data-session-id]")).to_have_count(2)
    expect(workspace_row(page, wid)).to_contain_text("second")
    assert len(server.sessions()) == 1

    page.get_by_test_id("scan-button").click()
    expect(page.get_by_test_id("toast-success").filter(has_text="Scan finished")).to_be_visible()


def test_without_the_token_the_page_says_signed_out(
    server: Server, new_page: Callable[..., Any]
) -> None:
    page = new_page()
    page.goto(server.base + "/")
    expect(page.get_by_test_id("auth-error")).to_contain_text("Signed out")
    expect(page.get_by_test_id("auth-error")).to_contain_text("?token=")
    expect(page.get_by_test_id("connection-status")).to_contain_text("Signed out")
    page.wait_for_timeout(1500)  # no retry loop: still signed out, no countdown
    expect(page.get_by_test_id("connection-status")).not_to_contain_text("retry")


def test_signed_in_by_address_without_cookie(
    server: Server, new_page: Callable[..., Any], shots: Path
) -> None:
    page = open_dashboard(new_page(), server)
    assert "token" not in page.url  # the token left the address bar
    assert page.context.cookies() == []  # no ambient credential
    stored = page.evaluate("localStorage.getItem('schmux-desktop.token')")
    assert stored == server.token
    # a new tab of the same origin works without the token
    second = new_page(context=page.context)
    second.goto(server.base + "/")
    expect(second.get_by_test_id("connection-status")).to_contain_text("Connected")
    items = server.spawn(repo="proj", branch="main", targets={"sleeper": 1}, nickname="tabbed")
    sid = spawned_ids(items)[0]
    expect(session_row(second, sid)).to_be_visible()
    # the terminal view's socket signs in the same way (one-time ticket)
    second.goto(server.base + f"/#/session/{sid}")
    expect(second.get_by_test_id("term-connection-status")).to_contain_text("Connected")
    # a wrong token in the address: the app's own page, not raw JSON
    third = new_page()
    third.goto(server.base + "/?token=wrong-token-0123456789")
    expect(third.get_by_test_id("signed-out-page")).to_contain_text("Signed out")
    third.screenshot(path=str(shots / "signed-out-page.png"))


def test_restart_with_new_token_says_signed_out(
    make_server: Callable[..., Server], new_page: Callable[..., Any], shots: Path
) -> None:
    srv = make_server()
    page = open_dashboard(new_page(), srv)
    srv.stop()
    srv.token = "a-new-token-after-restart"
    srv.start()
    status = page.get_by_test_id("connection-status")
    status.click()  # retry now instead of waiting out the backoff
    expect(status).to_contain_text("Signed out", timeout=15_000)
    expect(page.get_by_test_id("auth-error")).to_contain_text("Signed out")
    page.screenshot(path=str(shots / "signed-out-after-restart.png"), full_page=True)
    page.wait_for_timeout(1500)
    expect(status).to_contain_text("Signed out")  # stays: no Reconnecting/Offline loop
    # opening the new address signs the same tab in again
    page.goto(srv.url)
    expect(status).to_contain_text("Connected")
