"""CooperativeColumns (the batch ranking of ``kopdes-match score``) against scoring every
pair one by one through the index."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

import matcher.batch as batch_module
from matcher.batch import CooperativeColumns
from matcher.index import MatchIndex
from matcher.model import Cooperative, Match, Offer

AS_OF = date(2026, 6, 1)
REGENCIES = ("61.04", "61.71", "33.01")


def one_by_one(
    index: MatchIndex, offer: Offer, ids: list[str], k: int, min_score: float
) -> list[Match]:
    """Every pair scored on its own: the k best eligible ones, by Match.sort_key."""
    matches = [index.score(offer.key, cid, AS_OF) for cid in ids]
    kept = [m for m in matches if m is not None and m.score >= min_score]
    return sorted(kept, key=lambda m: m.sort_key)[:k]


@pytest.fixture(scope="module")
def batch(population) -> tuple[list[Cooperative], list[Offer]]:
    """A few regencies' cooperatives, with odd ones added, and offers at every level."""
    coops, offers = population
    coops = [c for c in coops if c.village_code[:5] in REGENCIES]
    first = coops[0]
    coops += [
        # Typed exactly like another, under another id: equal scores, ranked by id.
        dataclasses.replace(first, cooperative_id="aaa-twin"),
        # Nothing to compare: no unit, commodity or need, so no free text either.
        dataclasses.replace(
            first, cooperative_id="empty", business_units=(), commodities=(), needs=""
        ),
        # A member count beyond 64 bits (the contract sets no upper bound).
        dataclasses.replace(first, cooperative_id="huge", member_count=10**30),
    ]
    offers = [o for o in offers if not o.regions or any(r[:2] in ("61", "33") for r in o.regions)]
    offers += [
        # Overlapping and repeated regions, and a member floor beyond 64 bits.
        dataclasses.replace(
            offers[0],
            offer_id="overlap",
            regions=("61", "61.04", "61.04", "33.01.01"),
            valid_until=None,
        ),
        dataclasses.replace(
            offers[0], offer_id="huge-floor", regions=(), min_members=10**29, valid_until=None
        ),
    ]
    return coops, offers


@pytest.mark.parametrize("bounded_run", [256, 1])
@pytest.mark.parametrize(("k", "min_score"), [(10, 50.0), (3, 0.0), (1, 65.0)])
def test_equals_scoring_every_pair(
    batch, k: int, min_score: float, bounded_run: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with every run's free text bounded first, in chunks of one and up."""
    monkeypatch.setattr(batch_module, "BOUNDED_RUN", bounded_run)
    monkeypatch.setattr(batch_module, "FIRST_CHUNK", 1)
    coops, offers = batch
    index = MatchIndex()
    index.upsert_cooperatives(coops)
    index.upsert_offers(offers)
    columns = CooperativeColumns(coops)
    ids = [c.cooperative_id for c in coops]
    ranked = 0
    for offer in offers:
        expected = one_by_one(index, offer, ids, k, min_score)
        assert columns.best_cooperatives(offer, k, AS_OF, min_score=min_score) == expected
        ranked += bool(expected)
    assert ranked > len(offers) // 4  # the comparison is not between empty lists


def test_ties_and_limits_are_covered(batch) -> None:
    """The set above holds what makes the comparison worth it: offers with more
    cooperatives at the same score than k, expired offers, the odd cooperatives ranked."""
    coops, offers = batch
    columns = CooperativeColumns(coops)
    huge = next(o for o in offers if o.offer_id == "huge-floor")
    assert [m.cooperative_id for m in columns.best_cooperatives(huge, 5, AS_OF)] == ["huge"]
    assert any(o.valid_until is not None and o.valid_until < AS_OF for o in offers)
    tied = 0
    for offer in offers:
        scores = [m.score for m in columns.best_cooperatives(offer, 10, AS_OF)]
        tied += len(scores) != len(set(scores))
    assert tied > 10


def test_an_empty_batch_ranks_nothing(batch) -> None:
    _, offers = batch
    assert CooperativeColumns([]).best_cooperatives(offers[0], 10, AS_OF) == []
