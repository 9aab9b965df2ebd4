"""The configured hosts (docs/API.md#hosts): a link per host, their workspaces, and who owns an id.

``apply(config.hosts)`` starts a link for each new host, stops the link of each removed one,
and restarts a host whose address or token changed; nothing else is touched. Each link runs
as its own background task, so no host ever waits for another. ``owner(id)`` is the one
place that decides whether an id is this machine's (None) or a host's.

``make_endpoint`` turns a configured host into where it can be reached: a url host's address
as configured; an ssh host's own supervised OpenSSH tunnel (``backend.tunnel``), whose local
port is the address while it is up. ``test(host)`` reaches a host once, saving nothing.
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
from .hostclient import Endpoint, FixedUrl, HostClient, TunnelUrl, Unreachable
from .hostlink import HostLink, LinkState
from .tasks import TaskGroup
from .tunnel import Tunnel

EndpointFactory = Callable[[Host, Callable[[], None]], Endpoint]
TEST_TIMEOUT = 20.0  # a test of a host (its tunnel's login included) answers within this


def endpoint_for(host: Host, on_change: Callable[[], None], tasks: TaskGroup) -> Endpoint:
    """``on_change``: called when the address changes (a tunnel came up or went down)."""
    if host.url:
        return FixedUrl(host.url)
    try:
        return TunnelUrl(Tunnel(host.name, host.ssh, host.remote_port, on_change, tasks=tasks))
    except ValueError as e:  # the config refuses what the tunnel would: kept for safety
        return Unreachable(str(e))


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
        make_endpoint: EndpointFactory | None = None,
        link_options: dict[str, Any] | None = None,
    ) -> None:
        self._tasks = tasks
        self._on_sessions = on_sessions
        self._on_state = on_state
        self._make_endpoint = make_endpoint or (lambda h, changed: endpoint_for(h, changed, tasks))
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
            client,
            on_sessions=self._on_sessions,
            on_state=self._on_state,
            ssh=host.ssh,
            **self._link_options,
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

    def encoded(self) -> list[tuple[str, str]]:
        """Every host's last workspaces as JSON, for ``hostids.merged_json``."""
        return [remote.link.encoded() for remote in self._remotes.values()]

    def statuses(self) -> list[dict[str, Any]]:
        return [remote.link.status() for remote in self._remotes.values()]

    def links(self) -> list[HostLink]:
        return [remote.link for remote in self._remotes.values()]

    async def test(self, host: Host) -> dict[str, Any]:
        """Reach ``host`` once (its health, its version, whether it takes the token) and say how
        it went: ``{"ok", "error", "version"?, "latency_ms"?}``. Saves nothing; a running ssh
        host's tunnel is used as it is, another ssh host gets a tunnel for the test only."""
        running = self._remotes.get(host.name)
        if (
            running is not None
            and running.config == host
            and running.link.client.endpoint.base_url()
        ):
            return await _probe(running.link.client)
        up = asyncio.Event()
        endpoint = self._make_endpoint(host, up.set)
        client = HostClient(host.name, host.token, endpoint)
        try:
            async with asyncio.timeout(TEST_TIMEOUT):
                await endpoint.start()
                while endpoint.base_url() is None:
                    # A tunnel that failed once answers now: its retries would say it again.
                    if isinstance(endpoint, Unreachable) or endpoint.error:
                        return {"ok": False, "error": endpoint.error}
                    up.clear()
                    await up.wait()
                return await _probe(client)
        except TimeoutError:
            error = endpoint.error or f"no answer within {TEST_TIMEOUT:g} s"
            return {"ok": False, "error": error}
        finally:
            await endpoint.stop()
            await client.close()

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


async def _probe(client: HostClient) -> dict[str, Any]:
    """GET /api/healthz (its version, the round trip) then a ticket: the token works (or the
    host needs none)."""
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        health = await client.request("GET", "/api/healthz", timeout=TEST_TIMEOUT / 2)
        latency = (loop.time() - started) * 1000
        version = json.loads(health.body).get("version") if health.status == 200 else None
        if not isinstance(version, str):
            return {"ok": False, "error": f"{client.name} is not a schmux-desktop server"}
        await client.request("POST", "/api/ws-ticket", body=b"{}", timeout=TEST_TIMEOUT / 2)
    except AppError as e:
        return {"ok": False, "error": e.message}
    except (ValueError, AttributeError):
        return {"ok": False, "error": f"{client.name} is not a schmux-desktop server"}
    return {"ok": True, "error": "", "version": version, "latency_ms": round(latency, 1)}
