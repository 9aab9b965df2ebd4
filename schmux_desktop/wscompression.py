"""WebSocket compression off (``server.websocket_compression: false``): one push, not one per client.

Browsers offer permessage-deflate on every WebSocket, and Hypercorn accepts it with one zlib
stream per connection, so a push is compressed once per client: with 50 clients and 1,000
workspaces (~1.3 MB a push) that was 304 ms of CPU per change and p99 446 ms to the last client,
against 31–36 ms and p99 ~138 ms uncompressed (bench/bench_hosts.py scale --deflate 50). The
clients of this server are mostly on the same machine (or behind an ssh tunnel that can
compress), where compression buys nothing. Hypercorn has no setting for it, so the handshake is
answered as if the client had offered no extension; a Hypercorn whose handshake no longer looks
as expected is left alone, with a log line. It applies from the next start (the patch is
process-wide). It is not the default: without compression, Hypercorn 0.18 leaves a client that
sends a frame over the 64 KiB limit without its 1009 close (that connection stops answering),
which the compressed path does not (tests/e2e/test_hostile_input.py).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger(__name__)


def refuse_websocket_compression() -> bool:
    """Make Hypercorn's WebSocket handshakes negotiate no extension; False if it could not."""
    try:
        from hypercorn.protocol import ws_stream
    except ImportError:
        return False
    handshake: Any = getattr(ws_stream, "Handshake", None)
    init = getattr(handshake, "__init__", None)
    if handshake is None or init is None or not hasattr(handshake, "accept"):
        log.info("Hypercorn's WebSocket handshake changed: compression stays as it negotiates")
        return False
    if getattr(init, "_schmux_no_extensions", False):
        return True

    @functools.wraps(init)
    def without_extensions(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.extensions = None  # as if the client had offered none

    without_extensions._schmux_no_extensions = True  # type: ignore[attr-defined]
    handshake.__init__ = without_extensions
    return True
