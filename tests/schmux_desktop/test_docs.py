"""The docs are self-contained: every link between them resolves (file and heading), and nothing
in the repository cites a design file that is not in it."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "CHANGES.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    out: set[str] = set()
    for line in path.read_text().splitlines():
        m = re.match(r"#{1,6} (.+)", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            out.add(text.replace(" ", "-"))
    return out


def test_links_between_the_docs_resolve() -> None:
    broken: list[str] = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not ours to check
            file, _, anchor = target.partition("#")
            dest = (doc.parent / file).resolve() if file else doc
            if not dest.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == []


def test_code_links_into_the_docs_resolve() -> None:
    cited = re.compile(r"\b((?:docs/[A-Z-]+|README)\.md)(?:#([a-z0-9-]+))?")
    broken: list[str] = []
    roots = ["backend", "schmux_desktop", "frontend/src", "bench", "scripts", "tests", "docs"]
    for root in roots:
        for path in (REPO / root).rglob("*"):
            if path.suffix not in (".py", ".ts", ".md", ".sh") or "node_modules" in path.parts:
                continue
            for file, anchor in cited.findall(path.read_text(errors="replace")):
                dest = REPO / file
                if not dest.exists():
                    broken.append(f"{path.relative_to(REPO)}: {file} (no such file)")
                elif anchor and anchor not in _anchors(dest):
                    broken.append(f"{path.relative_to(REPO)}: {file}#{anchor} (no such heading)")
    assert broken == []


def test_nothing_cites_a_design_file_outside_the_repository() -> None:
    pattern = re.compile("DESIGN(?:\\.md)? ?§|\\.\\./shared")
    found: list[str] = []
    for root in ["backend", "schmux_desktop", "frontend/src", "bench", "scripts", "docs"]:
        for path in (REPO / root).rglob("*"):
            if (
                path.suffix in (".py", ".ts", ".md", ".sh", ".css", ".html")
                and (
                    "node_modules" not in path.parts
                    and "web" not in path.relative_to(REPO).parts[:2]
                )
                and pattern.search(path.read_text(errors="replace"))
            ):
                found.append(str(path.relative_to(REPO)))
    top = [REPO / "README.md", REPO / "CHANGES.md", REPO / "frontend" / "README.md"]
    found += [p.name for p in top if pattern.search(p.read_text())]
    assert found == []
