"""Provisional scorer: fuzzy overlap of business units and commodities, offer type vs needs.

Replaced by the Indonesian-aware scorer of the matcher issue; the signature stays.
"""

from __future__ import annotations

from rapidfuzz import fuzz

from matcher.model import Component, Cooperative, Match, Offer

WEIGHTS = {"business_unit": 0.4, "commodity": 0.4, "text": 0.2}


def _best_overlap(wanted: tuple[str, ...], have: tuple[str, ...]) -> tuple[float, str]:
    best, detail = 0.0, ""
    for w in wanted:
        for h in have:
            s = fuzz.token_set_ratio(w.lower(), h.lower())
            if s > best:
                best, detail = s, f"{h!r} ~ {w!r}"
    return best, detail


def score_pair(offer: Offer, coop: Cooperative) -> Match:
    unit, unit_detail = (
        _best_overlap(offer.business_units, coop.business_units)
        if offer.business_units
        else (50.0, "")
    )
    commodity, commodity_detail = (
        _best_overlap(offer.commodities, coop.commodities) if offer.commodities else (50.0, "")
    )
    text = fuzz.token_set_ratio(f"{offer.title} {offer.description}".lower(), coop.needs.lower())
    components = (
        Component("business_unit", WEIGHTS["business_unit"], round(unit, 1), unit_detail),
        Component("commodity", WEIGHTS["commodity"], round(commodity, 1), commodity_detail),
        Component("text", WEIGHTS["text"], round(text, 1), "needs vs offer text"),
    )
    total = round(sum(c.weight * c.score for c in components), 1)
    return Match(offer.offer_id, offer.partner_id, coop.cooperative_id, total, components)
