"""Watch directories for changes and report them by key, so loops work only when needed.

Keys are the caller's (``ws:<id>``, ``repo:<name>``, ``logs``, ...); a change reports the key
and the names of the entries that changed. A key's trees are watched
recursively (new subdirectories included) up to a limit; past it, or without inotify, ``watch_*``
returns False and the caller keeps polling that key. A queue overflow reports key ``*``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from backend import inotify as ino

log = logging.getLogger(__name__)

MAX_DIRS_PER_KEY = 4000
SKIP_DIRS = frozenset({".git"})


@dataclass
class _Watch:
    path: str
    keys: dict[str, bool]  # key -> recursive


class ChangeWatcher:
    def __init__(self, on_change: Callable[[str, set[str]], None]) -> None:
        self._on_change = on_change
        self._inotify: ino.Inotify | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watches: dict[int, _Watch] = {}
        self._by_key: dict[str, set[int]] = {}

    @property
    def active(self) -> bool:
        return self._inotify is not None

    def start(self) -> bool:
        if not ino.Inotify.available():
            return False
        try:
            self._inotify = ino.Inotify()
        except OSError as e:
            log.warning("file watching unavailable (%s); polling instead", e)
            return False
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._inotify.fd, self._readable)
        return True

    def close(self) -> None:
        if self._inotify is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._inotify.fd)
            self._inotify.close()
            self._inotify = None
        self._watches.clear()
        self._by_key.clear()

    # -- watching ---------------------------------------------------------------------

    def _add(self, key: str, path: str, recursive: bool) -> bool:
        assert self._inotify is not None
        try:
            wd = self._inotify.add_watch(
                path, ino.CHANGES | ino.IN_ONLYDIR | ino.IN_EXCL_UNLINK | ino.IN_MASK_ADD
            )
        except OSError as e:
            log.debug("cannot watch %s: %s", path, e)
            return False
        w = self._watches.get(wd)
        if w is None:
            self._watches[wd] = w = _Watch(path, {})
        w.keys[key] = w.keys.get(key, False) or recursive
        self._by_key.setdefault(key, set()).add(wd)
        return True

    def watch_dir(self, key: str, path: str) -> bool:
        """Watch the entries of one directory (not its subdirectories)."""
        if self._inotify is None or not os.path.isdir(path):
            return False
        return self._add(key, path, recursive=False)

    def watch_tree(self, key: str, root: str, *, skip: Iterable[str] = SKIP_DIRS) -> bool:
        """Watch a directory and every subdirectory (except ``skip`` names); False if incomplete."""
        if self._inotify is None or not os.path.isdir(root):
            return False
        skip = frozenset(skip)
        count = len(self._by_key.get(key, ()))
        for dirpath, dirnames, _files in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in skip]
            if count >= MAX_DIRS_PER_KEY or not self._add(key, dirpath, recursive=True):
                return False
            count += 1
        return True

    def unwatch(self, key: str) -> None:
        for wd in self._by_key.pop(key, set()):
            w = self._watches.get(wd)
            if w is None:
                continue
            w.keys.pop(key, None)
            if not w.keys:
                self._watches.pop(wd, None)
                if self._inotify is not None:
                    with contextlib.suppress(OSError):
                        self._inotify.rm_watch(wd)

    # -- events -----------------------------------------------------------------------

    def _readable(self) -> None:
        assert self._inotify is not None
        changed: dict[str, set[str]] = {}
        for ev in self._inotify.read():
            if ev.mask & ino.IN_Q_OVERFLOW:
                changed.setdefault("*", set())
                continue
            w = self._watches.get(ev.wd)
            if w is None:
                continue
            if ev.mask & ino.IN_IGNORED:
                self._watches.pop(ev.wd, None)
                for key in w.keys:
                    self._by_key.get(key, set()).discard(ev.wd)
                continue
            for key, recursive in list(w.keys.items()):
                changed.setdefault(key, set()).add(ev.name)
                new_dir = ev.mask & ino.IN_ISDIR and ev.mask & (ino.IN_CREATE | ino.IN_MOVED_TO)
                if recursive and new_dir and ev.name not in SKIP_DIRS:
                    self.watch_tree(key, os.path.join(w.path, ev.name))
        for key, names in changed.items():
            try:
                self._on_change(key, names)
            except Exception:
                log.exception("change handler failed for %s", key)
