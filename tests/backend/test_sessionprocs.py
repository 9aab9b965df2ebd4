"""Finding and ending a session's processes by its variable, never anyone else's."""

from __future__ import annotations

import os
import subprocess
import time

from backend import sessionprocs
from tests.helpers import wait_for


def _alive(p: subprocess.Popen[bytes]) -> bool:
    return p.poll() is None


def test_ends_marked_processes_even_in_their_own_session_and_spares_others() -> None:
    env = dict(os.environ, SCHMUX_SESSION_ID="proj-001-cafe0001")
    near = dict(os.environ, SCHMUX_SESSION_ID="proj-001-cafe00011")  # a longer id: not ours
    # one ignores SIGTERM: it gets SIGKILL after the grace
    stubborn = "trap '' TERM; sleep 30 & wait"
    mine = [
        subprocess.Popen(["sleep", "30"], env=env, start_new_session=True),
        subprocess.Popen(["sh", "-c", stubborn], env=env, start_new_session=True),
    ]
    other = subprocess.Popen(["sleep", "30"], env=near, start_new_session=True)
    try:
        # each child's environment is readable once it has started its program
        wait_for(lambda: {p.pid for p in mine} <= sessionprocs.find("proj-001-cafe0001"))
        found = sessionprocs.find("proj-001-cafe0001")
        assert {p.pid for p in mine} <= found and other.pid not in found
        assert os.getpid() not in found
        t0 = time.monotonic()
        assert sessionprocs.end("proj-001-cafe0001", grace=0.3) >= 3
        assert time.monotonic() - t0 < 3
        for p in mine:
            p.wait(timeout=2)
        assert _alive(other)
        assert sessionprocs.find("proj-001-cafe0001") == set()
    finally:
        for p in [*mine, other]:
            p.kill()
            p.wait()


def test_descendants_of_the_pane_are_found_without_the_variable() -> None:
    parent = subprocess.Popen(["sh", "-c", "env -u SCHMUX_SESSION_ID sleep 30 & wait"])
    try:
        wait_for(lambda: len(sessionprocs.find("nobody-001-00000000", [parent.pid])) == 2)
        found = sessionprocs.find("nobody-001-00000000", [parent.pid])
        assert parent.pid in found and len(found) == 2
    finally:
        sessionprocs.end("nobody-001-00000000", [parent.pid], grace=0.2)
        parent.wait(timeout=2)
