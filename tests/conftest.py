from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, make_repo, short_tmp


@pytest.fixture(scope="session", autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Isolated git config for tests and for the servers they start."""
    home = tmp_path_factory.mktemp("gitcfg")
    cfg = home / "gitconfig"
    cfg.write_text(
        "[user]\n\tname = Test\n\temail = test@example.invalid\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
        "[advice]\n\tdetachedHead = false\n"
    )
    old = {k: os.environ.get(k) for k in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}
    os.environ["GIT_CONFIG_GLOBAL"] = str(cfg)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def short_dir() -> Iterator[Path]:
    d = short_tmp()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def origin(short_dir: Path) -> Path:
    return make_repo(short_dir / "origin", branches=("feature",))


TARGETS = [
    {"name": "shell", "type": "command", "command": "bash --norc --noprofile"},
    {"name": "sleeper", "type": "command", "command": "sleep 600"},
    {"name": "echo", "type": "promptable", "command": "printf 'PROMPT<%s>\\n'"},
]


CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed


@pytest.fixture
def make_server(
    short_dir: Path, origin: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def factory(
        config: dict[str, Any] | None = None,
        *,
        token: str | None = "test-token-0123456789",
        data_dir: Path | None = None,
        start: bool = True,
        extra_args: list[str] | None = None,
    ) -> Server:
        d = data_dir or (short_dir / f"d{len(servers)}")
        s = Server(data_dir=d, token=token, extra_args=extra_args or [])
        if config is not None or data_dir is None:
            cfg = {"repos": [{"name": "proj", "url": str(origin)}], "run_targets": TARGETS}
            cfg.update(config or {})
            s.write_config(cfg)
        servers.append(s)
        return s.start() if start else s

    yield factory
    for s in servers:
        s.stop()
        s.kill_tmux()
    if request.node.stash.get(CALL_FAILED, False):
        for s in servers:  # shown with the failure: what the server logged
            print(f"--- server {s.data_dir} stderr ---\n{s.stderr()[-4000:]}")


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    return make_server()
