"""A real OpenSSH server on a loopback port for tests, and an ssh client config that reaches it.

Debian's ``/usr/sbin/sshd`` runs in the foreground (``-D -e``) as the current user (root in CI)
with everything in a temp dir: a throwaway host key, an ``authorized_keys`` holding a throwaway
ed25519 key, its pid file and log. The client config names two hosts: ``tunnelhost`` (the
right key) and ``wrongkey`` (a key the server does not know); ``SCHMUX_SSH_COMMAND`` set to
``ssh_command`` makes the app's tunnel use it. Under ``CI=true`` a missing sshd fails the test
(scripts/install-test-deps installs ``openssh-server``), elsewhere it skips.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")
ALIAS = "tunnelhost"
WRONG_KEY_ALIAS = "wrongkey"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (from /proc), deepest last."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def processes_with(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (zombies, with no command line, excluded)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(entry.name))
    return pids


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
    )
    return path


class Sshd:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "sshd.log"
        host_key = _keygen(root / "host_ed25519")
        user_key = _keygen(root / "user_ed25519")
        self.wrong_key = _keygen(root / "wrong_ed25519")
        (root / "authorized_keys").write_text((root / "user_ed25519.pub").read_text())
        self.config = root / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {host_key}\n"
            f"PidFile {root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "AllowTcpForwarding local\n"
            "LogLevel VERBOSE\n"
        )
        self.client_config = root / "ssh_config"
        common = (
            "    HostName 127.0.0.1\n"
            f"    Port {self.port}\n"
            f"    User {getpass.getuser()}\n"
            "    IdentitiesOnly yes\n"
            "    IdentityAgent none\n"
            f"    UserKnownHostsFile {root / 'known_hosts'}\n"
            "    GlobalKnownHostsFile /dev/null\n"
            "    StrictHostKeyChecking accept-new\n"
        )
        self.client_config.write_text(
            f"Host {ALIAS}\n{common}    IdentityFile {user_key}\n"
            f"Host {WRONG_KEY_ALIAS}\n{common}    IdentityFile {self.wrong_key}\n"
        )

    @property
    def ssh_command(self) -> str:
        """The value for ``SCHMUX_SSH_COMMAND``."""
        return f"ssh -F {self.client_config}"

    def start(self, timeout: float = 10.0) -> Sshd:
        if os.geteuid() == 0:  # root's sshd wants its privilege separation directory
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"sshd exited {self.proc.returncode}:\n{self.log_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"sshd did not listen within {timeout} s:\n{self.log_text()}")

    def kill(self) -> None:
        """The host goes away: the listener and every connection it serves, at once."""
        if self.proc is None:
            return
        pids = [self.proc.pid, *descendants(self.proc.pid)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def require_sshd() -> None:
    if SSHD.exists():
        return
    message = f"{SSHD} is missing: install openssh-server (scripts/install-test-deps does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
    """The body of an ``sshd`` fixture: a running sshd, and ``SCHMUX_SSH_COMMAND`` pointing the
    app's ssh at it for the test. A test module declares::

        @pytest.fixture
        def sshd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sshd]:
            yield from running(tmp_path, monkeypatch)
    """
    require_sshd()
    root = tmp_path / "sshd"
    root.mkdir()
    server = Sshd(root).start()
    monkeypatch.setenv("SCHMUX_SSH_COMMAND", server.ssh_command)
    try:
        yield server
    finally:
        server.kill()
