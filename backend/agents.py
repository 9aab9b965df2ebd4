"""Agent CLIs found on PATH: offered as promptable run targets, with their versions.

A known agent (claude, codex, gemini, ...) whose command is on ``PATH`` and that the config does
not name is offered as a ``promptable`` target marked ``"source": "detected"``: the prompt is its
one extra argument, as for any promptable target. Versions come from ``<command> --version``
(first line, at most a few seconds each), read once per executable and kept until it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
from dataclasses import dataclass

from .config import Config, RunTarget

# Agent CLIs that take a first prompt as their one argument.
KNOWN_AGENTS: tuple[str, ...] = (
    "claude",
    "codex",
    "gemini",
    "aider",
    "opencode",
    "goose",
    "amp",
    "qwen",
    "cursor-agent",
    "crush",
)
VERSION_TIMEOUT_SECONDS = 5.0
VERSION_MAX_CHARS = 200


@dataclass(frozen=True)
class Tool:
    name: str
    command: str
    source: str  # "detected" (found on PATH) or "config" (a configured run target)
    type: str = "promptable"
    path: str = ""
    version: str = ""

    def payload(self) -> dict[str, str]:
        return dataclasses.asdict(self)


class AgentDetector:
    """What is on PATH now; versions cached per (path, mtime)."""

    def __init__(
        self,
        known: tuple[str, ...] = KNOWN_AGENTS,
        version_timeout: float = VERSION_TIMEOUT_SECONDS,
    ) -> None:
        self.known = known
        self.version_timeout = version_timeout
        self._versions: dict[tuple[str, int], str] = {}

    def found(self, config: Config) -> list[Tool]:
        """Known agents on PATH that the config does not name (no process run)."""
        out: list[Tool] = []
        for name in self.known:
            if config.target(name) is not None:
                continue
            path = shutil.which(name)
            if path:
                out.append(Tool(name=name, command=name, source="detected", path=path))
        return out

    def with_detected(self, config: Config) -> Config:
        """``config`` with each detected agent added as a promptable run target."""
        extra = tuple(
            RunTarget(name=t.name, type="promptable", command=t.command) for t in self.found(config)
        )
        return (
            dataclasses.replace(config, run_targets=config.run_targets + extra) if extra else config
        )

    async def tools(self, config: Config) -> list[Tool]:
        """Configured targets (``source: config``) then detected agents with their versions."""
        configured = [
            Tool(name=t.name, command=t.command, source="config", type=t.type)
            for t in config.run_targets
        ]
        detected = self.found(config)
        versions = await asyncio.gather(*(self.version(t.path) for t in detected))
        return configured + [
            dataclasses.replace(t, version=v) for t, v in zip(detected, versions, strict=True)
        ]

    async def version(self, path: str) -> str:
        try:
            key = (path, os.stat(path).st_mtime_ns)
        except OSError:
            return ""
        if key not in self._versions:
            self._versions[key] = await _read_version(path, self.version_timeout)
        return self._versions[key]


async def _read_version(path: str, timeout: float) -> str:
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            "--version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError:
        return ""
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        await proc.wait()
        return ""
    lines = out.decode("utf-8", "replace").strip().splitlines()
    return lines[0].strip()[:VERSION_MAX_CHARS] if lines else ""
