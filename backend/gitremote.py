"""Git that talks to a remote (clone, fetch, ``remote set-head --auto``), each run with a deadline.

A remote can accept a connection and never answer. So every such git runs as an asyncio
subprocess (no worker thread to tie up) in its own process group, and when its deadline passes,
or the app shuts down, the whole group is killed: git and whatever it started (ssh,
``git-remote-http``). The caller gets a ``RemoteGitError`` (400) naming what was stopped and why.

Not ``procs.run``: that collects output at the end, and a clone's progress must stream out of
git's stderr as it comes; and there are one or two of these per spawn, so forking from the loop
(what made ``procs`` use threads for hundreds of status gits) costs nothing here.

    state:  OPEN ──close()──▶ CLOSED   (closed: running gits killed, new ones refused)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import BadRequest
from .gitenv import git_env
from .giturl import REMOTE_ENV, url_problem

Report = Callable[[float | None, str], None]

_PROGRESS = re.compile(rb"^(?:remote: )?([A-Za-z][A-Za-z ]*):\s+(\d+)%")
PROGRESS_EVERY = 0.1
MAX_STDERR_LINES = 50


class RemoteGitError(BadRequest):
    """A git that talks to a remote failed, was refused, or was stopped."""


class RemoteGitTimeout(RemoteGitError):
    """It passed its deadline and was killed."""


class State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


def seconds(timeout: float) -> str:
    return f"{timeout:g} s"


@dataclass(frozen=True)
class Deadline:
    """The point on the loop's clock by which the remote work must be done, and the limit
    (``sessions.git_clone_timeout_ms``, in s) it came from, for the message."""

    at: float
    limit: float

    @classmethod
    def after(cls, limit: float) -> Deadline:
        return cls(asyncio.get_running_loop().time() + limit, limit)

    def remaining(self) -> float:
        return max(0.0, self.at - asyncio.get_running_loop().time())


class GitRemote:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        base = git_env() if env is None else env
        self.env = {**base, "LC_ALL": "C", **REMOTE_ENV}
        self.state = State.OPEN
        self._running: set[asyncio.subprocess.Process] = set()

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def running(self) -> int:
        return len(self._running)

    def close(self) -> None:
        """Kill every running git (and its helpers) and refuse new ones: the app is stopping."""
        self.state = State.CLOSED
        for proc in list(self._running):
            _kill_group(proc)

    async def run(
        self,
        args: Sequence[str],
        *,
        url: str,
        what: str,
        deadline: Deadline,
        cwd: Path | None = None,
        report: Report | None = None,
    ) -> str:
        """Run ``git *args`` (which talks to ``url``) and return its stdout; errors read
        "could not {what}: ..." (``what`` like "fetch <url>")."""
        problem = url_problem(url)
        if problem:
            raise RemoteGitError(f"{url[:200]!r}: {problem}")
        if self.closed:
            raise RemoteGitError(f"could not {what}: the app is shutting down")
        proc = await asyncio.create_subprocess_exec(
            "git",
            *args,
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as one
        )
        self._running.add(proc)
        lines: list[str] = []
        try:
            async with asyncio.timeout(deadline.remaining()):
                assert proc.stdout is not None and proc.stderr is not None
                out, _ = await asyncio.gather(
                    proc.stdout.read(), _read_stderr(proc.stderr, lines, report)
                )
                rc = await proc.wait()
        except TimeoutError:
            raise RemoteGitTimeout(
                f"could not {what}: git did not finish within {seconds(deadline.limit)} "
                "(sessions.git_clone_timeout_ms) and was stopped"
            ) from None
        finally:
            self._running.discard(proc)
            if proc.returncode is None:
                _kill_group(proc)
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(proc.wait())
        if rc != 0:
            if self.closed:
                raise RemoteGitError(f"could not {what}: stopped, the app is shutting down")
            fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
            detail = (fatal or lines[-1:] or [f"git exited with status {rc}"])[0]
            raise RemoteGitError(f"could not {what}: {detail}")
        return out.decode("utf-8", "replace")


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:  # not reaped yet: the group id is still ours
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


async def _read_stderr(
    stream: asyncio.StreamReader, lines: list[str], report: Report | None
) -> None:
    """Collect git's messages; turn its progress lines ("Receiving objects:  42% (…)\\r") into
    reports, at most one per PROGRESS_EVERY unless a stage completes."""
    buf = b""
    last = 0.0
    while chunk := await stream.read(65536):
        buf += chunk
        *parts, buf = re.split(rb"[\r\n]", buf)
        for raw in parts:
            m = _PROGRESS.match(raw)
            if m is None:
                text = raw.decode("utf-8", "replace").strip()
                if text:
                    lines.append(text)
                    del lines[:-MAX_STDERR_LINES]
                continue
            now = time.monotonic()
            percent = float(m.group(2))
            if report is not None and (now - last >= PROGRESS_EVERY or percent >= 100):
                last = now
                stage = m.group(1).decode()
                report(percent, f"{stage}: {percent:.0f}%")
    text = buf.decode("utf-8", "replace").strip()
    if text and not _PROGRESS.match(buf):
        lines.append(text)
