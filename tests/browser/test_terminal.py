"""The terminal view (issue 5 item 2) and needs-input notifications, in a real Chromium against a
real ``--serve`` backend and real tmux."""

from __future__ import annotations

import re
import shlex
import subprocess
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


def api(server: Server, method: str, path: str, **kw: Any) -> httpx.Response:
    with server.client() as c:
        return c.request(method, path, **kw)


def spawn_shell(server: Server, nickname: str = "term", branch: str = "feature") -> str:
    items = server.spawn(repo="proj", branch=branch, targets={"shell": 1}, nickname=nickname)
    assert all("session_id" in i for i in items), items
    return str(items[0]["session_id"])


def screen(page: Any) -> Any:
    """The rows xterm.js renders (its DOM renderer): what a person sees."""
    return page.get_by_test_id("term-screen").locator(".xterm-rows")


def buffer_text(page: Any) -> str:
    return str(page.evaluate("() => window.__schmuxTerminal ? window.__schmuxTerminal.text() : ''"))


def open_terminal(page: Any, server: Server, sid: str) -> Any:
    open_dashboard(page, server)
    page.get_by_test_id(f"session-{sid}").get_by_test_id("open-session").click()
    assert page.url.endswith(f"#/session/{sid}")
    view = page.get_by_test_id("terminal-view")
    expect(view).to_be_visible()
    expect(view.get_by_test_id("term-connection-status")).to_contain_text("Connected")
    # bash has drawn its prompt ("bash-5.2$ ", or "#" as root).
    wait_for(lambda: re.search(r"[$#]$", buffer_text(page)), timeout=10)
    return view


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def type_line(page: Any, text: str) -> None:
    page.get_by_test_id("term-screen").click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def test_type_a_command_see_its_output_then_exit(
    server: Server, new_page: Callable[..., Any], shots: Path
) -> None:
    sid = spawn_shell(server)
    page = new_page(width=1280, height=800)
    view = open_terminal(page, server, sid)
    expect(view.get_by_test_id("term-title")).to_have_text("term")
    expect(view.get_by_test_id("term-target")).to_have_text("shell")
    expect(view.get_by_test_id("term-run-state")).to_have_text("Running")
    expect(view.get_by_test_id("term-git-branch")).to_have_text("feature")
    expect(view.get_by_test_id("term-git-dirty")).to_have_attribute("data-dirty", "false")
    expect(view.get_by_test_id("term-attention")).to_be_hidden()

    type_line(page, "echo hello-$((6*7))")
    expect(screen(page)).to_contain_text("hello-42")
    assert re.search(r"^hello-42$", buffer_text(page), re.M), buffer_text(page)
    # Some colour, to see the theme in the screenshot.
    type_line(
        page, "printf '\\033[1;32mgreen\\033[0m \\033[31mred\\033[0m \\033[34mblue\\033[0m\\n'"
    )
    expect(screen(page)).to_contain_text("green red blue")
    page.screenshot(path=str(shots / "terminal-light.png"))

    dark = new_page(color_scheme="dark", width=1280, height=800)
    open_terminal(dark, server, sid)
    expect(screen(dark)).to_contain_text("hello-42")  # the full capture has the earlier output
    dark.screenshot(path=str(shots / "terminal-dark.png"))
    dark.close()

    type_line(page, "exit 3")
    expect(view.get_by_test_id("term-run-state")).to_have_text(re.compile(r"Stopped.*3"))
    expect(view.get_by_test_id("term-run-state")).to_have_attribute("data-running", "false")
    # The server sends a fresh full capture with tmux's marker once the process ended.
    expect(screen(page)).to_contain_text("exited (status 3)")
    page.screenshot(path=str(shots / "terminal-exited.png"))

    page.get_by_test_id("back-to-dashboard").click()
    row = page.get_by_test_id(f"session-{sid}")
    expect(row.get_by_test_id("run-state")).to_have_text("Stopped")
    expect(page.get_by_test_id("terminal-view")).to_be_hidden()


def pane_size(server: Server, sid: str) -> tuple[int, int] | None:
    """The session's pane size (rows, columns) as tmux has it, asked on the app's socket."""
    session = server.session(sid)
    assert session is not None
    argv = shlex.split(session["attach_cmd"])  # tmux -S SOCKET attach -t =NAME
    target = argv[-1] + ":"  # the session's window (a bare "=NAME" names no pane)
    cmd = [*argv[: argv.index("attach")], "display-message", "-p", "-t", target]
    out = subprocess.run(
        [*cmd, "#{pane_height} #{pane_width}"], capture_output=True, text=True
    ).stdout.split()
    return (int(out[0]), int(out[1])) if len(out) == 2 else None


def test_fits_the_window_and_resizes_the_pane(server: Server, new_page: Callable[..., Any]) -> None:
    sid = spawn_shell(server)
    page = new_page(width=1200, height=800)
    open_terminal(page, server, sid)

    def sizes() -> tuple[int, int]:
        rows, cols = page.evaluate("() => window.__schmuxTerminal.size()")
        return int(rows), int(cols)

    rows, cols = sizes()
    assert cols > 100 and rows > 20, (rows, cols)
    type_line(page, "stty size")
    expect(screen(page)).to_contain_text(f"{rows} {cols}")

    page.set_viewport_size({"width": 800, "height": 560})
    wait_for(lambda: sizes()[1] < cols, timeout=5)
    rows2, cols2 = sizes()
    wait_for(lambda: pane_size(server, sid) == (rows2, cols2), timeout=5)  # tmux has it
    type_line(page, "clear; stty size")
    expect(screen(page)).to_contain_text(f"{rows2} {cols2}")
    # The terminal box stays inside the window: nothing scrolls the page.
    assert page.evaluate("() => document.documentElement.scrollHeight <= window.innerHeight + 1")


def test_scrollback_jump_to_latest_and_paste(server: Server, new_page: Callable[..., Any]) -> None:
    sid = spawn_shell(server)
    page = new_page(width=1200, height=700)
    view = open_terminal(page, server, sid)
    jump = view.get_by_test_id("term-jump-latest")
    type_line(page, "seq 1 400")
    wait_for(lambda: re.search(r"^400$", buffer_text(page), re.M), timeout=10)
    expect(jump).to_be_hidden()

    page.get_by_test_id("term-screen").hover()
    for _ in range(10):
        page.mouse.wheel(0, -600)
    expect(jump).to_be_visible()
    jump.click()
    expect(jump).to_be_hidden()
    expect(screen(page)).to_contain_text("400")

    # A paste (as the browser delivers it) goes through "input", split into frames the server takes.
    big = "x" * 20_000
    page.evaluate(
        """(text) => {
          const ta = document.querySelector('[data-testid="term-screen"] textarea');
          const dt = new DataTransfer();
          dt.setData('text/plain', text);
          ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
        }""",
        f"printf %s {big} | wc -c",
    )
    page.keyboard.press("Enter")
    wait_for(lambda: re.search(r"^20000$", buffer_text(page), re.M), timeout=15)

    # Plain Ctrl-C is an interrupt for the program (only Ctrl-Shift-C copies).
    type_line(page, "sleep 30; echo not-$((0+1))-interrupted")
    time.sleep(0.5)
    page.keyboard.press("Control+c")
    type_line(page, "echo after-$((1+1))")
    wait_for(lambda: re.search(r"^after-2$", buffer_text(page), re.M), timeout=10)
    assert not re.search(r"^not-1-interrupted$", buffer_text(page), re.M)


def test_header_follows_the_dashboard_live(
    server: Server, new_page: Callable[..., Any], shots: Path
) -> None:
    assert (
        api(
            server, "POST", "/api/config", json={"sessions": {"git_status_poll_interval_ms": 500}}
        ).status_code
        == 200
    )
    sid = spawn_shell(server, nickname="live")
    page = new_page()
    view = open_terminal(page, server, sid)
    session = server.session(sid)
    assert session is not None
    ws = server.workspace(session["workspace_id"])
    assert ws is not None
    path = Path(ws["path"])

    # Attention set by the agent shows in the header; Enter typed in the terminal clears it.
    r = api(
        server,
        "POST",
        f"/api/sessions/{sid}/nudge",
        json={"state": "Needs Input", "summary": "Proceed? [y/n]"},
    )
    assert r.status_code == 200, r.text
    attention = view.get_by_test_id("term-attention")
    expect(attention).to_be_visible()
    expect(attention).to_contain_text("Proceed? [y/n]")
    page.screenshot(path=str(shots / "terminal-attention.png"))
    type_line(page, "true")
    expect(attention).to_be_hidden()

    # Git state: a new file makes the workspace dirty; a commit puts it ahead.
    (path / "notes.txt").write_text("one\ntwo\nthree\n")
    expect(view.get_by_test_id("term-git-dirty")).to_have_attribute("data-dirty", "true")
    git(path, "add", "notes.txt")
    git(path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "notes")
    expect(view.get_by_test_id("term-git-ahead")).to_contain_text("1")
    expect(view.get_by_test_id("term-git-dirty")).to_have_attribute("data-dirty", "false")


def test_disposed_session_stops_the_terminal(server: Server, new_page: Callable[..., Any]) -> None:
    sid = spawn_shell(server)
    page = new_page()
    view = open_terminal(page, server, sid)
    type_line(page, "echo still-here")
    expect(screen(page)).to_contain_text("still-here")
    assert api(server, "POST", f"/api/dispose/{sid}").status_code == 200
    expect(view.get_by_test_id("term-notice")).to_contain_text("disposed")
    expect(screen(page)).to_contain_text("still-here")  # the last output stays
    expect(view.get_by_test_id("term-connection-status")).to_be_hidden()


def test_reconnects_after_a_server_restart(server: Server, new_page: Callable[..., Any]) -> None:
    sid = spawn_shell(server)
    page = new_page()
    view = open_terminal(page, server, sid)
    type_line(page, "echo before-$((0+1))")
    expect(screen(page)).to_contain_text("before-1")
    status = view.get_by_test_id("term-connection-status")

    server.stop()
    expect(status).to_contain_text(re.compile(r"Reconnecting|Offline"))
    expect(status).to_contain_text(re.compile(r"retry in \d+s"))
    expect(screen(page)).to_contain_text("before-1")  # the last screen stays

    server.start()
    status.click()  # retry now
    expect(status).to_contain_text("Connected", timeout=10_000)
    type_line(page, "echo after-$((2+2))")
    expect(screen(page)).to_contain_text("after-4")
    # the fresh full capture carries the history (in the scrollback if not on screen)
    wait_until(lambda: "before-1" in buffer_text(page))


def test_unknown_session_says_so(server: Server, new_page: Callable[..., Any]) -> None:
    page = open_dashboard(new_page(), server)
    page.goto(server.base + "/#/session/nope-123")
    view = page.get_by_test_id("terminal-view")
    expect(view.get_by_test_id("term-notice")).to_contain_text("No such session")
    page.get_by_test_id("back-to-dashboard").click()
    expect(page.get_by_test_id("terminal-view")).to_be_hidden()


DESKTOP_HOOK = """
window.__notes = [];
window.schmuxDesktop = { notify: (title, body, id) => { window.__notes.push({ title, body, id }); } };
"""

FAKE_NOTIFICATION = """
window.__notes = [];
class FakeNotification {
  static get permission() { return localStorage.getItem('fake-permission') || 'default'; }
  static requestPermission() { localStorage.setItem('fake-permission', 'granted'); return Promise.resolve('granted'); }
  constructor(title, options) { this.title = title; this.options = options; this.onclick = null; window.__notes.push(this); }
  close() { this.closed = true; }
}
window.Notification = FakeNotification;
"""


def notes(page: Any) -> list[dict[str, Any]]:
    return list(
        page.evaluate(
            "() => window.__notes.map(n => ({ title: n.title, body: n.body || (n.options && n.options.body), id: n.id }))"
        )
    )


def nudge(
    server: Server, sid: str, state: str = "Needs Input", summary: str = "Allow edit? [y/n]"
) -> None:
    r = api(server, "POST", f"/api/sessions/{sid}/nudge", json={"state": state, "summary": summary})
    assert r.status_code == 200, r.text


def test_desktop_hook_notifies_only_new_needs_input(
    server: Server, new_page: Callable[..., Any]
) -> None:
    before = spawn_shell(server, nickname="before")
    nudge(server, before)  # already waiting when the page loads: not news
    page = new_page()
    page.add_init_script(DESKTOP_HOOK)
    open_dashboard(page, server)
    toggle = page.get_by_test_id("notify-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")  # the desktop app needs no permission

    later = spawn_shell(server, nickname="later", branch="main")
    expect(page.get_by_test_id(f"session-{later}")).to_be_visible()
    nudge(server, later, summary="Run the tests? [y/n]")
    wait_for(lambda: len(notes(page)) == 1, timeout=10)
    n = notes(page)[0]
    assert n["id"] == later and "later" in n["title"] and "Run the tests?" in n["body"], n
    nudge(server, later, summary="Still waiting")  # same state, new summary: no second notification
    nudge(server, later, state="Exited", summary="")  # not Needs Input
    time.sleep(1.0)
    assert len(notes(page)) == 1, notes(page)

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    api(server, "DELETE", f"/api/sessions/{before}/nudge")
    nudge(server, before)
    time.sleep(1.0)
    assert len(notes(page)) == 1, notes(page)


def test_browser_notification_asks_on_click_and_opens_the_session(
    server: Server, new_page: Callable[..., Any]
) -> None:
    sid = spawn_shell(server, nickname="asker")
    page = new_page()
    page.add_init_script(FAKE_NOTIFICATION)
    open_dashboard(page, server)
    toggle = page.get_by_test_id("notify-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("() => Notification.permission") == "default"  # not asked on load
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("() => localStorage.getItem('schmux.notify')") == "on"

    nudge(server, sid)
    wait_for(lambda: len(notes(page)) == 1, timeout=10)
    assert "asker" in notes(page)[0]["title"]
    page.evaluate("() => window.__notes[0].onclick(new Event('click'))")
    expect(page.get_by_test_id("terminal-view")).to_be_visible()
    assert page.url.endswith(f"#/session/{sid}")

    # The setting survives a reload.
    page.reload()
    expect(page.get_by_test_id("notify-toggle")).to_have_attribute("aria-pressed", "true")
