"""The one error every entry point (command line, window, self-test) reports as one line."""

from __future__ import annotations


class UsageError(Exception):
    """A problem the user can fix (bad option, unusable data dir, missing display...): printed as
    ``schmux-desktop: error: ...`` and exit status 2, or shown in a dialog by the desktop app."""
