"""The attention detector on recorded screens (tests/backend/screens/*.txt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.attention import detect

SCREENS = Path(__file__).parent / "screens"

EXPECTED = {
    "claude_permission.txt": "Do you want to proceed?",
    "codex_approval.txt": "Would you like to run the following command?",
    "gemini_confirm.txt": "Allow execution of: 'npm'?",
    "apt_yes_no.txt": "Do you want to continue? [Y/n]",
    "ssh_password.txt": "deploy@build.example.com's password:",
    "agent_question.txt": "Which approach would you like me to take?",
    "shell_idle.txt": None,
    "build_output.txt": None,
    "agent_working.txt": None,
    "question_scrolled_away.txt": None,
}


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_recorded_screens(name: str, expected: str | None) -> None:
    assert detect((SCREENS / name).read_text()) == expected


def test_every_recorded_screen_has_an_expectation() -> None:
    assert {p.name for p in SCREENS.glob("*.txt")} == set(EXPECTED)


@pytest.mark.parametrize(
    "line",
    [
        "Overwrite existing config? (y/n)",
        "Press any key to continue",
        "Enter passphrase for key '/k':",
        "Are you sure you want to delete 3 files?",
    ],
)
def test_single_line_prompts(line: str) -> None:
    assert detect(f"some output\n{line}\n\n") == line


def test_blank_screen() -> None:
    assert detect("\n\n\n") is None
