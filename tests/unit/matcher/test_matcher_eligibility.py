from dataclasses import replace
from datetime import date

import pytest

from matcher.eligibility import (
    capacity_ineligibility,
    in_region,
    ineligibility,
    is_eligible,
    offer_ineligibility,
    pair_ineligibility,
)
from matcher.index import MatchIndex
from matcher.model import Cooperative, Offer

AS_OF = date(2026, 6, 1)
COOP = Cooperative("c1", "61.12.01.2004", 40, ("USP",), ("sawit",), "butuh modal", 500_000_000)
OFFER = Offer("o1", "bri", "financing", "Kredit modal kerja USP", business_units=("USP",))


@pytest.mark.parametrize(
    ("regions", "inside"),
    [
        ((), True),
        (("61",), True),
        (("61.12",), True),
        (("61.12.01",), True),
        (("61.12.01.2004",), True),
        (("61.1",), False),  # a prefix of the text, not of the code
        (("61.12.01.2",), False),
        (("62", "61.12"), True),
        (("33",), False),
    ],
)
def test_region_containment(regions: tuple[str, ...], inside: bool) -> None:
    assert in_region("61.12.01.2004", regions) is inside
    offer = replace(OFFER, regions=regions)
    assert (pair_ineligibility(offer, COOP) != "outside_region") is inside


def test_min_members() -> None:
    assert pair_ineligibility(replace(OFFER, min_members=41), COOP) == "too_few_members"
    assert pair_ineligibility(replace(OFFER, min_members=40), COOP) is None


def test_financing_range_against_stated_need() -> None:
    assert pair_ineligibility(replace(OFFER, min_amount_idr=600_000_000), COOP) == (
        "financing_need_below_range"
    )
    assert pair_ineligibility(replace(OFFER, max_amount_idr=400_000_000), COOP) == (
        "financing_need_above_range"
    )
    in_range = replace(OFFER, min_amount_idr=500_000_000, max_amount_idr=500_000_000)
    assert pair_ineligibility(in_range, COOP) is None


def test_no_stated_need_is_not_checked_against_the_range() -> None:
    coop = replace(COOP, financing_need_idr=None)
    assert pair_ineligibility(replace(OFFER, min_amount_idr=10**12), coop) is None


def test_validity_date() -> None:
    assert offer_ineligibility(replace(OFFER, valid_until=date(2026, 5, 31)), AS_OF) == (
        "offer_expired"
    )
    assert offer_ineligibility(replace(OFFER, valid_until=AS_OF), AS_OF) is None


def test_withdrawal() -> None:
    assert offer_ineligibility(replace(OFFER, withdrawn=True), AS_OF) == "offer_withdrawn"


def test_capacity() -> None:
    full = replace(OFFER, capacity=2)
    assert capacity_ineligibility(full, holders=2, is_holder=False) == "capacity_full"
    assert capacity_ineligibility(full, holders=2, is_holder=True) is None
    assert capacity_ineligibility(full, holders=1, is_holder=False) is None
    assert ineligibility(full, COOP, AS_OF, holders=2) == "capacity_full"
    assert is_eligible(full, COOP, AS_OF, holders=1)


def test_index_never_returns_an_ineligible_pair() -> None:
    index = MatchIndex()
    coops = [
        COOP,
        replace(COOP, cooperative_id="few", member_count=5),
        replace(COOP, cooperative_id="rich", financing_need_idr=5_000_000_000),
        replace(COOP, cooperative_id="far", village_code="33.01.01.2001"),
    ]
    index.upsert_cooperatives(coops)
    offer = replace(OFFER, regions=("61",), min_members=20, max_amount_idr=3_000_000_000)
    index.upsert_offer(offer)
    assert [m.cooperative_id for m in index.best_cooperatives(offer.key, 10, AS_OF)] == ["c1"]
    for cid in ("few", "rich", "far"):
        assert index.score(offer.key, cid, AS_OF) is None
        assert index.best_offers(cid, 10, AS_OF) == []
    index.upsert_offer(replace(offer, valid_until=date(2026, 1, 1)))
    assert index.best_cooperatives(offer.key, 10, AS_OF) == []
    assert index.best_offers("c1", 10, AS_OF) == []
    assert index.score(offer.key, "c1", AS_OF) is None
