"""A host's terminal through this server: ``/ws/terminal/<host>:<id>`` relayed byte for byte to
the host's ``/ws/terminal/<id>`` (docs/API.md#hosts).

The host's socket is opened first (with a ticket fetched with its token): an unknown session,
or a host that refuses or is down, is answered before the upgrade, as for a local session.
Each direction reads one frame only once the other side took the previous one, so a slow
reader slows its writer (the host's own terminal stream keeps only what a slow viewer can
take) and neither side's frames pile up here. When the host's link loses the host (a frozen
host: its pings), the socket is closed at once with 1011 "host X stopped answering (...)".
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse

from quart import websocket
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from backend.errors import BadGateway, HostUnavailable, NotFound
from backend.hostclient import describe
from backend.hosts import Remote
from backend.tasks import TaskGroup

SEND_TIMEOUT = 30.0
PING_INTERVAL = 20.0
UNSENDABLE = {1005: 1000, 1006: 1011, 1015: 1011}  # codes that only report, never sent


async def relay(remote: Remote, remote_id: str) -> None:
    link = remote.link
    name = remote.config.name
    if not link.has_session(remote_id):
        raise NotFound(f"unknown session {name}:{remote_id}")
    path = "/ws/terminal/" + urllib.parse.quote(remote_id, safe="")
    async with contextlib.AsyncExitStack() as stack:
        try:
            upstream = await stack.enter_async_context(
                link.client.socket(path, ping_interval=PING_INTERVAL, ping_timeout=PING_INTERVAL)
            )
        except InvalidStatus as e:
            if e.response.status_code == 404:
                raise NotFound(f"unknown session {name}:{remote_id}") from None
            raise BadGateway(
                f"host {name} refused the terminal (HTTP {e.response.status_code})"
            ) from None
        except (OSError, TimeoutError, WebSocketException) as e:
            raise BadGateway(f"host {name} did not answer: {describe(e)}") from None
        await websocket.accept()
        try:
            async with link.in_flight():  # the link lost the host: no more output is coming
                await _pump(upstream, name)
        except HostUnavailable as e:
            with contextlib.suppress(Exception):
                await websocket.close(1011, e.message[:120])


async def _pump(upstream: ClientConnection, name: str) -> None:
    group = TaskGroup()

    async def down() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in upstream:
                async with asyncio.timeout(SEND_TIMEOUT):
                    await websocket.send(frame)

    async def up() -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await websocket.receive()
                await upstream.send(frame)

    downward = group.spawn(down(), name=f"terminal-relay-down-{name}")
    upward = group.spawn(up(), name=f"terminal-relay-up-{name}")
    try:
        await asyncio.wait({downward, upward}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await group.close(timeout=1.0)
    code = upstream.close_code
    if downward.done() and code is not None:  # the host ended it (disposed): say why
        code = UNSENDABLE.get(code, code)
        with contextlib.suppress(Exception):
            await websocket.close(code, upstream.close_reason or "")
