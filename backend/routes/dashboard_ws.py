"""``/ws/dashboard`` (docs/PROTOCOL.md): one sender per client draining its own slot."""

from __future__ import annotations

import asyncio
import contextlib

from quart import Blueprint, websocket

from backend.routes import services
from backend.tasks import TaskGroup

bp = Blueprint("dashboard_ws", __name__)

SEND_TIMEOUT = 30.0


@bp.websocket("/ws/dashboard")
async def dashboard() -> None:
    svc = services()
    await websocket.accept()
    client = svc.broadcaster.register()
    group = TaskGroup()

    async def drain_incoming() -> None:
        while True:
            await websocket.receive()  # ignored; oversized frames are closed by the server (1009)

    async def send_loop() -> None:
        while True:
            batch = await client.next_batch()
            if not batch:
                return
            for text in batch:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await websocket.send(text)
                client.sent += 1

    receiver = group.spawn(drain_incoming(), name="dashboard-ws-receive")
    sender = group.spawn(send_loop(), name="dashboard-ws-send")
    try:
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closing = client.closed.is_set()  # the server asked (shutdown): answer with its code
        svc.broadcaster.unregister(client)
        client.close()  # the sender returns even if a cancellation got lost on the way
        await group.close(timeout=1.0)
    if closing:
        with contextlib.suppress(Exception):
            await websocket.close(client.close_code)
