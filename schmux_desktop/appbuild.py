"""Building the app for every entry point: the start-up checks and the Quart app with its services.

The web stack is imported inside ``build`` only (~0.5 s), so the command line and the desktop
window can answer ``--help``, bind and open their window first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from backend import __version__

from .errors import UsageError

if TYPE_CHECKING:
    from quart import Quart

    from backend.services import Services


def preflight(data_dir: Path, demo: bool) -> None:
    """What ``build`` checks, without importing the web stack (~0.5 s): the demo repo, the
    config and the state file. The desktop app runs it before opening its window and builds the
    app itself on the server thread, while QtWebEngine starts."""
    from backend.config import ConfigError
    from backend.config import load as load_config
    from backend.store import StateFileError, StateStore

    try:
        if demo:
            from .demo import ensure_demo

            ensure_demo(data_dir)
        load_config(data_dir / "config.json", data_dir)
        StateStore(data_dir / "state.json").load()
    except (ConfigError, StateFileError) as e:
        raise UsageError(str(e)) from e
    except OSError as e:
        raise UsageError(f"cannot prepare {data_dir}: {e.strerror or e}") from e


def build(data_dir: Path, token: str | None, demo: bool) -> tuple[Quart, Services]:
    """Build the app (and so load config and state); startup problems become UsageError."""
    from backend.app import create_app
    from backend.config import ConfigError
    from backend.fileio import DataDirError
    from backend.services import Settings
    from backend.store import StateFileError

    from .resources import static_dir

    try:
        if demo:
            from .demo import ensure_demo

            ensure_demo(data_dir)
        app = create_app(
            Settings(data_dir=data_dir, token=token, version=__version__, static_dir=static_dir())
        )
        services: Services = app.config["SERVICES"]
        services.prepare()
    except (ConfigError, StateFileError, DataDirError) as e:
        raise UsageError(str(e)) from e
    except OSError as e:
        raise UsageError(f"cannot prepare {data_dir}: {e.strerror or e}") from e
    return app, services
