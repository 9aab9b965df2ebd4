"""The diff viewer in real Chromium against a real ``--serve`` and real git workspaces: unified and
side-by-side views kept in the address (a reload keeps them) and in the browser's prefs, syntax
colour and word-level highlights, keyboard navigation, a 1,000-file / ~5 MB change without a main
thread task over 200 ms, the page refreshing itself (scroll and selection kept), and the overlap
matrix of two workspaces editing one file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import open_dashboard
from tests.helpers import Server, git

LONG_TASK_LIMIT_MS = 200

APP_PY = """import os


def greet(name):
    # say hello
    return "hello " + name


print(greet("hi"))
"""


def _workspace(srv: Server, branch: str) -> tuple[str, Path]:
    wid = srv.spawn(repo="proj", branch=branch, targets={"sleeper": 1})[0]["workspace_id"]
    return wid, Path(srv.workspace(wid)["path"])  # type: ignore[index]


def _watch_long_tasks(page: Any) -> None:
    page.evaluate(
        """() => {
        window.__long = [];
        new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); })
          .observe({ type: "longtask" });
    }"""
    )


def _long_tasks(page: Any) -> list[float]:
    return list(page.evaluate("window.__long"))


def _scroll_top(page: Any, testid: str) -> float:
    return float(page.get_by_test_id(testid).evaluate("el => el.scrollTop"))


def test_split_view_toggle_highlighting_and_a_deep_link_that_survives_a_reload(
    make_server: Callable[..., Server], new_page: Callable[..., Any], shots: Path
) -> None:
    srv = make_server()
    wid, path = _workspace(srv, "viewer-split")
    (path / "README.md").write_text("hello world\n")
    (path / "src" / "app.py").write_text(APP_PY)

    page = open_dashboard(new_page(), srv)
    page.goto(f"{srv.base}/#/review/{wid}?file=src%2Fapp.py")
    expect(page.get_by_test_id("review-file-title")).to_have_text("src/app.py")
    lines = page.get_by_test_id("review-lines")
    # syntax colour from the bundled highlight.js: keyword, string and comment scopes
    expect(lines.locator(".hljs-keyword").first).to_have_text(re.compile("import|def|return"))
    expect(lines.locator(".hljs-string").filter(has_text="hello ")).to_have_count(1)
    expect(lines.locator(".hljs-comment")).to_contain_text("say hello")
    expect(page.get_by_test_id("review-view-unified")).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(shots / "viewer-unified.png"))

    # word-level highlight inside the changed pair "hello" -> "hello world"
    page.get_by_test_id("review-file").filter(has_text="README.md").click()
    expect(page.get_by_test_id("review-file-title")).to_have_text("README.md")
    expect(lines.locator(".line-add .wd-add")).to_have_text(" world")

    page.get_by_test_id("review-view-split").click()
    expect(page.get_by_test_id("review-view-split")).to_have_attribute("aria-pressed", "true")
    assert "view=split" in page.url and "file=README.md" in page.url
    row = lines.locator(".split-row").first
    expect(row.locator(".code.side-old")).to_have_text("hello")
    expect(row.locator(".code.side-new")).to_have_text("hello world")
    # the two halves line up: both code cells start on the same pixel row, at different x
    old_box = row.locator(".code.side-old").bounding_box()
    new_box = row.locator(".code.side-new").bounding_box()
    assert old_box and new_box and old_box["y"] == new_box["y"] and new_box["x"] > old_box["x"]

    # a comment from the side-by-side view: the box opens under the row, the round gets path:line
    row.locator(".code.side-new").click()
    page.get_by_test_id("review-comment-text").fill("Why world?")
    page.get_by_test_id("review-comment-add").click()
    expect(page.get_by_test_id("review-pending-item")).to_contain_text("README.md:1")
    expect(page.get_by_test_id("review-comment-text")).to_have_count(0)

    page.reload()
    expect(page.get_by_test_id("review-view-split")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("review-file-title")).to_have_text("README.md")
    expect(lines.locator(".split-row .code.side-new").first).to_have_text("hello world")

    # no view in the link: the remembered choice (prefs) holds
    page.goto(f"{srv.base}/#/review/{wid}?file=src%2Fapp.py")
    page.reload()
    expect(page.get_by_test_id("review-view-split")).to_have_attribute("aria-pressed", "true")
    expect(lines.locator(".split-row .side-new .hljs-keyword").first).to_be_visible()
    page.screenshot(path=str(shots / "viewer-split.png"))

    # a long line wraps inside its half: no sideways scrolling, both halves stay level
    long_old = "value = compute(" + ", ".join(f"arg{i}" for i in range(60)) + ")"
    (path / "long.py").write_text(long_old + "\n")
    git(path, "add", "long.py")
    git(path, "commit", "-q", "-m", "long line")
    (path / "long.py").write_text(long_old.replace("arg30", "changed30") + "\n")
    page.get_by_test_id("review-file").filter(has_text="long.py").click()
    expect(page.get_by_test_id("review-file-title")).to_have_text("long.py")
    row = lines.locator(".split-row").first
    expect(row.locator(".side-new .wd-add")).to_have_text("changed30")
    box = row.bounding_box()
    assert box and box["height"] > 40, box  # wrapped onto several lines
    old_box = row.locator(".code.side-old").bounding_box()
    new_box = row.locator(".code.side-new").bounding_box()
    assert (
        old_box
        and new_box
        and old_box["y"] == new_box["y"]
        and old_box["height"] == new_box["height"]
    )
    assert lines.evaluate("el => el.scrollWidth <= el.clientWidth")
    page.screenshot(path=str(shots / "viewer-split-long-lines.png"))

    dark = new_page(color_scheme="dark")
    open_dashboard(dark, srv)
    dark.goto(f"{srv.base}/#/review/{wid}?file=src%2Fapp.py&view=split")
    expect(dark.get_by_test_id("review-lines").locator(".hljs-keyword").first).to_be_visible()
    dark.screenshot(path=str(shots / "viewer-split-dark.png"))
    dark.goto(f"{srv.base}/#/review/{wid}?file=long.py&view=unified")
    expect(dark.get_by_test_id("review-lines").locator(".wd-add")).to_have_text("changed30")
    dark.screenshot(path=str(shots / "viewer-words-dark.png"))


def test_keyboard_moves_between_files_and_hunks_and_switches_the_view(
    make_server: Callable[..., Server], new_page: Callable[..., Any], shots: Path
) -> None:
    srv = make_server()
    wid, path = _workspace(srv, "viewer-keys")
    old = [f"line {i}" for i in range(1, 301)]
    git(path, "checkout", "-q", "-b", "keys")
    (path / "a_long.txt").write_text("\n".join(old) + "\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "long file")
    new = list(old)
    for at in (10, 150, 290):  # three changes far apart
        new[at - 1] = f"changed {at}"
    (path / "a_long.txt").write_text("\n".join(new) + "\n")
    (path / "b.txt").write_text("b\n")
    (path / "c.txt").write_text("c\n")

    page = open_dashboard(new_page(height=700), srv)
    page.goto(f"{srv.base}/#/review/{wid}")
    expect(page.get_by_test_id("review-file")).to_have_count(3)
    expect(page.get_by_test_id("review-file-title")).to_have_text("a_long.txt")
    page.locator("body").click(position={"x": 5, "y": 5})  # nothing focused: keys go to the page

    current = page.locator(".is-current-hunk")
    page.keyboard.press("n")
    expect(current).to_have_attribute("data-line", "10")
    page.keyboard.press("n")
    expect(current).to_have_attribute("data-line", "150")
    expect(current).to_be_in_viewport()
    page.keyboard.press("n")
    expect(current).to_have_attribute("data-line", "290")
    expect(current).to_be_in_viewport()
    page.keyboard.press("p")
    expect(current).to_have_attribute("data-line", "150")
    expect(current).to_be_in_viewport()

    page.keyboard.press("s")
    expect(page.get_by_test_id("review-view-split")).to_have_attribute("aria-pressed", "true")
    assert "view=split" in page.url
    expect(page.locator(".split-row .side-new", has_text="changed 150")).to_be_in_viewport()
    page.keyboard.press("s")
    expect(page.get_by_test_id("review-view-unified")).to_have_attribute("aria-pressed", "true")

    # a deep link to a line scrolls to it and marks it, also after a reload
    page.goto(f"{srv.base}/#/review/{wid}?file=a_long.txt&line=150")
    page.reload()
    target = page.locator(".is-target")
    expect(target).to_have_attribute("data-line", "150")
    expect(target).to_be_in_viewport()
    page.locator("body").click(position={"x": 5, "y": 5})

    page.keyboard.press("j")
    expect(page.get_by_test_id("review-file-title")).to_have_text("b.txt")
    assert "file=b.txt" in page.url
    page.keyboard.press("j")
    expect(page.get_by_test_id("review-file-title")).to_have_text("c.txt")
    page.keyboard.press("k")
    expect(page.get_by_test_id("review-file-title")).to_have_text("b.txt")

    page.keyboard.press("?")
    help_box = page.get_by_test_id("review-help")
    expect(help_box).to_have_attribute("open", "")
    for text in ("next / previous file", "next / previous change", "unified and side-by-side"):
        expect(help_box).to_contain_text(text)
    page.screenshot(path=str(shots / "viewer-keys-help.png"))

    # typing in a field is not navigation
    page.keyboard.press("?")
    page.get_by_test_id("review-line").first.click()
    page.get_by_test_id("review-comment-text").type("jjj")
    expect(page.get_by_test_id("review-file-title")).to_have_text("b.txt")


def test_a_thousand_file_change_stays_responsive_and_refreshes_in_place(
    make_server: Callable[..., Server], new_page: Callable[..., Any], shots: Path
) -> None:
    srv = make_server()
    wid, path = _workspace(srv, "viewer-big")
    git(path, "checkout", "-q", "-b", "big")
    body = [
        f"def f_{j}(x):  # step {j}" if j % 2 else f"    return x * {j} + 'text {j}'"
        for j in range(100)
    ]
    for i in range(1000):
        (path / f"m{i:04}.py").write_text("\n".join(body) + "\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "a thousand files")
    for i in range(1000):
        changed = [
            f"{line}  # edited in {i}" if j % 6 == 0 else line for j, line in enumerate(body)
        ]
        (path / f"m{i:04}.py").write_text("\n".join(changed) + "\n")

    # and one long new file: 30,000 lines (just under the 1 MB cut), drawn a screenful at a time
    (path / "zz-big.txt").write_text(
        "".join(f"new line {n:06} of the big file\n" for n in range(30_000))
    )

    diff = srv.client().get(f"/api/diff/{wid}").json()
    assert len(diff["files"]) == 1001
    size = sum(len(f.get("old_content", "")) + len(f.get("new_content", "")) for f in diff["files"])
    assert size > 5_000_000, size

    page = open_dashboard(new_page(), srv)
    _watch_long_tasks(page)
    page.evaluate(f"location.hash = '#/review/{wid}'")
    expect(page.get_by_test_id("review-status")).to_have_text("1001 changed files", timeout=30_000)
    expect(page.get_by_test_id("review-file-title")).to_have_text("m0000.py")
    expect(page.get_by_test_id("review-lines").locator(".hljs-keyword").first).to_be_visible()
    drawn = page.get_by_test_id("review-file").count()
    assert 0 < drawn < 80, drawn  # virtualised: a screenful, not a thousand links

    files = page.get_by_test_id("review-files")
    files.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.locator('[data-testid="review-file"][data-path="zz-big.txt"]').click()
    expect(page.get_by_test_id("review-file-title")).to_have_text("zz-big.txt")
    lines = page.get_by_test_id("review-lines")
    lines.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(lines.get_by_text("new line 029999 of the big file")).to_be_in_viewport()
    assert lines.get_by_test_id("review-line").count() < 200
    last = page.locator('[data-testid="review-file"][data-path="m0999.py"]')
    last.click()
    expect(page.get_by_test_id("review-file-title")).to_have_text("m0999.py")
    for _ in range(5):
        page.keyboard.press("k")
    expect(page.get_by_test_id("review-file-title")).to_have_text("m0994.py")
    page.keyboard.press("s")
    expect(page.get_by_test_id("review-view-split")).to_have_attribute("aria-pressed", "true")
    for _ in range(10):
        lines.evaluate("el => { el.scrollTop += 300; }")
        page.wait_for_timeout(30)
    page.keyboard.press("s")
    expect(lines.locator(".hljs-keyword").first).to_be_visible()
    page.screenshot(path=str(shots / "viewer-big-diff.png"))

    # The agent edits another file: the page refetches the 5 MB diff by itself and keeps the
    # reader's place: the same file selected, the file list and the diff scrolled as they were.
    lines.evaluate("el => { el.scrollTop = 400; }")
    page.wait_for_timeout(100)
    files_top = _scroll_top(page, "review-files")
    lines_top = _scroll_top(page, "review-lines")
    assert files_top > 1000 and lines_top > 0
    (path / "zz-new.py").write_text("print('new')\n")
    expect(page.get_by_test_id("review-status")).to_have_text("1002 changed files", timeout=15_000)
    expect(page.get_by_test_id("review-file-title")).to_have_text("m0994.py")
    assert _scroll_top(page, "review-files") == files_top
    assert _scroll_top(page, "review-lines") == lines_top

    longest = max(_long_tasks(page), default=0.0)
    print(f"longest main-thread task over the big diff: {longest:.0f} ms")
    assert longest < LONG_TASK_LIMIT_MS, _long_tasks(page)


def test_overlap_matrix_of_two_workspaces_editing_one_file(
    make_server: Callable[..., Server], new_page: Callable[..., Any], shots: Path
) -> None:
    srv = make_server()
    a, pa = _workspace(srv, "overlap-a")
    b, pb = _workspace(srv, "overlap-b")
    c, pc = _workspace(srv, "overlap-c")
    (pa / "README.md").write_text("from a\n")
    (pb / "README.md").write_text("from b\n")
    (pc / "other.txt").write_text("c alone\n")

    page = open_dashboard(new_page(), srv)
    expect(
        page.get_by_test_id(f"workspace-{a}").get_by_test_id("conflict-overlap")
    ).to_contain_text(f"overlaps {b}", timeout=15_000)
    expect(page.get_by_test_id("open-overlaps")).to_be_visible()  # in the top bar
    page.get_by_test_id(f"workspace-{a}").get_by_test_id("conflict-overlap").click()  # the badge
    assert page.url.endswith("#/conflicts")
    view = page.get_by_test_id("overlap-view")
    expect(view).to_be_visible()
    cells = view.get_by_test_id("overlap-cell")
    expect(cells).to_have_count(2)  # a×b and b×a; c overlaps nobody
    ab = view.locator(f'[data-testid="overlap-cell"][data-a="{a}"][data-b="{b}"]')
    expect(ab).to_have_text("1")
    expect(ab).to_have_attribute("title", re.compile("README.md"))
    expect(view.get_by_test_id(f"overlap-row-{c}").get_by_test_id("overlap-cell")).to_have_count(0)
    ab.click()
    detail = page.get_by_test_id("overlap-detail")
    expect(detail).to_contain_text(f"{a} and {b} both change 1 file")
    expect(detail.get_by_test_id("overlap-file")).to_have_text(re.compile("README.md"))
    page.screenshot(path=str(shots / "viewer-overlap-matrix.png"))

    # live: c starts editing README.md too, and the matrix follows without a reload
    (pc / "README.md").write_text("from c\n")
    expect(cells).to_have_count(6, timeout=15_000)

    detail.get_by_role("link", name=f"in {b}").click()
    expect(page.get_by_test_id("review-file-title")).to_have_text("README.md")
    assert f"#/review/{b}" in page.url


def test_an_edit_that_keeps_the_counts_still_refreshes_the_page(
    make_server: Callable[..., Server], new_page: Callable[..., Any]
) -> None:
    srv = make_server()
    wid, path = _workspace(srv, "viewer-same-counts")
    (path / "README.md").write_text("hello world\n")
    page = open_dashboard(new_page(), srv)
    page.goto(f"{srv.base}/#/review/{wid}?file=README.md")
    expect(page.get_by_test_id("review-lines")).to_contain_text("hello world")
    (path / "README.md").write_text("hello there\n")  # still +1 -1: only git_revision moves
    expect(page.get_by_test_id("review-lines")).to_contain_text("hello there", timeout=5_000)
