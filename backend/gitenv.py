"""The one environment every git the app runs gets, whoever runs it.

``git_env()`` is ``os.environ`` as it is now, without the variables that would make git look at
some other repository than the one it is pointed at (they are set, for instance, when the app
is started from inside a git hook), plus: no optional locks (the app's polling must never block
the user's own git commands), no password prompt, and C messages (the app reads git's output).

GitPython cannot remove a variable from the environment of the gits it runs, only set one:
``open_repo`` opens a ``git.Repo`` whose gits get the same overrides, and for each of those
variables that is set, the value that points at this repository (what git finds by itself when
the variable is absent). Not covered: a bare repository opened while ``GIT_WORK_TREE`` is set
(git is then told of a work tree it does not use for the bare repo's commands the app runs). It is a context manager: the repo, and the git processes GitPython
keeps for it, are closed on the way out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import git

OVERRIDES: Mapping[str, str] = {
    "GIT_OPTIONAL_LOCKS": "0",
    "LC_ALL": "C",
    "GIT_TERMINAL_PROMPT": "0",
}

# Variables that would make `git -C path` look at some other repository.
STRIPPED: frozenset[str] = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
    }
)


# Who the app's own commits (dispose snapshots, forecast merges) say made them.
IDENTITY = {
    "GIT_AUTHOR_NAME": "schmux-desktop",
    "GIT_AUTHOR_EMAIL": "schmux-desktop@localhost",
    "GIT_COMMITTER_NAME": "schmux-desktop",
    "GIT_COMMITTER_EMAIL": "schmux-desktop@localhost",
}


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment git runs with, computed from ``os.environ`` at call time; ``extra``
    (an identity, a private index, the remote rules) goes on top."""
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    env.update(OVERRIDES)
    if extra:
        env.update(extra)
    return env


class _LiveGitEnv(Mapping[str, str]):
    """Read-only view: ``os.environ`` (as it is now) plus the git overrides."""

    def __getitem__(self, key: str) -> str:
        if key in OVERRIDES:
            return OVERRIDES[key]
        if key in STRIPPED:
            raise KeyError(key)
        return os.environ[key]

    def __iter__(self) -> Iterator[str]:
        return iter(git_env())

    def __len__(self) -> int:
        return len(git_env())

    def __repr__(self) -> str:
        return f"GIT_ENV({git_env()!r})"


GIT_ENV: Mapping[str, str] = _LiveGitEnv()


def gitpython_env(r: git.Repo, path: Path) -> dict[str, str]:
    """What GitPython sets for the gits of ``r``, opened at ``path`` (a bare repo, or the top of
    a checkout): the overrides, and each of the stripped variables that is set pinned to ``r``
    itself (GitPython can set a variable, not remove it; it pins ``GIT_DIR`` itself, but takes
    ``GIT_WORK_TREE`` and ``GIT_COMMON_DIR`` from the environment as they are)."""
    env = dict(OVERRIDES)
    present = STRIPPED.intersection(os.environ)
    if not present:
        return env
    git_dir = Path(r.git_dir)
    try:
        common = git_dir / (git_dir / "commondir").read_text().strip()
    except OSError:
        common = git_dir
    pinned = {
        "GIT_DIR": os.fspath(git_dir),
        "GIT_COMMON_DIR": os.fspath(common),
        "GIT_INDEX_FILE": os.fspath(git_dir / "index"),
        "GIT_OBJECT_DIRECTORY": os.fspath(common / "objects"),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": "",
        "GIT_NAMESPACE": "",
    }
    if not r.bare:
        pinned["GIT_WORK_TREE"] = os.fspath(path)
    env.update({k: v for k, v in pinned.items() if k in present})
    return env


@contextmanager
def open_repo(path: Path) -> Iterator[git.Repo]:
    """``git.Repo(path)`` whose gits run in the app's git environment, closed on exit."""
    import git  # GitPython costs ~90 ms at start-up: imported when first used

    with git.Repo(path) as r:
        r.git.update_environment(**gitpython_env(r, path))
        yield r
