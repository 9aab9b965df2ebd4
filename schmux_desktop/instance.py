"""One app per data dir: a lock, and the control socket a second desktop launch uses.

Two servers on one data dir would fight over its tmux server and ``state.json``, so whoever
starts first holds ``D/instance.lock`` with ``flock`` on an open descriptor. The kernel drops the
lock when that process ends in any way (SIGKILL included), so a stale file never blocks a
restart, and the descriptor is close-on-exec, so tmux and QtWebEngine's helpers never inherit it.
The holder writes its pid, mode and (token-free) address into the file for the next launch:

- a second desktop launch asks the running desktop app, over ``D/app.sock`` (a Unix socket only
  the user can open), to bring its window to the front, and exits 0;
- ``--print-url`` asks it, over the same socket, for its signed-in dashboard address (the user
  who can open the socket can read the data dir and the app's memory anyway);
- anything else refuses with a one-line error naming the running instance.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCK_FILE = "instance.lock"
CONTROL_SOCKET = "app.sock"
RAISE = b"raise\n"
URL = b"url\n"
OK = b"ok\n"
ANSWER_TIMEOUT = 5.0  # a starting app publishes its details and control socket within this


class AlreadyRunning(Exception):
    """Another process holds the data dir; ``info`` is what it published (maybe nothing yet)."""

    def __init__(self, data_dir: Path, info: dict[str, Any]) -> None:
        self.data_dir = data_dir
        self.info = info
        super().__init__(describe(data_dir, info))

    @property
    def mode(self) -> str:
        return str(self.info.get("mode", ""))


def describe(data_dir: Path, info: dict[str, Any]) -> str:
    what = "schmux-desktop --serve" if info.get("mode") == "serve" else "schmux-desktop"
    pid = f" (pid {info['pid']})" if isinstance(info.get("pid"), int) else ""
    url = f" at {info['url']}" if isinstance(info.get("url"), str) and info["url"] else ""
    return f"{what} is already running on {data_dir}{pid}{url}"


class InstanceLock:
    """``D/instance.lock``, held (``flock``) for the life of the process."""

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> InstanceLock:
        """Take the lock or raise ``AlreadyRunning`` (``OSError`` if the file cannot be opened)."""
        path = data_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise AlreadyRunning(data_dir, read_info(data_dir)) from None
        return cls(data_dir, fd)

    def publish(self, mode: str, url: str = "") -> None:
        """Tell later launches who holds the data dir (never the token). Best effort."""
        if self._fd is None:
            return
        data = json.dumps({"pid": os.getpid(), "mode": mode, "url": url}).encode()
        try:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)
        except OSError as e:
            log.warning("cannot write %s: %s", self.path, e)

    def release(self) -> None:
        # The file stays: unlinking it would let a later launch lock a fresh inode while an
        # earlier one still waits on the old.
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock


def read_info(data_dir: Path) -> dict[str, Any]:
    try:
        raw = json.loads((data_dir / LOCK_FILE).read_bytes() or b"{}")
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


# -- raising the running window --------------------------------------------------------------


def ask_to_raise(data_dir: Path, timeout: float = ANSWER_TIMEOUT) -> dict[str, Any] | None:
    """Ask the desktop app holding ``data_dir`` to show its window.

    Returns its published info once it answered, or ``None`` if it did not within ``timeout``
    (it may be still starting: its details and control socket come a moment after the lock).
    """
    deadline = time.monotonic() + timeout
    path = data_dir / CONTROL_SOCKET
    while True:
        info = read_info(data_dir)
        if info.get("mode") == "desktop":
            with contextlib.suppress(OSError):
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(max(0.1, deadline - time.monotonic()))
                    s.connect(str(path))
                    s.sendall(RAISE)
                    if s.recv(16) == OK:
                        return info
        elif info.get("mode"):
            return info  # not a window to raise; the caller says so
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def ask_url(data_dir: Path, timeout: float = ANSWER_TIMEOUT) -> str | None:
    """The signed-in dashboard address of the desktop app holding ``data_dir``, or None."""
    deadline = time.monotonic() + timeout
    path = data_dir / CONTROL_SOCKET
    while True:
        with contextlib.suppress(OSError):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                s.connect(str(path))
                s.sendall(URL)
                answer = b""
                while not answer.endswith(b"\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                text = answer.decode("utf-8", "replace").strip()
                if text.startswith(("http://", "https://")):
                    return text
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


class ControlServer:
    """``D/app.sock``: a later desktop launch asks this one to raise its window, or for its
    signed-in address (``--print-url``)."""

    def __init__(
        self, data_dir: Path, on_raise: Callable[[], None], url: Callable[[], str] | None = None
    ) -> None:
        self.path = data_dir / CONTROL_SOCKET
        self._on_raise = on_raise
        self._url = url
        self._stopping = threading.Event()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # We hold the instance lock, so a socket file left here is stale.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._sock.bind(str(self.path))
        # Only the user may raise the window (connecting needs write permission; the umask,
        # process-wide, is not touched while other threads run).
        os.chmod(self.path, 0o600)
        self._sock.listen(4)
        self._sock.settimeout(0.25)
        self._thread = threading.Thread(target=self._serve, name="schmux-control", daemon=True)

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
            wake.connect(str(self.path))  # accept() returns now, not at its timeout
        if self._thread.is_alive():
            self._thread.join(2.0)
        self._sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(2.0)
                    request = conn.recv(16)
                    if request == RAISE:
                        log.info("a second launch asked for the window")
                        self._on_raise()
                        conn.sendall(OK)
                    elif request == URL and self._url is not None:
                        conn.sendall(self._url().encode() + b"\n")
                except Exception:  # a bad peer must not end the listener
                    log.exception("control socket request failed")
