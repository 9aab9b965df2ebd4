"""The configured hosts (docs/API.md#hosts): a link per host, their workspaces, and who owns an id.

``apply(config.hosts)`` starts a link for each new host, stops the link of each removed one,
and restarts a host whose address or token changed; nothing else is touched. Each link runs
as its own background task, so no host ever waits for another. ``owner(id)`` is the one
place that decides whether an id is this machine's (None) or a host's.

``make_endpoint`` turns a configured host into where it can be reached: a url host's address
as configured; an ssh host's tunnel, once one is plugged in (until then it is unreachable).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import hostids
from .config import Host
from .errors import AppError, BadRequest, HostUnavailable, NotFound
from .hostclient import Endpoint, FixedUrl, HostClient, Unreachable
from .hostlink import HostLink, LinkState
from .tasks import TaskGroup

EndpointFactory = Callable[[Host, Callable[[], None]], Endpoint]


def default_endpoint(host: Host, on_change: Callable[[], None]) -> Endpoint:
    """``on_change``: to be called when the address changes (a tunnel came up or went down)."""
    if host.url:
        return FixedUrl(host.url)
    return Unreachable("ssh hosts need the ssh tunnel, which this build does not have yet")


@dataclass
class Remote:
    config: Host
    link: HostLink
    task: asyncio.Task[None]

    @property
    def connected(self) -> bool:
        return self.link.state is LinkState.CONNECTED


class Hosts:
    def __init__(
        self,
        tasks: TaskGroup,
        *,
        on_sessions: Callable[[], None],
        on_state: Callable[[], None],
        make_endpoint: EndpointFactory = default_endpoint,
        link_options: dict[str, Any] | None = None,
    ) -> None:
        self._tasks = tasks
        self._on_sessions = on_sessions
        self._on_state = on_state
        self._make_endpoint = make_endpoint
        self._link_options = link_options or {}
        self._remotes: dict[str, Remote] = {}  # in config order

    def __len__(self) -> int:
        return len(self._remotes)

    # -- config -----------------------------------------------------------------------------

    def apply(self, hosts: tuple[Host, ...]) -> None:
        """Make the running links match ``hosts`` (must run on the event loop)."""
        wanted = {h.name: h for h in hosts}
        changed = False
        for name, remote in list(self._remotes.items()):
            if wanted.get(name) != remote.config:
                remote.task.cancel()  # its loop closes its socket, client and endpoint
                del self._remotes[name]
                changed = True
        for h in hosts:
            if h.name not in self._remotes:
                self._remotes[h.name] = self._start(h)
                changed = True
        order = [h.name for h in hosts]
        self._remotes = {name: self._remotes[name] for name in order}
        if changed:
            self._on_state()
            self._on_sessions()

    def _start(self, host: Host) -> Remote:
        link: HostLink | None = None

        def address_changed() -> None:
            if link is not None:
                link.poke()

        client = HostClient(host.name, host.token, self._make_endpoint(host, address_changed))
        link = HostLink(
            client, on_sessions=self._on_sessions, on_state=self._on_state, **self._link_options
        )
        task = self._tasks.spawn(link.run(), name=f"host-link-{host.name}")
        return Remote(host, link, task)

    def close(self) -> None:
        for remote in self._remotes.values():
            remote.task.cancel()
        self._remotes.clear()

    # -- reads ------------------------------------------------------------------------------

    def workspaces(self) -> list[dict[str, Any]]:
        """Every host's last workspaces (ids prefixed, ``host`` set), host after host."""
        out: list[dict[str, Any]] = []
        for remote in self._remotes.values():
            out.extend(remote.link.workspaces)
        return out

    def statuses(self) -> list[dict[str, Any]]:
        return [remote.link.status() for remote in self._remotes.values()]

    def links(self) -> list[HostLink]:
        return [remote.link for remote in self._remotes.values()]

    async def gather(self, path: str, timeout: float) -> list[tuple[str, Any]]:
        """``GET path`` on every connected host at once: ``(name, JSON answer)`` of those that
        answered 200 within ``timeout``; the others are left out (their state says why)."""

        async def one(remote: Remote) -> tuple[str, Any] | None:
            try:
                async with asyncio.timeout(timeout):
                    answer = await remote.link.client.request("GET", path)
                if answer.status != 200:
                    return None
                return remote.config.name, json.loads(answer.body)
            except (AppError, TimeoutError, ValueError):
                return None

        remotes = [r for r in self._remotes.values() if r.connected]
        answers = await asyncio.gather(*(one(r) for r in remotes))
        return [a for a in answers if a is not None]

    # -- routing ----------------------------------------------------------------------------

    def named(self, name: str) -> Remote:
        """The host called ``name``, connected now; ``BadRequest`` when there is none,
        ``HostUnavailable`` while it is not connected."""
        remote = self._remotes.get(name)
        if remote is None:
            known = ", ".join(self._remotes) or "none configured"
            raise BadRequest(f"no host named {name[:64]!r} (hosts: {known})")
        if not remote.connected:
            raise HostUnavailable(f"host {name} is offline")
        return remote

    def owner(self, value: str) -> tuple[Remote, str] | None:
        """Which host owns the id ``value`` and its id there; None for this machine's ids.
        ``NotFound`` for a prefix that names no host, ``HostUnavailable`` while it is down."""
        parts = hostids.split(value)
        if parts is None:
            return None
        name, remote_id = parts
        if name not in self._remotes:
            raise NotFound(f"unknown id {value[:200]!r}: no host is named {name[:64]!r}")
        return self.named(name), remote_id
