"""Dependencies flow one way: the entry points (cli, which starts the demo, which like ``run``
assembles a pipeline) -> the stages (ingest, matching, review, notify) -> platform and
storage -> schemas and matcher. No stage imports another, matcher/ and schemas/ import
nothing of services/. Read from the source with ``ast``.

The move into this layout is not finished (issue "A house that shows the pipeline"): the
imports that still run against the flow are listed in ``NOT_YET``, so that none is added
and each one removed must be taken off the list (the test fails on a stale entry too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The command line starts the demo; both assemble their process with services.pipeline.
ENTRY = {"services", "services.__main__", "services.cli"}
STAGES = {"services.ingest", "services.matching", "services.review", "services.notify"}
# Platform stands on storage (the outbox is a table); storage stands on nothing of ours.
BASE = {"services.storage"}
CORE = {"schemas", "matcher"}
LEVEL: dict[str, float] = {
    **dict.fromkeys(ENTRY, 4),
    "services.demo": 3,
    "services.pipeline": 2.5,
    **dict.fromkeys(STAGES, 2),
    "services.platform": 1.5,
    **dict.fromkeys(BASE, 1),
    **dict.fromkeys(CORE, 0),
}
# (importer, imported) groups still against the flow, until they move.
NOT_YET: set[tuple[str, str]] = set()


def group(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] in CORE:
        return parts[0]
    if parts[0] != "services":
        return None
    return ".".join(parts[:2])


def imports() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for package in ("services", "matcher", "schemas"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            source = group(module.removesuffix(".__init__"))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    target = group(name)
                    if source and target and target != source:
                        found.add((source, target))
    return found


def test_every_group_has_a_level() -> None:
    groups = {g for edge in imports() for g in edge}
    assert groups <= LEVEL.keys(), groups - LEVEL.keys()


def test_dependencies_flow_one_way() -> None:
    edges = imports()
    against = {
        (a, b)
        for a, b in edges
        if LEVEL[a] < LEVEL[b] or (LEVEL[a] == LEVEL[b] and LEVEL[a] in (0, 2))
    }
    against |= {(a, b) for a, b in edges if LEVEL[a] == LEVEL[b] == 1 and (b, a) in edges}
    assert against - NOT_YET == set(), "imports against the flow"
    assert NOT_YET - against == set(), "moved already: take them off NOT_YET"


def module_imports() -> dict[str, set[str]]:
    """Each of our modules -> ours it imports when it is loaded (module level)."""
    paths = {}
    for package in ("services", "matcher", "schemas"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                paths[name.removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue  # an import inside a function or under TYPE_CHECKING runs later
            edges[name] |= {t for t in targets if t in paths and t != name}
    return edges


def test_no_import_cycles() -> None:
    edges = module_imports()
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for target in sorted(edges[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(edges):
        visit(module)
