"""The README and --help tell a newcomer what they need (issue 14): every option, the default
data dir, how to install on a Python that refuses a bare pip install, that sessions outlive the
app and how to stop them."""

from __future__ import annotations

import argparse

from schmux_desktop.cli import build_parser, default_data_dir
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_every_option_is_in_the_readme() -> None:
    options = [
        opt
        for action in build_parser()._actions
        if action.help != argparse.SUPPRESS
        for opt in action.option_strings
        if opt.startswith("--") and opt not in ("--help", "--version")
    ]
    missing = [opt for opt in options if f"`{opt}" not in README]
    assert missing == []


def test_help_and_readme_name_the_default_data_dir() -> None:
    assert str(default_data_dir()) in " ".join(build_parser().format_help().split())
    assert "~/.local/share/schmux-desktop" in README


def test_readme_covers_the_first_hour() -> None:
    for needed in (
        "python3 -m venv",  # Debian's externally managed Python
        "pipx install",
        "Sessions outlive the app",
        "kill-server",
        "--token-file",
        "Signed out",
        "libxcb-cursor0",  # Qt's system libraries
        "--print-url",
        "Open in browser",
        "/api/sessions/{id}/restart",
    ):
        assert needed in README, needed
