"""The dashboard page and its assets; ``/?token=`` trades the token for a cookie."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, redirect, request, send_from_directory
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response as WerkzeugResponse

from backend.auth import COOKIE_NAME, token_matches
from backend.errors import NotFound, Unauthorized
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


def _static_dir() -> Path | None:
    d = services().settings.static_dir
    return d if d is not None and (d / "index.html").is_file() else None


@bp.get("/")
async def index() -> Response | WerkzeugResponse:
    svc = services()
    token = request.args.get("token")
    if token is not None and svc.settings.token is not None:
        if not token_matches(svc.settings.token, token):
            raise Unauthorized(
                "the token in the address is wrong; use the URL schmux-desktop printed"
            )
        redirect_response = redirect("/", code=302)
        redirect_response.set_cookie(
            COOKIE_NAME,
            token,
            httponly=True,
            samesite="Strict",
            secure=request.scheme == "https",
            path="/",
        )
        return redirect_response
    d = _static_dir()
    if d is None:
        return Response(PLACEHOLDER, content_type="text/html; charset=utf-8")
    response = await send_from_directory(d, "index.html")
    response.headers["Cache-Control"] = "no-cache"
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
