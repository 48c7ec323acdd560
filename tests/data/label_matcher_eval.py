"""Derive graded judgments for a matcher evaluation set from its hand-written meanings.

Each cooperative's ``meaning`` lists what it canonically has (units and produce) and what
it needs (``[intent, object or null]``); each offer's ``meaning`` lists the units or produce
a partner should have (``targets``; empty for a generic offer) and its intent is its
``offer_type``. The grade is decided from those canonical readings only (never from the
matcher's resolution of the typed text), then written to ``judgments`` in the file:

    3  has a target and states a need of the offer's intent (generic offer: the need alone)
    2  has a target, or states a need of the offer's intent for a target
    1  states a need of the offer's intent only (generic offer: anyone eligible)
    0  otherwise, and every pair that breaks a hard eligibility rule

Run: ``uv run python tests/data/label_matcher_eval.py tests/data/matcher_eval_*.json``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from matcher.eligibility import ineligibility
from matcher.evaluation import load_set


def grade(offer: dict, coop: dict) -> int:
    targets = set(offer["meaning"]["targets"])
    has = set(coop["meaning"]["has"])
    needs = [tuple(n) for n in coop["meaning"]["needs"]]
    intent = offer["offer_type"]
    need_intent = any(i == intent for i, _ in needs)
    need_target = any(i == intent and o in targets for i, o in needs)
    if not targets:
        return 3 if need_intent else 1
    if has & targets and need_intent:
        return 3
    if has & targets or need_target:
        return 2
    return 1 if need_intent else 0


def dump(raw: dict) -> str:
    """JSON with one cooperative, offer or judgment a line: reviewable in a diff."""
    parts = []
    for key, value in raw.items():
        if isinstance(value, list):
            items = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f"{json.dumps(key)}: [\n{items}\n ]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def label(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    parsed = load_set(raw)
    coops = {c.cooperative_id: c for c in parsed.cooperatives}
    offers = {o.offer_id: o for o in parsed.offers}
    judgments = []
    for o in raw["offers"]:
        for c in raw["cooperatives"]:
            offer, coop = offers[o["offer_id"]], coops[c["cooperative_id"]]
            if ineligibility(offer, coop, parsed.as_of) is not None:
                continue
            g = grade(o, c)
            if g:
                judgments.append(
                    {"offer": offer.key, "cooperative": coop.cooperative_id, "grade": g}
                )
    raw["judgments"] = judgments
    path.write_text(dump(raw), encoding="utf-8")
    print(f"{path}: {len(judgments)} graded pairs")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        label(Path(arg))
