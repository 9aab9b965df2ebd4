"""Quick-launch presets: the user's (``quick_launch`` in the config) and our built-in ones.

A preset is a run target and the prompt it starts with. The built-in ones name no target (``""``):
the person picks the agent, the preset gives the task.
"""

from __future__ import annotations

from .config import Config

BUILTIN: tuple[dict[str, str], ...] = (
    {
        "name": "Review my changes",
        "target": "",
        "prompt": "Read the uncommitted changes in this workspace (git diff HEAD) and review "
        "them: bugs, missing tests, unclear names. List what you would change and why; "
        "change nothing yet.",
    },
    {
        "name": "Write the missing tests",
        "target": "",
        "prompt": "Find the code in this workspace changed since the default branch that no "
        "test covers, and add tests for it. Run the tests and make them pass.",
    },
    {
        "name": "Explain this codebase",
        "target": "",
        "prompt": "Give me a short tour of this repository: what it does, how it is laid "
        "out, where to start reading, and how to build and test it.",
    },
    {
        "name": "Fix the failing build",
        "target": "",
        "prompt": "Run this project's build and tests, find why they fail, and fix the cause "
        "(not the symptom). Tell me what was wrong.",
    },
    {
        "name": "Tidy before merge",
        "target": "",
        "prompt": "Prepare this branch for review: run the linters and formatters the "
        "project uses, remove debugging leftovers, and write a commit message that says "
        "what changed and why.",
    },
)


def builtin() -> list[dict[str, str]]:
    return [dict(p) for p in BUILTIN]


def configured(config: Config) -> list[dict[str, str]]:
    return [{"name": q.name, "target": q.target, "prompt": q.prompt} for q in config.quick_launch]
