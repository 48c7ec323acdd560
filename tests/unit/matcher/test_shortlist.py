"""The province shortlist: the rule kept incrementally equals the rule from scratch."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.eligibility import pair_ineligibility
from matcher.model import Cooperative, Offer
from matcher.shortlist import (
    CAPACITY_REACHED,
    COOPERATIVE,
    NO_LONGER_ELIGIBLE,
    OFFER,
    OFFER_EXPIRED,
    OFFER_WITHDRAWN,
    Retracted,
    Rule,
    Shortlist,
    Suggested,
    select,
)

AS_OF = date(2026, 6, 1)
RULE = Rule(per_province=2, per_cooperative=1, min_score=50.0, material_change=5.0)
VILLAGES = ["61.01.01.2001", "61.01.02.2002", "61.02.01.2003", "61.03.01.2004"]
COMMODITIES = [(), ("lada",), ("merica",), ("karet",), ("sawit", "karet"), ("kopi",)]
UNITS = [(), ("USP",), ("kios sembako",), ("pengolahan hasil",)]
NEEDS = ["", "ingin menjual lada", "butuh modal kerja", "jual getah karet"]


def cooperative(
    i: int,
    village: int = 0,
    commodities: int = 1,
    units: int = 0,
    needs: int = 0,
    members: int = 50,
) -> Cooperative:
    return Cooperative(
        f"k{i}",
        VILLAGES[village % len(VILLAGES)],
        members,
        business_units=UNITS[units % len(UNITS)],
        commodities=COMMODITIES[commodities % len(COMMODITIES)],
        needs=NEEDS[needs % len(NEEDS)],
    )


OFFERS = [
    Offer("lada", "p1", "offtake", "Pembelian lada", commodities=("lada",)),
    Offer("karet", "p2", "offtake", "Beli getah karet", commodities=("karet",), regions=("61",)),
    Offer(
        "modal",
        "p3",
        "financing",
        "Kredit modal kerja koperasi",
        business_units=("USP",),
        regions=("61.01",),
    ),
    Offer(
        "kopi",
        "p4",
        "offtake",
        "Kopi liberika",
        commodities=("kopi",),
        regions=("61.02",),
        min_members=30,
    ),
    Offer(
        "sembako", "p5", "supply", "Pasokan sembako", business_units=("kios sembako",), capacity=1
    ),
]


def shortlist(reserve: int | None = None) -> Shortlist:
    return Shortlist("61", RULE, AS_OF, reserve)


def assert_matches_scratch(sl: Shortlist, blocked: set, full: set) -> None:
    expected = select(sl.index, RULE, sl.as_of, blocked=blocked, full=full)
    assert sl.selection() == expected
    # What was announced is what is selected, and no selected pair is ineligible.
    assert set(sl.published) == set(expected)
    for (key, cid), published in sl.published.items():
        offer, coop = sl.index.offer(key), sl.index.cooperative(cid)
        assert offer is not None and coop is not None
        assert pair_ineligibility(offer, coop) is None
        assert abs(published.score - expected[(key, cid)][0]) < RULE.material_change
        assert published.basis == expected[(key, cid)][1]
    # What ranks are announced from is current: each offer's suggested pairs, best first.
    ranked: dict[str, list[tuple[float, str]]] = {}
    for (key, cid), (score, _) in expected.items():
        ranked.setdefault(key, []).append((-score, cid))
    assert sl._ranked == {key: sorted(entries) for key, entries in ranked.items()}


def test_offer_reaches_its_best_in_province_and_each_cooperative_its_best_offer() -> None:
    sl = shortlist()
    for i in range(6):
        sl.upsert_cooperative(cooperative(i, village=i, commodities=1 + (i % 2)))
    sl.upsert_offer(OFFERS[0])
    events = sl.settle()
    suggested = [e for e in events if isinstance(e, Suggested)]
    # Six cooperatives with lada: the offer's best two by the offer, every one by itself.
    assert {e.cooperative_id for e in suggested} == {f"k{i}" for i in range(6)}
    by_offer = [e for e in suggested if OFFER in e.basis]
    assert len(by_offer) == 2 and sorted(e.rank for e in by_offer) == [1, 2]
    assert all(COOPERATIVE in e.basis for e in suggested)
    assert_matches_scratch(sl, set(), set())
    # Replaying the same state announces nothing.
    sl.upsert_offer(OFFERS[0])
    for i in range(6):
        sl.upsert_cooperative(cooperative(i, village=i, commodities=1 + (i % 2)))
    assert sl.settle() == []


def test_other_provinces_are_not_this_ones() -> None:
    sl = shortlist()
    sl.upsert_cooperative(Cooperative("jatim", "35.01.01.2001", 50, commodities=("lada",)))
    sl.upsert_offer(replace(OFFERS[0], regions=("35",)))
    assert sl.settle() == []
    assert sl.index.cooperative_count == 0 and sl.index.offer_count == 0


def test_withdrawal_expiry_and_region_change_retract_with_reasons() -> None:
    sl = shortlist()
    sl.upsert_cooperative(cooperative(1))
    sl.upsert_offer(OFFERS[0])
    sl.upsert_offer(replace(OFFERS[1], commodities=("lada",), valid_until=AS_OF))
    sl.upsert_offer(replace(OFFERS[2], commodities=("lada",), business_units=()))
    sl.settle()
    assert len(sl.published) == 3
    sl.upsert_offer(replace(OFFERS[0], withdrawn=True))
    sl.upsert_offer(replace(OFFERS[2], commodities=("lada",), business_units=(), regions=("35",)))
    sl.set_date(AS_OF + timedelta(days=1))
    reasons = {e.offer_key: e.reason for e in sl.settle() if isinstance(e, Retracted)}
    assert reasons == {
        OFFERS[0].key: OFFER_WITHDRAWN,
        OFFERS[1].key: OFFER_EXPIRED,
        OFFERS[2].key: NO_LONGER_ELIGIBLE,
    }


def test_capacity_bounds_approvals_and_a_reopened_approval_brings_them_back() -> None:
    sl = shortlist()
    for i in range(3):
        sl.upsert_cooperative(cooperative(i, units=2, commodities=0))
    sembako = OFFERS[4]
    sl.upsert_offer(sembako)
    sl.settle()
    # Capacity 1 bounds approvals, not suggestions: three are suggested.
    assert {cid for key, cid in sl.published if key == sembako.key} == {"k0", "k1", "k2"}
    score = sl.published[(sembako.key, "k0")].score
    sl.approved(sembako.key, "k0")
    sl.set_approvals(sembako.key, 1)
    events = sl.settle()
    assert {(e.cooperative_id, e.reason) for e in events if isinstance(e, Retracted)} == {
        ("k1", CAPACITY_REACHED),
        ("k2", CAPACITY_REACHED),
    }
    assert not any(isinstance(e, Retracted) and e.cooperative_id == "k0" for e in events)
    sl.reopened(sembako.key, "k0", score, 1)
    sl.set_approvals(sembako.key, 0)
    back = {e.cooperative_id for e in sl.settle() if isinstance(e, Suggested) and e.announce}
    assert back == {"k1", "k2"}
    assert_matches_scratch(sl, set(), set())


def test_a_rejection_stands_until_something_that_matters_changes() -> None:
    sl = shortlist()
    sl.upsert_cooperative(cooperative(1, members=30))
    sl.upsert_offer(OFFERS[0])
    sl.settle()
    score = sl.published[(OFFERS[0].key, "k1")].score
    sl.rejected(OFFERS[0].key, "k1", score)
    assert sl.settle() == []
    sl.upsert_cooperative(cooperative(1, members=31))  # not what the match is about
    assert sl.settle() == []
    sl.upsert_cooperative(cooperative(1, members=31, units=3))  # a new business unit
    events = sl.settle()
    assert [e.cooperative_id for e in events if isinstance(e, Suggested)] == ["k1"]
    assert sl.lapsed_rejections() == [(OFFERS[0].key, "k1")]


# -- properties ---------------------------------------------------------------------------

coop_change = st.tuples(
    st.just("coop"),
    st.integers(0, 7),
    st.integers(0, 3),
    st.integers(0, 5),
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from([10, 29, 30, 31, 50, 200]),  # around the kopi offer's floor of 30
)
offer_change = st.tuples(
    st.just("offer"), st.integers(0, len(OFFERS) - 1), st.booleans(), st.integers(0, 2)
)
decision = st.tuples(
    st.just("decide"),
    st.integers(0, len(OFFERS) - 1),
    st.integers(0, 7),
    st.sampled_from(["approved", "rejected", "reopened"]),
)
other = st.one_of(
    st.tuples(st.just("remove"), st.integers(0, 7)),
    st.tuples(st.just("day"), st.integers(0, 3)),
    st.tuples(st.just("settle")),
)
steps = st.lists(st.one_of(coop_change, offer_change, decision, other), max_size=40)


@settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.sampled_from([None, 0, 1, 2]))
def test_incremental_equals_from_scratch(steps: list[tuple], reserve: int | None) -> None:
    """``reserve``: entries kept beyond each offer's best (the default holds every candidate
    of these small provinces; 0 to 2 run dry)."""
    sl = shortlist(reserve)
    blocked: dict[tuple[str, str], str] = {}  # pair -> approved | rejected
    approvals: dict[str, int] = {}
    # Events, and decisions as (pair, the score it is pending at again, or None).
    announced: list[Suggested | Retracted | tuple[tuple[str, str], float | None]] = []
    for step in steps:
        kind = step[0]
        if kind == "coop":
            _, i, village, commodities, units, needs, members = step
            sl.upsert_cooperative(cooperative(i, village, commodities, units, needs, members))
        elif kind == "remove":
            sl.remove_cooperative(f"k{step[1]}")
        elif kind == "offer":
            _, o, withdrawn, expiry = step
            valid = None if expiry == 0 else AS_OF + timedelta(days=expiry - 1)
            sl.upsert_offer(replace(OFFERS[o], withdrawn=withdrawn, valid_until=valid))
        elif kind == "day":
            sl.set_date(AS_OF + timedelta(days=step[1]))
        elif kind == "decide":
            _, o, i, what = step
            key, cid = OFFERS[o].key, f"k{i}"
            pair = (key, cid)
            if what == "reopened" and pair in blocked:
                if blocked.pop(pair) == "approved":
                    approvals[key] -= 1
                    sl.set_approvals(key, approvals[key])
                sl.reopened(key, cid, 60.0, 1)
                announced.append((pair, 60.0))  # pending again, as stored
            elif what != "reopened" and pair in sl.published:  # only suggestions are decided
                if what == "approved":
                    offer = sl.index.offer(key)
                    if (
                        offer
                        and offer.capacity is not None
                        and approvals.get(key, 0) >= offer.capacity
                    ):
                        continue  # refused: beyond capacity
                    sl.approved(key, cid)
                    approvals[key] = approvals.get(key, 0) + 1
                    sl.set_approvals(key, approvals[key])
                else:
                    sl.rejected(key, cid, sl.published[pair].score)
                blocked[pair] = what
                announced.append((pair, None))  # decided: no longer a suggestion
        announced += sl.settle()
        for pair in sl.lapsed_rejections():
            blocked.pop(pair, None)
    full = {key for key in approvals if sl.is_full(key)}
    assert_matches_scratch(sl, set(blocked), full)
    # Every announcement changes something: a pair is never suggested twice in a row at
    # the same score, nor retracted when it was not suggested. A decision ends a
    # suggestion (a rejection may lapse, and the pair be suggested again at any score) and
    # a reopened one is pending again.
    state: dict[tuple[str, str], float] = {}
    for event in announced:
        if isinstance(event, tuple):
            decided, pending = event
            state.pop(decided, None)
            if pending is not None:
                state[decided] = pending
            continue
        pair = (event.offer_key, event.cooperative_id)
        if isinstance(event, Retracted):
            assert pair in state
            del state[pair]
        elif event.announce:
            assert pair not in state or abs(state[pair] - event.score) >= RULE.material_change
            state[pair] = event.score


def test_a_member_count_change_moves_nothing_unless_it_crosses_an_offers_floor() -> None:
    sl = shortlist()
    sl.upsert_offer(OFFERS[3])  # kopi in 61.02, at least 30 members
    sl.upsert_cooperative(cooperative(1, village=2, commodities=5, members=40))
    first = sl.settle()
    assert [(e.offer_key, e.cooperative_id) for e in first] == [("p4/kopi", "k1")]
    for members in (41, 35, 30):  # still at or above the floor: nothing to recompute
        sl.upsert_cooperative(cooperative(1, village=2, commodities=5, members=members))
        assert sl.settle() == []
    current = sl.index.cooperative("k1")
    assert current is not None and current.member_count == 30  # the value itself is current
    sl.upsert_cooperative(cooperative(1, village=2, commodities=5, members=29))
    assert sl.settle() == [Retracted("p4/kopi", "k1", NO_LONGER_ELIGIBLE)]
    sl.upsert_cooperative(cooperative(1, village=2, commodities=5, members=31))
    (back,) = sl.settle()
    assert isinstance(back, Suggested) and back.cooperative_id == "k1"


def test_a_member_that_falls_behind_an_outsider_gives_up_its_place() -> None:
    sl = shortlist()
    sl.upsert_cooperative(cooperative(0, commodities=1, needs=1))  # lada, wants to sell it
    sl.upsert_cooperative(cooperative(1, commodities=1, needs=3))
    sl.upsert_cooperative(cooperative(2, commodities=1, needs=2))
    sl.upsert_offer(OFFERS[0])
    sl.settle()
    by_offer = {cid for (key, cid), p in sl.published.items() if OFFER in p.basis}
    assert by_offer == {"k0", "k1"}
    sl.upsert_cooperative(cooperative(0, commodities=1, units=3, needs=2))  # falls, still >= 50
    sl.settle()
    by_offer = {cid for (key, cid), p in sl.published.items() if OFFER in p.basis}
    assert by_offer == {"k1", "k2"}
    assert_matches_scratch(sl, set(), set())


def test_a_fallen_member_is_replaced_from_the_reserve_until_it_runs_dry() -> None:
    """Two selected, one in reserve: the first to fall behind an outsider leaves without
    the province being scored again; the second leaves the reserve empty, and the province
    is scored again, which finds the outsider."""
    sl = shortlist(reserve=1)

    def provinces_scored() -> int:
        """Settle; how many times an offer's best were searched for in the province."""
        index = sl.index
        with patch.object(index, "best_cooperatives", wraps=index.best_cooperatives) as spy:
            sl.settle()
        return spy.call_count

    # Lada sellers: k0 > k1 > k2 > k3; k3 is beyond the two selected and the one in reserve.
    for i, (units, needs) in enumerate([(0, 1), (1, 1), (2, 1), (0, 3)]):
        sl.upsert_cooperative(cooperative(i, units=units, needs=needs))
    sl.upsert_offer(OFFERS[0])
    assert provinces_scored() == 1
    assert _by_offer(sl) == {"k0", "k1"}

    sl.upsert_cooperative(cooperative(0, units=0, needs=0))  # falls behind k3, still >= 50
    assert provinces_scored() == 0  # the reserve said who comes next
    assert _by_offer(sl) == {"k1", "k2"}
    assert_matches_scratch(sl, set(), set())

    sl.upsert_cooperative(cooperative(1, units=1, needs=0))  # falls behind k3 too
    assert provinces_scored() == 1  # the reserve ran dry: the province again
    assert _by_offer(sl) == {"k2", "k3"}
    assert_matches_scratch(sl, set(), set())


def _by_offer(sl: Shortlist) -> set[str]:
    return {cid for (_, cid), p in sl.published.items() if OFFER in p.basis}
