"""schmux-desktop backend: the Quart app and the domain it serves."""

from __future__ import annotations

__version__ = "0.1.0"
