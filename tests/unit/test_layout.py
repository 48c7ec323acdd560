"""The layout the README and docs/architecture.md show is the repository's: the same tree in
both, and every package of ``services/`` in it (none missing, none made up)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tree(text: str) -> list[str]:
    """The first fenced block whose first line is the ``schemas/`` entry."""
    blocks: list[list[str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
            if inside:
                blocks.append([])
        elif inside:
            blocks[-1].append(line)
    for block in blocks:
        if block and block[0].startswith("schemas/"):
            return block
    raise AssertionError("no folder tree")


def test_readme_and_architecture_show_the_same_tree() -> None:
    readme = tree((ROOT / "README.md").read_text(encoding="utf-8"))
    architecture = tree((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    # The one line that differs: docs/ is "this page" in docs/architecture.md.
    differ = [(a, b) for a, b in zip(readme, architecture, strict=True) if a != b]
    assert [a.split()[0] for a, _ in differ] in ([], ["docs/"])


def test_the_tree_names_every_package_of_services() -> None:
    lines = tree((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    named = {m.group(1) for line in lines if (m := re.match(r"  (\w+)/", line))}
    packages = {p.parent.name for p in (ROOT / "services").glob("*/__init__.py")}
    assert named == packages
