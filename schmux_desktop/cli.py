"""The command line (DESIGN §2, pinned): parse, prepare the data dir, run."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import NoReturn

from platformdirs import user_data_dir

from backend import __version__

EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"schmux-desktop: error: {message} (see --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0-65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="schmux-desktop",
        description="Live dashboard for AI coding agents running in tmux sessions and git workspaces.",
    )
    p.add_argument(
        "--serve", action="store_true", help="no window: serve the dashboard until SIGINT/SIGTERM"
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=0, help="port (default 0: a free port)")
    p.add_argument(
        "--data-dir", type=Path, default=None, help="where every file the app writes lives"
    )
    p.add_argument(
        "--token", default=None, help="auth token (default: $SCHMUX_DESKTOP_TOKEN or a fresh one)"
    )
    p.add_argument("--no-auth", action="store_true", help="no token (only on a loopback address)")
    p.add_argument(
        "--demo", action="store_true", help="with no repos configured, create and add a demo repo"
    )
    p.add_argument(
        "--status-window",
        action="store_true",
        help="desktop: also open the small always-on-top status window",
    )
    p.add_argument(
        "--self-test", "--selftest", action="store_true", help=argparse.SUPPRESS
    )  # packaging check: serve headless in a temp dir, exercise it, exit 0 or 1
    p.add_argument("--version", action="version", version=f"schmux-desktop {__version__}")
    return p


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def prepare_data_dir(path: Path) -> Path:
    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"data dir {path} is not usable: {e.strerror or e}") from e
    if len(str(path / "tmux.sock")) > 100:
        raise UsageError(
            f"data dir {path} is too long a path for tmux's socket (keep it under 90 characters)"
        )
    return path


def resolve_token(args: argparse.Namespace) -> str | None:
    if args.no_auth:
        if not is_loopback(args.host):
            raise UsageError(f"--no-auth is only allowed on a loopback address, not {args.host}")
        return None
    token = args.token if args.token is not None else os.environ.get("SCHMUX_DESKTOP_TOKEN")
    if token is not None:
        token = token.strip()
        if not token or any(c.isspace() or ord(c) < 33 for c in token) or len(token) > 512:
            raise UsageError("--token must be a non-empty string without spaces")
        return token
    return secrets.token_urlsafe(24)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("SCHMUX_DESKTOP_LOG", "WARNING").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.self_test:
        from .selftest import run_self_test

        return run_self_test()
    try:
        token = resolve_token(args)
        data_dir = prepare_data_dir(
            args.data_dir or Path(user_data_dir("schmux-desktop", appauthor=False))
        )
        if args.serve:
            return serve_forever(args, data_dir, token)
        from .window import run_desktop  # the GUI toolkit is imported only here

        return run_desktop(args, data_dir, token)
    except UsageError as e:
        print(f"schmux-desktop: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0


def build(data_dir: Path, token: str | None, demo: bool) -> tuple[object, object]:
    """Build the app (and so load config and state); startup problems become UsageError."""
    from backend.app import create_app
    from backend.config import ConfigError
    from backend.services import Settings
    from backend.store import StateFileError

    from .resources import static_dir

    try:
        if demo:
            from .demo import ensure_demo

            ensure_demo(data_dir)
        app = create_app(
            Settings(data_dir=data_dir, token=token, version=__version__, static_dir=static_dir())
        )
    except (ConfigError, StateFileError) as e:
        raise UsageError(str(e)) from e
    except OSError as e:
        raise UsageError(f"cannot prepare {data_dir}: {e.strerror or e}") from e
    return app, app.config["SERVICES"]


def serve_forever(args: argparse.Namespace, data_dir: Path, token: str | None) -> int:
    from .server import BindError, bind_socket, run, url_for

    app, services = build(data_dir, token, args.demo)
    try:
        sock = bind_socket(args.host, args.port)
    except BindError as e:
        raise UsageError(str(e)) from e
    port = sock.getsockname()[1]
    base = url_for(args.host, port)
    local_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
    services.public_url = url_for(local_host, port)  # type: ignore[attr-defined]
    ready_url = f"{base}/?token={token}" if token else f"{base}/"

    def on_ready() -> None:
        print(f"schmux-desktop serving at {ready_url}", flush=True)

    try:
        asyncio.run(run(app, sock, on_ready=on_ready))  # type: ignore[arg-type]
    finally:
        sock.detach()  # Hypercorn owns and closes the descriptor
    return 0
