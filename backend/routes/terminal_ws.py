"""``/ws/terminal/{session_id}`` (docs/API.md#the-terminal-socket): ``full`` then ``append``; ``input`` and ``resize`` in."""

from __future__ import annotations

import asyncio
import contextlib

from quart import Blueprint, websocket

from backend import termprotocol
from backend.errors import AppError
from backend.routes import services
from backend.routes.terminal_relay import relay
from backend.tasks import TaskGroup

bp = Blueprint("terminal_ws", __name__)

SEND_TIMEOUT = 30.0


@bp.websocket("/ws/terminal/<session_id>")
async def terminal(session_id: str) -> None:
    svc = services()
    owned = svc.hosts.owner(session_id)
    if owned is not None:  # a host's session: its own socket, relayed
        await relay(*owned)
        return
    svc.sessions.get(session_id)  # unknown id: 404 before the upgrade
    await websocket.accept()
    viewer = svc.terminals.open(session_id)
    group = TaskGroup()

    async def send_loop() -> None:
        while True:
            batch = await svc.terminals.next_messages(viewer)
            if not batch:
                return
            for text in batch:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await websocket.send(text)

    async def receive_loop() -> None:
        while True:
            raw = await websocket.receive()
            try:
                frame = termprotocol.parse(raw)
                if isinstance(frame, termprotocol.Input):
                    await svc.terminals.send_input(session_id, frame.data)
                    if frame.submits:
                        svc.sessions.clear_nudge(session_id)
                elif isinstance(frame, termprotocol.Resize):
                    await svc.terminals.resize(session_id, frame.cols, frame.rows)
            except AppError as e:
                await websocket.send(termprotocol.error(e.message))

    sender = group.spawn(send_loop(), name=f"terminal-send-{session_id}")
    receiver = group.spawn(receive_loop(), name=f"terminal-receive-{session_id}")
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closing = viewer.closed  # the server ended it (disposed, shutdown): say why
        svc.terminals.close(viewer)
        if not viewer.closed:
            viewer.close("")  # the sender returns even if a cancellation got lost on the way
        await group.close(timeout=1.0)
    if closing:
        with contextlib.suppress(Exception):
            await websocket.close(1000, viewer.close_reason)
