"""A readers–writer gate for the event loop: shared sections run together, an exclusive one alone.

Once an exclusive section is waiting, no new shared section starts until it is over, so a
steady stream of shared sections cannot keep it out. Releasing never waits, so leaving a
section cannot be interrupted by a cancellation.

The tmux wrapper uses it so that a control client never attaches while one of our one-shot
clients runs (tmux 3.3a can crash then): one-shot clients are shared, the attach exclusive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Gate:
    def __init__(self) -> None:
        self._shared = 0  # shared sections running
        self._exclusive = False  # an exclusive section running
        self._exclusive_wanted = 0  # exclusive sections waiting or running
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def shared_count(self) -> int:
        return self._shared

    @property
    def exclusive_held(self) -> bool:
        return self._exclusive

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        while self._exclusive_wanted:
            await self._changed()
        self._shared += 1
        try:
            yield
        finally:
            self._shared -= 1
            if not self._shared:
                self._notify()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        self._exclusive_wanted += 1
        try:
            while self._exclusive or self._shared:
                await self._changed()
        except BaseException:
            self._exclusive_wanted -= 1
            self._notify()
            raise
        self._exclusive = True
        try:
            yield
        finally:
            self._exclusive = False
            self._exclusive_wanted -= 1
            self._notify()

    async def _changed(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)
