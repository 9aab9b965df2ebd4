"""The one reader of ``git status --porcelain=v2 -z`` (with or without ``--branch``).

Both the live status (``gitstatus``: dirty, branch, ahead/behind, which files are untracked) and
the check before a dispose (``snapshots.work_at_risk``: which files would be lost) read it here.

Records (``git help status``, "Porcelain Format Version 2"), NUL-terminated with ``-z``:

* ``# branch.oid <commit> | (initial)``, ``# branch.head <name> | (detached)``,
  ``# branch.ab +<ahead> -<behind>`` (only with an upstream): headers, with ``--branch``;
* ``1 XY sub mH mI mW hH hI <path>``: a changed tracked file;
* ``2 XY sub mH mI mW hH hI Xscore <path>`` and then ``<origPath>`` as its own field: a rename
  or copy;
* ``u XY sub m1 m2 m3 mW h1 h2 h3 <path>``: an unmerged file;
* ``? <path>``: untracked; ``! <path>``: ignored (only asked for with ``--ignored``).

``XY`` is the index and the work tree state, ``.`` for unchanged. Anything else is skipped.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

# Fields before the path in each kind of changed record.
_FIELDS_BEFORE_PATH = {b"1 ": 8, b"2 ": 9, b"u ": 10}


@dataclass(frozen=True)
class Change:
    """A changed, renamed or unmerged tracked file: ``xy`` as git writes it (``.`` unchanged)."""

    xy: bytes
    path: bytes
    kind: bytes  # b"1", b"2" or b"u"

    @property
    def short(self) -> str:
        """``XY path`` as ``git status --short`` shows it (`` `` for unchanged)."""
        xy = self.xy.replace(b".", b" ").decode("ascii", "replace")
        return f"{xy} {self.path.decode('utf-8', 'surrogateescape')}"


@dataclass
class Porcelain:
    branch: str | None = None  # '# branch.head'; None when detached or not asked for
    initial: bool = False  # unborn HEAD: '# branch.oid (initial)'
    ab: tuple[int, int] | None = None  # (ahead, behind) against the upstream
    changes: list[Change] = field(default_factory=list)
    untracked: list[bytes] = field(default_factory=list)
    ignored: list[bytes] = field(default_factory=list)

    @property
    def dirty(self) -> bool:
        """Any modified, staged or untracked-not-ignored file."""
        return bool(self.changes or self.untracked)

    @property
    def has_index_entries(self) -> bool:
        """Any tracked entry changed (so ``git diff HEAD`` has something to count)."""
        return bool(self.changes)

    def short(self) -> list[str]:
        """Every changed and untracked file as ``XY path`` (``??`` untracked), in git's order."""
        return [c.short for c in self.changes] + [
            f"?? {p.decode('utf-8', 'surrogateescape')}" for p in self.untracked
        ]


def parse(out: bytes) -> Porcelain:
    res = Porcelain()
    fields = out.split(b"\0")
    i = 0
    n = len(fields)
    while i < n:
        rec = fields[i]
        i += 1
        if not rec:
            continue
        kind = rec[:2]
        if kind == b"# ":
            key, _, value = rec[2:].partition(b" ")
            if key == b"branch.head":
                res.branch = None if value == b"(detached)" else value.decode("utf-8", "replace")
            elif key == b"branch.oid":
                res.initial = value == b"(initial)"
            elif key == b"branch.ab":
                a, _, b = value.partition(b" ")
                with contextlib.suppress(ValueError):
                    res.ab = (abs(int(a)), abs(int(b)))
        elif kind == b"? ":
            res.untracked.append(rec[2:])
        elif kind == b"! ":
            res.ignored.append(rec[2:])
        elif kind in _FIELDS_BEFORE_PATH:
            before = _FIELDS_BEFORE_PATH[kind]
            parts = rec.split(b" ", before)
            path = parts[before] if len(parts) > before else b""  # malformed: still a change
            res.changes.append(Change(parts[1] if len(parts) > 1 else b"..", path, kind[:1]))
            if kind == b"2 ":
                i += 1  # with -z the original path of a rename/copy is the next field
    return res
