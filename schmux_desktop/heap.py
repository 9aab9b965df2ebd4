"""glibc's malloc thresholds for a server that sends one large frame to many clients.

Each push is framed once per client by wsproto (a few copies of the whole text, each a fresh
buffer). glibc serves buffers over its mmap threshold (128 KiB at start) with fresh pages and
gives the top of the heap back past its trim threshold (128 KiB), so every frame of a large
push (1,000 workspaces: ~1.3 MB) costs page faults that zero its memory anew: ~1.7 ms a
client, against ~0.15 ms with the buffers reused (bench/bench_hosts.py scale). Raising both
thresholds keeps such buffers in the heap for the next push; memory above ``TRIM`` at the top
of the heap is still given back.

Only on Linux with glibc; elsewhere (musl, macOS) nothing is changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP = 16 * 1024 * 1024  # buffers up to this size come from the heap, reused
TRIM = 32 * 1024 * 1024  # free memory kept at the top of the heap before it is given back


def tune_malloc() -> bool:
    """Set the thresholds (once per process is enough); False where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        gnu = libc.gnu_get_libc_version  # glibc only: musl's mallopt does nothing
    except (OSError, AttributeError):
        return False
    gnu.restype = ctypes.c_char_p
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(M_MMAP_THRESHOLD, MMAP) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM) == 1)
    if not done:
        log.info("could not tune malloc (glibc %s)", gnu().decode(errors="replace"))
    return done
