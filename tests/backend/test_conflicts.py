"""``conflicts.pairs``: overlaps within a repo only, both directions, the default branch last."""

from __future__ import annotations

from backend.conflicts import Survey, pairs
from backend.models import Workspace


def ws(wid: str, repo: str = "proj") -> Workspace:
    return Workspace(id=wid, repo=f"/src/{repo}", repo_name=repo, branch=wid, path=f"/w/{wid}")


def test_overlaps_are_within_one_repo_and_go_both_ways() -> None:
    live = {w.id: w for w in [ws("proj-001"), ws("proj-002"), ws("proj-003"), ws("lib-001", "lib")]}
    surveys = {
        "proj-001": Survey(frozenset({"a.py", "b.py"}), ("a.py",)),
        "proj-002": Survey(frozenset({"b.py", "c.py"}), ()),
        "proj-003": Survey(frozenset({"z.py"}), ()),
        "lib-001": Survey(frozenset({"a.py", "b.py"}), ()),  # same names, another repo
    }
    assert pairs(live, surveys) == {
        "proj-001": [{"with": "proj-002", "files": ["b.py"]}, {"with": "base", "files": ["a.py"]}],
        "proj-002": [{"with": "proj-001", "files": ["b.py"]}],
    }


def test_a_gone_workspace_is_no_one_s_conflict() -> None:
    surveys = {
        "proj-001": Survey(frozenset({"a.py"}), ()),
        "proj-002": Survey(frozenset({"a.py"}), ("a.py",)),
    }
    assert pairs({"proj-001": ws("proj-001")}, surveys) == {}
