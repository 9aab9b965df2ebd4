"""Every process of a session, wherever it went: ended when the session is disposed.

Killing the tmux session and its process group misses what left the group: a shell's
``cmd &`` (its own group under job control), a child that called ``setpgid`` or ``setsid``,
a daemon that double-forked away to init. A session's processes are found two ways, from
``/proc``: every process whose environment holds the session's ``SCHMUX_SESSION_ID`` (the
launcher exports it, so everything the agent starts inherits it), and every descendant of the
pane's process still attached to it. They get SIGTERM, then SIGKILL after a short grace. The
app itself and its ancestors are never touched, nor any process without that exact variable
or ancestry, so other sessions' processes stay.

Linux only (``/proc``); elsewhere nothing is found and only the tmux session is ended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable

GRACE = 1.0  # seconds between SIGTERM and SIGKILL
POLL = 0.02
ROUNDS = 3  # a process may fork while being ended: look again this many times

PROC = "/proc"


def _pids() -> list[int]:
    try:
        return [int(n) for n in os.listdir(PROC) if n.isdigit()]
    except OSError:
        return []


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter), or None when the process is gone."""
    try:
        with open(f"{PROC}/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2 :].split()
    try:
        return int(rest[1]), rest[0].decode()
    except (IndexError, ValueError):
        return None


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"{PROC}/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False


def _protected() -> set[int]:
    """This process and its ancestors."""
    out = {0, 1}
    pid = os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        st = _stat(pid)
        pid = st[0] if st else 0
    return out


def find(session_id: str, roots: Iterable[int] = ()) -> set[int]:
    """The live (not zombie) processes of a session: by its variable or by descent from
    ``roots`` (the pane's process)."""
    marker = f"SCHMUX_SESSION_ID={session_id}".encode()
    protected = _protected()
    parents: dict[int, int] = {}
    found: set[int] = set()
    for pid in _pids():
        if pid in protected:
            continue
        st = _stat(pid)
        if st is None or st[1] in ("Z", "X"):
            continue
        parents[pid] = st[0]
        if _has_marker(pid, marker):
            found.add(pid)
    tree = {r for r in roots if r in parents}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return found | tree


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def end(
    session_id: str,
    roots: Iterable[int] = (),
    *,
    grace: float = GRACE,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """SIGTERM every process of the session, SIGKILL what is left after ``grace`` seconds.
    Blocking (run it in a worker thread). Returns how many processes were signalled."""
    roots = list(roots)
    signalled: set[int] = set()
    for _ in range(ROUNDS):
        pids = find(session_id, roots)
        if not pids:
            break
        signalled |= pids
        _signal(pids, signal.SIGTERM)
        deadline = clock() + grace
        while pids and clock() < deadline:
            sleep(POLL)
            pids = find(session_id, pids)  # those still alive, and any new children
        if pids:
            _signal(pids, signal.SIGKILL)
            signalled |= pids
        roots = []
    return len(signalled)
