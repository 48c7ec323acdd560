"""Fixtures of the matcher tests (tests/unit/matcher/conftest.py offers them): evaluation sets
(file reading lives here, not in the pure matcher package) and a small seeded synthetic
population."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from matcher.evaluation import EvaluationSet, load_set
from matcher.model import Cooperative, Offer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT / "benchmarks"))


def read_set(name: str) -> EvaluationSet:
    return load_set(json.loads((DATA / f"matcher_eval_{name}.json").read_text("utf-8")))


@pytest.fixture(scope="session")
def dev_set() -> EvaluationSet:
    return read_set("dev")


@pytest.fixture(scope="session")
def heldout_set() -> EvaluationSet:
    return read_set("heldout")


@pytest.fixture(scope="session")
def population() -> tuple[list[Cooperative], list[Offer]]:
    """Every village of Kalimantan Barat and Jawa Tengah's first regencies, with offers."""
    import matcher_synth

    from schemas.regions import region_table

    table = region_table()
    villages = [r.code for r in table.villages("61")] + [r.code for r in table.villages("33.01")]
    return matcher_synth.cooperatives(villages, seed=11), matcher_synth.offers(
        villages, 300, seed=12
    )
