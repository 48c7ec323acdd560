"""Print the matcher's evaluation report on the labelled sets in ``tests/data``.

Run: ``uv run python benchmarks/eval_matcher.py [FILE.json ...]`` (default: both sets).
The file reading lives here; ``matcher.evaluation`` stays pure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from matcher.evaluation import EvaluationSet, evaluate_set, format_report, load_set

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def read_set(path: Path) -> EvaluationSet:
    return load_set(json.loads(path.read_text(encoding="utf-8")))


def main(paths: list[str]) -> int:
    files = [Path(p) for p in paths] or sorted(DATA.glob("matcher_eval_*.json"))
    ok = True
    for path in files:
        report = evaluate_set(read_set(path))
        print(format_report(report), end="\n\n")
        ok = ok and report.meets_targets()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
