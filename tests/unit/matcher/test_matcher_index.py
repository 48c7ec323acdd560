import random
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from matcher.eligibility import offer_ineligibility, pair_ineligibility
from matcher.index import MatchIndex
from matcher.model import Cooperative, Offer
from matcher.profile import coop_terms, offer_terms
from matcher.scoring import (
    SUGGESTION_THRESHOLD,
    offer_weights,
    score_pair,
    term_scores,
    text_score,
    total,
    weighted_terms,
)

AS_OF = date(2026, 6, 1)
LADA = Offer(
    "o1", "lada-co", "offtake", "Pembelian lada", commodities=("merica",), regions=("61.01",)
)


def coop(cid: str, village: str = "61.01.01.2001", **kw: Any) -> Cooperative:
    return Cooperative(cid, village, 50, **kw)


def ids(matches: list) -> list[str]:
    return [m.cooperative_id for m in matches]


def suggest(index: MatchIndex, key: str = LADA.key) -> list:
    return index.best_cooperatives(key, 10, AS_OF, min_score=SUGGESTION_THRESHOLD)


@pytest.fixture
def index() -> MatchIndex:
    ix = MatchIndex()
    ix.upsert_cooperative(coop("a", commodities=("lada",), needs="ingin menjual lada"))
    ix.upsert_cooperative(coop("b", "61.01.01.2002", commodities=("sahang",)))
    ix.upsert_cooperative(coop("c", "61.01.01.2003", commodities=("karet",)))
    ix.upsert_cooperative(coop("far", "61.12.01.2001", commodities=("lada",)))
    ix.upsert_offer(LADA)
    return ix


def test_add(index: MatchIndex) -> None:
    assert index.cooperative_count == 4
    assert index.offer_count == 1
    assert index.offer(LADA.key) == LADA
    assert index.cooperative("a") is not None
    assert index.candidate_cooperatives(LADA.key) == {"a", "b"}
    assert ids(suggest(index)) == ["a", "b"]
    # With min_score 0 every eligible pair is ranked, "c" (karet) last.
    assert ids(index.best_cooperatives(LADA.key, 10, AS_OF)) == ["a", "b", "c"]
    index.upsert_cooperative(coop("d", "61.01.01.2004", commodities=("lada hitam",)))
    assert "d" in ids(suggest(index))


def test_change_cooperative_moves_its_postings(index: MatchIndex) -> None:
    index.upsert_cooperative(coop("b", "61.01.01.2002", commodities=("karet",)))
    assert index.cooperative_count == 4
    assert "b" not in index.candidate_cooperatives(LADA.key)
    index.upsert_cooperative(coop("c", "61.01.01.2003", commodities=("lada",)))
    assert ids(suggest(index)) == ["a", "c"]


def test_change_offer_region_and_terms(index: MatchIndex) -> None:
    moved = replace(LADA, regions=("61.12",))
    index.upsert_offer(moved)
    assert index.offer_count == 1
    assert ids(index.best_cooperatives(LADA.key, 10, AS_OF)) == ["far"]  # only one in 61.12
    assert index.best_offers("a", 10, AS_OF) == []
    assert [m.offer_key for m in index.best_offers("far", 10, AS_OF)] == [LADA.key]
    index.upsert_offer(
        replace(moved, commodities=("karet",), title="Pembelian karet", regions=("61.01",))
    )
    # "a" still shares the offtake intent (it wants to sell lada), "b" nothing: both low.
    assert ids(index.best_cooperatives(LADA.key, 10, AS_OF)) == ["c", "a", "b"]
    assert ids(suggest(index)) == ["c"]


def test_withdraw(index: MatchIndex) -> None:
    index.upsert_offer(replace(LADA, withdrawn=True))
    assert index.best_cooperatives(LADA.key, 10, AS_OF) == []
    assert index.best_offers("a", 10, AS_OF) == []
    index.remove_offer(LADA.key)
    assert index.offer(LADA.key) is None
    assert index.offer_count == 0
    assert index.candidate_offers("a") == set()
    assert index._offer_postings == {}  # nothing left behind
    index.remove_offer(LADA.key)  # idempotent


def test_remove_cooperative(index: MatchIndex) -> None:
    index.remove_cooperative("a")
    assert index.cooperative("a") is None
    assert ids(suggest(index)) == ["b"]
    for name in ("a", "b", "c", "far"):
        index.remove_cooperative(name)
    assert index._coop_postings == {}
    assert index.cooperative_count == 0


def test_score_of_one_pair(index: MatchIndex) -> None:
    m = index.score(LADA.key, "a", AS_OF)
    assert m is not None
    cooperative = index.cooperative("a")
    assert cooperative is not None
    assert m == score_pair(LADA, cooperative)
    assert index.score(LADA.key, "far", AS_OF) is None  # outside the region
    assert index.score("nobody/none", "a", AS_OF) is None
    assert index.score(LADA.key, "nobody", AS_OF) is None


def test_k_min_score_and_exclude(index: MatchIndex) -> None:
    assert ids(index.best_cooperatives(LADA.key, 1, AS_OF)) == ["a"]
    assert index.best_cooperatives(LADA.key, 0, AS_OF) == []
    assert index.best_cooperatives(LADA.key, 10, AS_OF, min_score=101) == []
    assert index.best_offers("a", 10, AS_OF, exclude={LADA.key}) == []


def test_generic_offer_reaches_every_cooperative_in_its_region(index: MatchIndex) -> None:
    training = Offer("t1", "ngo", "training", "Program untuk koperasi", regions=("61.01.01",))
    index.upsert_offer(training)
    assert index.candidate_cooperatives(training.key) == {"a", "b", "c"}
    index.upsert_cooperative(coop("n", "61.01.01.2005", needs="pelatihan pembukuan"))
    best = index.best_cooperatives(training.key, 10, AS_OF, min_score=SUGGESTION_THRESHOLD)
    assert ids(best) == ["n"]
    assert training.key in [m.offer_key for m in index.best_offers("n", 10, AS_OF)]


def test_ties_are_broken_by_ids_whatever_the_insertion_order() -> None:
    rows = [coop(f"c{i:02d}", f"61.01.01.20{i:02d}", commodities=("lada",)) for i in range(12)]
    offers = [replace(LADA, partner_id=p) for p in ("zeta", "alpha", "mid")]
    results = []
    for seed in range(3):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        ix = MatchIndex()
        ix.upsert_cooperatives(shuffled)
        ix.upsert_offers(offers)
        best = ix.best_cooperatives(offers[0].key, 5, AS_OF)
        assert len({m.score for m in best}) == 1
        results.append((ids(best), [m.partner_id for m in ix.best_offers("c03", 2, AS_OF)]))
    assert results[0] == results[1] == results[2]
    assert results[0] == (["c00", "c01", "c02", "c03", "c04"], ["alpha", "mid"])


def _brute(
    offer: Offer, coops: list[Cooperative], min_score: float = SUGGESTION_THRESHOLD
) -> list[tuple[float, str]]:
    """Score every eligible pair, no index: the reference for recall."""
    ot = offer_terms(offer)
    weights = offer_weights(ot)
    out = []
    for c in coops:
        if pair_ineligibility(offer, c):
            continue
        ct = coop_terms(c)
        s = total(weights, weighted_terms(weights, term_scores(ot, ct)), text_score(ot, ct))
        if s >= min_score:
            out.append((-s, c.cooperative_id))
    return sorted(out)


def test_recall_against_scoring_every_pair(population) -> None:
    coops, offers = population
    ix = MatchIndex()
    ix.upsert_cooperatives(coops)
    ix.upsert_offers(offers)
    live = [o for o in offers if offer_ineligibility(o, AS_OF) is None][:80]
    relevant = found = scored = 0
    for offer in live:
        brute = _brute(offer, coops)
        candidates = ix.candidate_cooperatives(offer.key)
        scored += len(candidates)
        relevant += len(brute)
        found += sum(cid in candidates for _, cid in brute)
        best = ix.best_cooperatives(offer.key, 10, AS_OF, min_score=SUGGESTION_THRESHOLD)
        assert [(-m.score, m.cooperative_id) for m in best] == brute[:10]
    assert relevant > 1000  # the check means something
    assert found == relevant  # recall 1.0
    assert scored < 0.25 * len(live) * len(coops)  # while scoring far fewer than every pair


def test_best_offers_equal_brute_force(population) -> None:
    coops, offers = population
    ix = MatchIndex()
    ix.upsert_cooperatives(coops)
    ix.upsert_offers(offers)
    for c in coops[::60]:
        expected = sorted(
            m.sort_key
            for o in offers
            if offer_ineligibility(o, AS_OF) is None
            and pair_ineligibility(o, c) is None
            and (m := score_pair(o, c)).score >= SUGGESTION_THRESHOLD
        )[:10]
        got = ix.best_offers(c.cooperative_id, 10, AS_OF, min_score=SUGGESTION_THRESHOLD)
        assert [m.sort_key for m in got] == expected


def test_any_min_score_equals_scoring_every_eligible_pair(population) -> None:
    """min_score 0 needs every stage, the no-overlap one included: compare against
    scoring every eligible pair in both directions."""
    coops, offers = population
    ix = MatchIndex()
    ix.upsert_cooperatives(coops)
    ix.upsert_offers(offers)
    rare = Offer("rare", "p", "offtake", "Pembelian vanili", commodities=("madu kelulut",))
    national = replace(offers[0], offer_id="nat", regions=(), valid_until=None)
    local = Offer("local", "p", "training", "Sekolah lapang", regions=("61.01.01",))
    for offer in (rare, national, local):
        ix.upsert_offer(offer)
    live = [o for o in offers if offer_ineligibility(o, AS_OF) is None][:12]
    for offer in [rare, national, local, *live]:
        expected = _brute(offer, coops, min_score=0.0)[:10]
        got = ix.best_cooperatives(offer.key, 10, AS_OF)
        assert [(-m.score, m.cooperative_id) for m in got] == expected
    all_offers = [*offers, rare, national, local]
    for c in coops[::240]:
        expected_keys = sorted(
            m.sort_key
            for o in all_offers
            if offer_ineligibility(o, AS_OF) is None
            and pair_ineligibility(o, c) is None
            and (m := score_pair(o, c))
        )[:10]
        got = ix.best_offers(c.cooperative_id, 10, AS_OF)
        assert [m.sort_key for m in got] == expected_keys


def test_pair_scores_follow_changes_of_either_side(index: MatchIndex) -> None:
    """pair_score is kept per pair; a change of the cooperative, the offer or the date
    gives the score computed afresh, never the kept one."""

    def fresh(cooperative_id: str) -> float | None:
        offer, cooperative = index.offer(LADA.key), index.cooperative(cooperative_id)
        assert offer is not None and cooperative is not None
        m = score_pair(offer, cooperative)
        return m.score if m else None

    before = index.pair_score(LADA.key, "b", AS_OF)
    assert before == fresh("b")
    index.upsert_cooperative(
        coop("b", "61.01.01.2002", commodities=("sahang",), needs="ingin menjual lada")
    )
    assert index.pair_score(LADA.key, "b", AS_OF) == fresh("b") != before
    index.upsert_offer(replace(LADA, commodities=("karet",), title="Pembelian karet"))
    assert index.pair_score(LADA.key, "b", AS_OF) == fresh("b")
    assert index.pair_score(LADA.key, "c", AS_OF) == fresh("c")
    index.upsert_offer(replace(LADA, valid_until=date(2026, 6, 30)))
    assert index.pair_score(LADA.key, "a", AS_OF) is not None
    assert index.pair_score(LADA.key, "a", date(2026, 7, 1)) is None  # expired by then
    index.remove_cooperative("a")
    assert index.pair_score(LADA.key, "a", AS_OF) is None
    index.remove_offer(LADA.key)
    assert index.pair_score(LADA.key, "b", AS_OF) is None
