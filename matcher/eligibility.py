"""Hard eligibility rules. A pair that breaks one is never suggested, whatever its score."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from matcher.model import Cooperative, Offer


def in_region(village_code: str, regions: Iterable[str]) -> bool:
    """Whether a village lies inside any of the regions; no regions means all of Indonesia."""
    regions = tuple(regions)
    if not regions:
        return True
    if len(regions) == 1:
        region = regions[0]
        return village_code == region or village_code.startswith(region + ".")
    # Several regions: look the village's own code and each of its ancestors' ("11",
    # "11.01", "11.01.01") up in a set, instead of building a prefix per region per pair.
    codes = _region_set(regions)
    if village_code in codes:
        return True
    dot = village_code.find(".")
    while dot != -1:
        if village_code[:dot] in codes:
            return True
        dot = village_code.find(".", dot + 1)
    return False


@lru_cache(maxsize=4096)
def _region_set(regions: tuple[str, ...]) -> frozenset[str]:
    return frozenset(regions)


def is_expired(offer: Offer, as_of: date) -> bool:
    return offer.valid_until is not None and offer.valid_until < as_of


def offer_ineligibility(offer: Offer, as_of: date) -> str | None:
    """Why the offer accepts nobody at all (withdrawn, expired), or None."""
    if offer.withdrawn:
        return "offer_withdrawn"
    if is_expired(offer, as_of):
        return "offer_expired"
    return None


def pair_ineligibility(offer: Offer, coop: Cooperative) -> str | None:
    """Why this cooperative cannot take this offer, for reasons of the pair alone, or None."""
    if not in_region(coop.village_code, offer.regions):
        return "outside_region"
    if offer.min_members is not None and coop.member_count < offer.min_members:
        return "too_few_members"
    need = coop.financing_need_idr
    if need is not None:
        if offer.min_amount_idr is not None and need < offer.min_amount_idr:
            return "financing_need_below_range"
        if offer.max_amount_idr is not None and need > offer.max_amount_idr:
            return "financing_need_above_range"
    return None


def capacity_ineligibility(offer: Offer, holders: int, is_holder: bool) -> str | None:
    """Capacity: at most ``offer.capacity`` cooperatives hold a pending or approved suggestion.

    A cooperative that already holds one keeps its place; ``holders`` counts them all.
    """
    if offer.capacity is not None and not is_holder and holders >= offer.capacity:
        return "capacity_full"
    return None


def ineligibility(
    offer: Offer,
    coop: Cooperative,
    as_of: date,
    *,
    holders: int = 0,
    is_holder: bool = False,
) -> str | None:
    """The first rule the pair breaks, or None when the pair is eligible."""
    return (
        offer_ineligibility(offer, as_of)
        or pair_ineligibility(offer, coop)
        or capacity_ineligibility(offer, holders, is_holder)
    )


def is_eligible(
    offer: Offer, coop: Cooperative, as_of: date, *, holders: int = 0, is_holder: bool = False
) -> bool:
    return ineligibility(offer, coop, as_of, holders=holders, is_holder=is_holder) is None
