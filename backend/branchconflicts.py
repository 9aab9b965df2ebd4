"""Which workspace already has a branch checked out (worktree mode allows one per branch).

Answers schmux's pre-spawn check from memory (no git run). In ``git`` (clone) mode every
workspace is its own clone, so a branch never conflicts.
"""

from __future__ import annotations

from collections.abc import Iterable

from .config import SCM_WORKTREE, Config
from .models import Workspace


def branch_owner(
    workspaces: Iterable[Workspace], config: Config, repo: str, branch: str
) -> str | None:
    """The id of the workspace of ``repo`` (a configured name or url) on ``branch``, or None."""
    if config.source_code_management != SCM_WORKTREE or not branch:
        return None
    known = config.repo(repo)
    names = {known.name} if known else set()
    for w in sorted(workspaces, key=lambda w: w.id):
        if w.branch == branch and (w.repo_name in names or w.repo == repo):
            return w.id
    return None
