"""A WebSocket's inbound frames wait in a bounded queue: a client that floods is closed (1008).

Quart keeps every frame a client sends in an unbounded per-socket queue until the route reads it;
a client sending faster than its frames are handled (terminal input goes to tmux one frame at a
time) would grow the server's memory without limit. Here at most ``MAX_FRAMES`` wait (each at most
the server's 64 KiB frame limit); one more closes that socket with 1008 and leaves the others be.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from quart.asgi import ASGIWebsocketConnection
from quart.signals import websocket_received

log = logging.getLogger(__name__)

MAX_FRAMES = 128
FLOOD_CLOSE_CODE = 1008
FLOOD_REASON = "too many frames at once; slow down"


class BoundedWebsocketConnection(ASGIWebsocketConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = asyncio.Queue(MAX_FRAMES)
        self._send: Any = None

    async def __call__(self, receive: Any, send: Any) -> None:
        self._send = send
        await super().__call__(receive, send)

    async def send_data(self, send: Any, data: str | bytes) -> None:
        if self._closed:  # closed for flooding: the route's last sends go nowhere
            return
        await super().send_data(send, data)

    async def handle_messages(self, receive: Any) -> None:
        while True:
            event = await receive()
            if event["type"] == "websocket.receive":
                message = event.get("bytes") or event["text"]
                if self.queue.full():
                    await self._close_flooded(receive)
                    return
                await websocket_received.send_async(message)
                self.queue.put_nowait(message)
            elif event["type"] == "websocket.disconnect":
                return

    async def _close_flooded(self, receive: Any) -> None:
        log.warning(
            "closed a WebSocket on %s: it sent frames faster than they could be handled",
            self.scope.get("path", "?"),
        )
        while not self.queue.empty():  # what waits is dropped, not typed
            self.queue.get_nowait()
        if not self._closed:
            self._closed = True
            await self._send(
                {"type": "websocket.close", "code": FLOOD_CLOSE_CODE, "reason": FLOOD_REASON}
            )
        # Read on (and drop) until the client answers the close: the server must keep reading
        # to see that answer, or the connection would hang until its read timeout.
        while (await receive())["type"] != "websocket.disconnect":
            pass
