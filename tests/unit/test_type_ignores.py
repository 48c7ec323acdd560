"""A type-ignore comment names the error it silences and says why.

mypy (``.ci/run``) already refuses one without an error code (``ignore-without-code``) and
one that silences nothing (``warn_unused_ignores``); the reason is for the reader: beside
the comment (``# type: ignore[code]  # why``) or in a comment on the line above.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("matcher", "schemas", "services", "benchmarks", "tests")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[^\]]+\])?(?P<rest>.*)")


def _comments(source: str) -> dict[int, str]:
    """The comment on each line that has one (from the tokenizer: not inside a string)."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0]: t.string for t in tokens if t.type == tokenize.COMMENT}


def _unexplained(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    comments = _comments(source)
    lines = source.splitlines()
    found = []
    for number, comment in comments.items():
        ignore = IGNORE.search(comment)
        if ignore is None:
            continue
        reason_beside = ignore["rest"].strip().lstrip("#").strip()
        line_above = lines[number - 2].strip() if number > 1 else ""
        reason_above = line_above.startswith("#") and number - 1 in comments
        if ignore["codes"] is None or not (reason_beside or reason_above):
            found.append(f"{path.relative_to(ROOT)}:{number}: {lines[number - 1].strip()}")
    return found


def test_every_type_ignore_names_its_code_and_a_reason() -> None:
    unexplained = [
        where
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for where in _unexplained(path)
    ]
    assert not unexplained, "type-ignore without [code] and a reason:\n" + "\n".join(unexplained)
