"""The command line (README.md#command-line; options are added, never renamed): parse, prepare the data dir, run."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import secrets
import shlex
import shutil
import ssl
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from platformdirs import user_data_dir

from backend import __version__
from backend.auth import MIN_TOKEN_LENGTH

from .appbuild import build
from .errors import UsageError
from .server import login_url

if TYPE_CHECKING:
    from .instance import AlreadyRunning, InstanceLock
    from .server import Tls

EXIT_USAGE = 2
REQUIRED_TOOLS = {
    "tmux": "every agent runs in a tmux session",
    "git": "every workspace is a git worktree or clone",
}


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


def default_data_dir() -> Path:
    """The platform's user data dir, e.g. ``~/.local/share/schmux-desktop`` on Linux."""
    return Path(user_data_dir("schmux-desktop", appauthor=False))


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
        "--data-dir",
        type=Path,
        default=None,
        metavar="D",
        help=f"where every file the app writes lives (default: {default_data_dir()})",
    )
    p.add_argument(
        "--token",
        default=None,
        help="auth token, at least 16 characters (shows in ps: prefer --token-file or "
        "$SCHMUX_DESKTOP_TOKEN; default: a fresh one per start)",
    )
    p.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="read the auth token from FILE (mode 0600 or 0400: readable by you alone)",
    )
    p.add_argument("--no-auth", action="store_true", help="no token (only on a loopback address)")
    p.add_argument(
        "--demo", action="store_true", help="with no repos configured, create and add a demo repo"
    )
    p.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        metavar="FILE",
        help="--serve over HTTPS/WSS with this certificate (PEM; with --tls-key)",
    )
    p.add_argument(
        "--tls-key",
        type=Path,
        default=None,
        metavar="FILE",
        help="the certificate's private key (PEM, unencrypted)",
    )
    p.add_argument(
        "--status-window",
        action="store_true",
        help="desktop: also open the small always-on-top status window",
    )
    p.add_argument(
        "--print-url",
        action="store_true",
        help="print the signed-in dashboard address (with the token) of the desktop app running "
        "on the data dir and exit; if none runs, start it and print this launch's address",
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
    """Create or check the data dir and make it private (0700, the app's files 0600)."""
    from backend.fileio import tighten_data_dir

    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        owner = path.stat().st_uid
        if owner != os.geteuid():
            raise UsageError(
                f"data dir {path} belongs to another user (uid {owner}); use a directory of "
                "your own"
            )
        for warning in tighten_data_dir(path):
            print(f"schmux-desktop: warning: {warning}", file=sys.stderr, flush=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UsageError(f"data dir {path} is not usable: {e.strerror or e}") from e
    if len(str(path / "tmux.sock")) > 100:
        raise UsageError(
            f"data dir {path} is too long a path for tmux's socket (keep it under 90 characters)"
        )
    return path


def read_token_file(path: Path) -> str:
    """The token in ``path``, which no one else may read (or write)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise UsageError(f"--token-file {path}: {e.strerror or e}") from e
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if mode & 0o077:
            raise UsageError(
                f"--token-file {path} is readable or writable by other users (mode "
                f"{mode & 0o777:o}): run chmod 600 {path}"
            )
        raw = f.read(4096)
    try:
        return raw.decode().strip()
    except UnicodeDecodeError:
        raise UsageError(f"--token-file {path} is not text") from None


def resolve_token(args: argparse.Namespace) -> str | None:
    if args.no_auth:
        if not is_loopback(args.host):
            raise UsageError(
                f"--no-auth is only allowed on a loopback address, not {args.host}: anyone who "
                "can reach it could run commands as you; keep the token, or use an SSH tunnel"
            )
        return None
    token_file: Path | None = getattr(args, "token_file", None)
    if args.token is not None and token_file is not None:
        raise UsageError("give --token or --token-file, not both")
    token: str
    if args.token is not None:
        token, source = str(args.token).strip(), "--token"
    elif token_file is not None:
        token, source = read_token_file(token_file), "--token-file"
    elif os.environ.get("SCHMUX_DESKTOP_TOKEN") is not None:
        token, source = os.environ["SCHMUX_DESKTOP_TOKEN"].strip(), "$SCHMUX_DESKTOP_TOKEN"
    else:
        return secrets.token_urlsafe(24)
    if not token or any(c.isspace() or ord(c) < 33 for c in token) or len(token) > 512:
        raise UsageError(f"the token from {source} must be a non-empty string without spaces")
    if len(token) < MIN_TOKEN_LENGTH:
        raise UsageError(
            f"the token from {source} is too short ({len(token)} characters; at least "
            f"{MIN_TOKEN_LENGTH}): make a strong one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    return token


def resolve_tls(args: argparse.Namespace) -> Tls | None:
    """Check ``--tls-cert``/``--tls-key`` up front, so a bad pair is a one-line error."""
    cert: Path | None = args.tls_cert
    key: Path | None = args.tls_key
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert and --tls-key go together: give both")
    if not args.serve:
        raise UsageError(
            "--tls-cert/--tls-key are for --serve (the window talks to its own loopback server)"
        )
    for option, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            raise UsageError(f"{option} {path}: {e.strerror or e}") from e

    def no_password() -> bytes:
        raise UsageError(f"--tls-key {key} is encrypted; give an unencrypted key")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key, password=no_password)
    except ssl.SSLError as e:
        raise UsageError(
            f"cannot use --tls-cert {cert} with --tls-key {key}: {e.reason or e.args[-1]} "
            "(both must be PEM, the key unencrypted and matching the certificate)"
        ) from e
    except OSError as e:
        raise UsageError(f"cannot read --tls-cert/--tls-key: {e.strerror or e}") from e
    from .server import Tls

    return Tls(cert.resolve(), key.resolve())


def check_tools() -> None:
    for tool, why in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            raise UsageError(f"{tool} is not installed or not on PATH ({why}); install {tool}")


def lock_data_dir(data_dir: Path) -> InstanceLock:
    """Hold the data dir for this process; raises ``AlreadyRunning`` if another one does."""
    from .instance import LOCK_FILE, InstanceLock

    try:
        return InstanceLock.acquire(data_dir)
    except OSError as e:
        raise UsageError(f"cannot lock {data_dir / LOCK_FILE}: {e.strerror or e}") from e


def raise_running_window(running: AlreadyRunning) -> int:
    """A second desktop launch: bring the running window to the front, say so, exit 0."""
    from .instance import ask_to_raise, describe

    if running.mode not in ("", "desktop"):
        raise UsageError(f"{running}: open that address in a browser, or stop it first")
    info = ask_to_raise(running.data_dir)
    if info is None:
        raise UsageError(f"{running} but does not answer; if it is stuck, end it and start again")
    if info.get("mode") != "desktop":
        raise UsageError(f"{describe(running.data_dir, info)}: open that address in a browser")
    print(f"{describe(running.data_dir, info)}: brought its window to the front", flush=True)
    return 0


def print_running_url(running: AlreadyRunning) -> int:
    """``--print-url`` while an app holds the data dir: print its signed-in address, exit 0."""
    from .instance import ask_url, describe

    if running.mode == "serve":
        raise UsageError(
            f"{running}: its address with the token was printed when it started "
            "(use --token-file for one that stays the same)"
        )
    url = ask_url(running.data_dir)
    if url is None:
        raise UsageError(f"{describe(running.data_dir, running.info)} but does not answer")
    print(url, flush=True)
    return 0


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
    from .instance import AlreadyRunning

    lock: InstanceLock | None = None
    try:
        token = resolve_token(args)
        tls = resolve_tls(args)
        check_tools()
        data_dir = prepare_data_dir(args.data_dir or default_data_dir())
        try:
            lock = lock_data_dir(data_dir)
        except AlreadyRunning as running:
            if args.print_url and not args.serve:
                return print_running_url(running)
            if args.serve:
                # Two servers on one tmux socket and state.json would fight.
                raise UsageError(
                    f"{running}; stop it first, or use another --data-dir (and --port)"
                ) from None
            return raise_running_window(running)
        if args.serve:
            lock.publish("serve")  # the address follows once it listens
            return serve_forever(args, data_dir, token, tls=tls, lock=lock)
        from .window import run_desktop  # the GUI toolkit is imported only here

        return run_desktop(args, data_dir, token, lock=lock)
    except UsageError as e:
        print(f"schmux-desktop: error: {e}", file=sys.stderr, flush=True)
        if not args.serve:
            from .window import show_error_dialog

            show_error_dialog(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0
    finally:
        if lock is not None:
            lock.release()


def data_dir_note(data_dir: Path) -> str:
    """The line after the ready line: where the data lives, and that sessions outlive the app."""
    sock = shlex.quote(str(data_dir / "tmux.sock"))
    return (
        f"data dir {data_dir}; sessions keep running after schmux-desktop exits "
        f"(dispose them in the dashboard, or end them all: tmux -S {sock} kill-server)"
    )


def serve_forever(
    args: argparse.Namespace,
    data_dir: Path,
    token: str | None,
    *,
    tls: Tls | None = None,
    lock: InstanceLock | None = None,
) -> int:
    import socket

    from .server import BindError, bind_socket, run, url_for

    app, services = build(data_dir, token, args.demo)
    sockets: list[socket.socket] = []
    try:
        sock = bind_socket(args.host, args.port)
        sockets.append(sock)
        # Under TLS, sessions' SCHMUX_URL names a second, plain-HTTP listener on 127.0.0.1:
        # agent hooks run `curl "$SCHMUX_URL/..."` (docs/AGENT-HOOKS.md), which would refuse a
        # self-signed certificate, and `curl -k` everywhere would teach skipping verification.
        # Loopback traffic never leaves the machine and the token is still required there, so
        # this exposes nothing the desktop mode (plain HTTP on loopback) does not.
        plain = bind_socket("127.0.0.1", 0) if tls is not None else None
        if plain is not None:
            sockets.append(plain)
    except BindError as e:
        for s in sockets:
            s.close()
        raise UsageError(str(e)) from e
    port = sock.getsockname()[1]
    base = url_for(args.host, port, "https" if tls is not None else "http")
    if plain is not None:
        services.public_url = url_for("127.0.0.1", plain.getsockname()[1])
    else:
        local_host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        services.public_url = url_for(local_host, port)
    ready_url = login_url(base, token)

    def on_ready() -> None:
        if lock is not None:
            lock.publish("serve", base + "/")
        print(f"schmux-desktop serving at {ready_url}", flush=True)
        print(data_dir_note(data_dir), flush=True)

    try:
        asyncio.run(run(app, sock, on_ready=on_ready, tls=tls, plain_sock=plain))
    finally:
        for s in sockets:
            s.detach()  # Hypercorn owns and closes the descriptors
    return 0
