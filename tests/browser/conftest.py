"""Fixtures for browser tests: Debian's Chromium driven by Playwright against a real ``--serve``.

Never ``playwright install``: the browser is /usr/bin/chromium. Screenshots of the main states are
saved under $SCHMUX_SCREENSHOT_DIR (default: pytest's temp dir, printed at the end of the run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, Server


def _missing(reason: str) -> None:
    # A developer without Chromium gets a skip; CI must never silently skip the browser tests.
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


try:
    import playwright.sync_api as pw
except ImportError:  # pragma: no cover
    pw = None  # type: ignore[assignment]

CHROMIUM = os.environ.get("SCHMUX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEB = ROOT / "backend" / "web"


def _ensure_frontend_built() -> None:
    if (WEB / "index.html").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        _missing(
            "backend/web is not built and npm is missing (cd frontend && npm ci && npm run build)"
        )
    frontend = ROOT / "frontend"
    if not (frontend / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=frontend, check=True)
    subprocess.run([npm, "run", "build"], cwd=frontend, check=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope, not session: Playwright's sync API keeps an event loop running on the main
    # thread while it is open, which breaks asyncio.run() and async tests that run after it.
    if pw is None:
        _missing("the playwright package is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} not found (apt-get install chromium)")
    _ensure_frontend_built()
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = Path(os.environ.get("SCHMUX_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    yield d
    print(f"\nbrowser screenshots: {d}")


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh context (own cookies); collects page errors, which fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def factory(
        color_scheme: str = "light", width: int = 1400, height: int = 900, context: Any = None
    ) -> Any:
        if context is None:
            context = browser.new_context(
                viewport={"width": width, "height": height}, color_scheme=color_scheme
            )
            contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(15_000)
        return page

    yield factory
    for c in contexts:
        c.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def open_dashboard(page: Any, server: Server) -> Any:
    """Load the ready URL (?token=… sets the cookie, then redirects to /) and wait until live."""
    page.goto(server.url)
    pw.expect(page.get_by_test_id("connection-status")).to_contain_text("Connected")
    pw.expect(page.get_by_test_id("loading")).to_be_hidden()
    return page
