"""The dashboard page and its assets.

``/?token=T`` serves the page, whose script keeps the token in this origin's storage and takes it
out of the address bar (no cookie: cookies reach every port of the host). A wrong token gets the
app's own signed-out page instead of the dashboard.
"""

from __future__ import annotations

import html
from pathlib import Path

from quart import Blueprint, Response, request, send_from_directory
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import PathConverter

from backend.auth import token_matches
from backend.errors import NotFound
from backend.routes import services

bp = Blueprint("static_files", __name__)


class AssetConverter(PathConverter):
    """A path that is not under /api/ or /ws/, so unknown API routes stay JSON 404/405."""

    regex = r"(?!api/|ws/|api$|ws$)[^/].*?"


PLACEHOLDER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>schmux-desktop</title></head>
<body><h1>schmux-desktop</h1>
<p>The dashboard frontend is not built. Run <code>pip install .</code> (needs Node.js and npm)
or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The API is live: <a href="/api/sessions">/api/sessions</a>.</p></body></html>
"""


SIGNED_OUT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Signed out · schmux-desktop</title>
<style>
body{{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}}
main{{max-width:34rem;margin:12vh auto;padding:1.5rem 1.75rem;background:#fff;border-radius:10px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}}
h1{{font-size:1.25rem;margin:0 0 .5rem}} code{{background:#eef0f4;padding:0 .25rem;border-radius:3px}}
@media (prefers-color-scheme: dark){{body{{background:#15181e;color:#e4e7ee}}
main{{background:#1f232b}} code{{background:#2b303a}}}}
</style></head>
<body><main data-testid="signed-out-page"><h1>Signed out</h1>
<p>{reason}</p>
<p>Open the address schmux-desktop printed when it started: it looks like
<code>http://127.0.0.1:PORT/?token=…</code>. The token is new on every start unless you chose
one (<code>--token-file</code> or <code>$SCHMUX_DESKTOP_TOKEN</code>).</p></main></body></html>
"""


def _static_dir() -> Path | None:
    d = services().settings.static_dir
    return d if d is not None and (d / "index.html").is_file() else None


def signed_out_page(reason: str, status: int = 401) -> Response:
    page = SIGNED_OUT_PAGE.format(reason=html.escape(reason))
    response = Response(page, status=status, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
async def index() -> Response:
    expected = services().settings.token
    token = request.args.get("token")
    if token is not None and expected is not None and not token_matches(expected, token):
        return signed_out_page(
            "The token in this address is wrong: it is not the one this server was started "
            "with (it may have been restarted since)."
        )
    return await _page("index.html")


@bp.get("/status.html")
async def status_page() -> Response:
    return await _page("status.html")


async def _page(name: str) -> Response:
    d = _static_dir()
    if d is None:
        return Response(PLACEHOLDER, content_type="text/html; charset=utf-8")
    try:
        response = await send_from_directory(d, name)
    except HTTPNotFound:
        raise NotFound(f"no such page: /{name}") from None
    # Never kept: the address may carry the token, and a new build must be picked up.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<asset:filename>")
async def asset(filename: str) -> Response:
    d = _static_dir()
    if d is None or filename.startswith(("api/", "ws/")):
        raise NotFound(f"no such page: /{filename}")
    try:
        response = await send_from_directory(d, filename)
    except (HTTPNotFound, OSError, ValueError):  # missing, name too long, NUL in name, ...
        raise NotFound(f"no such file: /{filename[:200]}") from None
    if filename.startswith("assets/"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
