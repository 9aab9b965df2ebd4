"""The conflict forecast: which workspaces of one repo touch the same files, and which would not
merge cleanly into the repo's default branch (the payload's ``conflicts``, docs/API.md).

Each workspace is *surveyed* in a worker thread (never on the event loop):

* the files it touched since it forked: the working tree against the merge-base of ``HEAD`` and
  the default branch (committed or not, renames as a deletion and an addition), plus untracked
  files;
* whether merging it into the default branch would conflict. Only files both sides changed since
  the merge-base can, so ``git merge-tree --write-tree`` runs only when there are some; it merges
  without touching any checkout or index. Uncommitted work takes part: it is first written as a
  commit through a private index (objects only, no ref, nothing in the checkout changes).

Surveys are cached; a workspace is surveyed again when the git status pass saw it change (or was
woken by a file event in it or in its repo's refs), when it appears, and at start. Pairs are then
recomputed from the cached file sets (set intersections, no git), and when the answer differs
the payload is pushed. Building the payload reads the cache only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend import procs
from backend.gitsync import GitError, default_branch, git, split_z, worktree_commit
from backend.models import Workspace

log = logging.getLogger(__name__)

MAX_FILES = 200  # paths listed per conflict (the count beyond is left out of the payload)
COALESCE_SECONDS = 0.1  # let a burst of git passes settle before surveying


@dataclass(frozen=True)
class Survey:
    files: frozenset[str]  # touched since the merge-base, committed or not
    base_conflicts: tuple[str, ...]  # files a merge into the default branch would conflict on


def _names(out: bytes) -> set[str]:
    return {p.decode("utf-8", "surrogateescape") for p in split_z(out)}


def survey(path: Path, *, timeout: float) -> Survey:
    """What the checkout at ``path`` touched and where it would conflict (blocking: a worker's)."""
    found = default_branch(path, timeout=timeout)
    if found is None:  # nothing to fork from: what differs from HEAD is all there is
        touched = _names(
            git(
                path,
                "diff",
                "--name-only",
                "-z",
                "--no-renames",
                "HEAD",
                "--",
                timeout=timeout,
                ok=(0, 128),
            )
        )
        touched |= _names(
            git(path, "ls-files", "--others", "--exclude-standard", "-z", timeout=timeout)
        )
        return Survey(frozenset(touched), ())
    _ref, base = found
    try:
        mb = git(path, "merge-base", "HEAD", base, timeout=timeout).decode().strip()
    except GitError:
        mb = ""  # no common history (or an unborn HEAD): compare with the default branch
    since = mb or base
    touched = _names(
        git(path, "diff", "--name-only", "-z", "--no-renames", since, "--", timeout=timeout)
    )
    untracked = _names(
        git(path, "ls-files", "--others", "--exclude-standard", "-z", timeout=timeout)
    )
    touched |= untracked
    if not mb or mb == base or not touched:
        return Survey(frozenset(touched), ())
    theirs = _names(
        git(path, "diff", "--name-only", "-z", "--no-renames", mb, base, "--", timeout=timeout)
    )
    if not touched & theirs:
        return Survey(frozenset(touched), ())
    # Both sides changed some file since the fork: let git merge them (in objects only).
    dirty = bool(untracked) or bool(
        git(path, "diff", "--name-only", "-z", "HEAD", "--", timeout=timeout).strip()
    )
    ours = worktree_commit(path, "HEAD", "forecast", timeout=timeout) if dirty else "HEAD"
    out = git(
        path,
        "merge-tree",
        "--write-tree",
        "--name-only",
        "-z",
        "--no-messages",
        base,
        ours,
        timeout=timeout,
        ok=(0, 1),
    )
    fields = split_z(out)[1:]  # the merged tree first, then the conflicted paths
    conflicted: list[str] = []
    for p in fields:
        if not p:
            break
        name = p.decode("utf-8", "surrogateescape")
        if name not in conflicted:
            conflicted.append(name)
    return Survey(frozenset(touched), tuple(conflicted))


def pairs(
    workspaces: dict[str, Workspace], surveys: dict[str, Survey]
) -> dict[str, list[dict[str, Any]]]:
    """Each workspace's conflicts: other workspaces of its repo touching the same files (by id),
    then ``"base"``; only workspaces with any are listed."""
    by_repo: dict[str, list[str]] = {}
    for wid in sorted(surveys):
        w = workspaces.get(wid)
        if w is not None:
            by_repo.setdefault(w.repo_name, []).append(wid)
    out: dict[str, list[dict[str, Any]]] = {}
    for ids in by_repo.values():
        for i, a in enumerate(ids):
            fa = surveys[a].files
            if not fa:
                continue
            for b in ids[i + 1 :]:
                shared = fa & surveys[b].files
                if shared:
                    files = sorted(shared)[:MAX_FILES]
                    out.setdefault(a, []).append({"with": b, "files": files})
                    out.setdefault(b, []).append({"with": a, "files": files})
    for wid, s in surveys.items():
        if s.base_conflicts and wid in workspaces:
            out.setdefault(wid, []).append(
                {"with": "base", "files": list(s.base_conflicts[:MAX_FILES])}
            )
    for items in out.values():
        items.sort(key=lambda c: (c["with"] == "base", c["with"]))
    return out


class ConflictForecast:
    """The cache of surveys and of each workspace's conflicts, kept current by ``run()``."""

    def __init__(
        self,
        workspaces: Callable[[], dict[str, Workspace]],
        on_change: Callable[[], None],
        *,
        timeout: Callable[[], float],
        concurrency: int = 2,
    ) -> None:
        self._workspaces = workspaces
        self._on_change = on_change
        self._timeout = timeout
        self._concurrency = concurrency
        self._surveys: dict[str, Survey] = {}
        self._result: dict[str, list[dict[str, Any]]] = {}
        self._dirty: set[str] = set()
        self._poke = asyncio.Event()
        self._known: frozenset[str] = frozenset()
        self.passes = 0

    def of(self, workspace_id: str) -> list[dict[str, Any]]:
        """The payload's ``conflicts`` for one workspace (from the cache: no git)."""
        return self._result.get(workspace_id, [])

    def mark(self, ids: Iterable[str] | None = None) -> None:
        """Survey these workspaces again soon (all of them with None)."""
        self._dirty.update(self._workspaces() if ids is None else ids)
        self._poke.set()

    def on_event(self, _event: object = None) -> None:
        """A workspace appeared or went away: survey the new ones, drop the gone ones."""
        current = frozenset(self._workspaces())
        if current != self._known:
            self._dirty.update(current - self._known)
            self._known = current
            self._poke.set()

    async def run(self) -> None:
        self._known = frozenset(self._workspaces())
        self.mark()
        while True:
            await self._poke.wait()
            await asyncio.sleep(COALESCE_SECONDS)
            self._poke.clear()
            try:
                await self.refresh()
            except Exception:
                log.exception("conflict forecast failed")

    async def refresh(self) -> None:
        live = self._workspaces()
        ids = [wid for wid in sorted(self._dirty) if wid in live]
        self._dirty.clear()
        slots = asyncio.Semaphore(self._concurrency)
        timeout = self._timeout()

        async def one(w: Workspace) -> tuple[str, Survey | None]:
            path = Path(w.path)
            async with slots:
                try:
                    return w.id, await procs.in_worker(lambda: survey(path, timeout=timeout))
                except (GitError, OSError) as e:
                    log.debug("conflict forecast skipped %s: %s", w.id, e)
                    return w.id, None

        for wid, s in await asyncio.gather(*(one(live[wid]) for wid in ids)):
            if s is None:
                self._surveys.pop(wid, None)
            else:
                self._surveys[wid] = s
        live = self._workspaces()  # as it is now, after the awaits
        for gone in set(self._surveys) - set(live):
            del self._surveys[gone]
        result = pairs(live, self._surveys)
        self.passes += 1
        if result != self._result:
            self._result = result
            self._on_change()
