"""schmux-desktop: the process edge (command line, server thread, window)."""

from __future__ import annotations

from backend import __version__

__all__ = ["__version__"]
