"""Agent CLIs on PATH: found, versioned with real processes, a hung one cut off."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from backend.agents import AgentDetector
from backend.config import parse


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", f"{d}:/usr/bin:/bin")
    return d


def test_found_agents_become_promptable_targets_unless_configured(
    bin_dir: Path, tmp_path: Path
) -> None:
    _script(bin_dir / "claude", "echo 'claude 1.0'\n")
    _script(bin_dir / "codex", "echo 'codex-cli 0.5'\n")
    detector = AgentDetector(known=("claude", "codex", "gemini"))
    cfg = parse({"run_targets": [{"name": "codex", "command": "codex --full-auto"}]}, tmp_path)
    assert [t.name for t in detector.found(cfg)] == ["claude"]
    merged = detector.with_detected(cfg)
    claude = merged.target("claude")
    assert claude is not None and claude.type == "promptable" and claude.command == "claude"
    assert merged.target("codex") == cfg.target("codex")  # the config's own wins
    tools = asyncio.run(detector.tools(cfg))
    assert [(t.name, t.source, t.version) for t in tools] == [
        ("codex", "config", ""),
        ("claude", "detected", "claude 1.0"),
    ]


def test_a_hung_version_is_cut_off_with_its_children(bin_dir: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    _script(bin_dir / "gemini", f"sleep 60 & echo $! > {pids}; wait\n")
    detector = AgentDetector(known=("gemini",), version_timeout=0.5)
    started = time.monotonic()
    tools = asyncio.run(detector.tools(parse({}, tmp_path)))
    assert time.monotonic() - started < 5
    assert [(t.name, t.version) for t in tools] == [("gemini", "")]
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the --version process group outlived its timeout")
