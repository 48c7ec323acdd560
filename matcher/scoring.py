"""Score 0-100 from weighted components; the weights and the neutral values live here.

Components (weights sum to 1):

- ``business_unit``: the units the offer is for against the cooperative's units.
- ``commodity``: the offer's produce or goods against the cooperative's produce (or a unit
  that handles those goods: fertiliser suits a kios pupuk).
- ``needs``: the cooperative's stated needs (intent and object: "ingin menjual lada")
  against the offer's type and subject.
- ``offer_type``: the offer type against the cooperative's intent, or failing a stated
  intent, whether its profile makes the type plausible (supply suits a retail unit).
- ``text``: free-text similarity, minor, for what the vocabulary does not know.

A pair that shares no canonical term (not even the offer's intent with a stated need)
scores at most ``NO_OVERLAP_BOUND``, below ``SUGGESTION_THRESHOLD``: that is what lets the
candidate index skip such pairs without losing a suggestion (tested).
"""

from __future__ import annotations

from rapidfuzz import fuzz

from matcher.model import Cooperative, Match, Offer
from matcher.profile import (
    PRODUCE_UNITS,
    RETAIL_UNITS,
    CoopTerms,
    OfferTerms,
    coop_terms,
    offer_terms,
)
from matcher.vocabulary import vocabulary

WEIGHTS: dict[str, float] = {
    "business_unit": 0.30,
    "commodity": 0.30,
    "needs": 0.25,
    "offer_type": 0.10,
    "text": 0.05,
}

FIT = 100.0  # the same canonical term on both sides
RELATED_FIT = 60.0  # a related term (padi/beras, apotek/klinik, gudang/cold storage)
UNSPECIFIED = 40.0  # the offer names no unit (or no commodity): fits all alike
NO_NEEDS = 30.0  # the cooperative states no need: neither for nor against
NEEDS_FLOOR = 20.0  # needs stated, none of them met
TYPE_PLAUSIBLE = 50.0
TYPE_IMPLAUSIBLE = 20.0

# Suggestions are pairs at or above this score (the services' default min_score).
SUGGESTION_THRESHOLD = 50.0

# The best a pair without any shared term can do: unspecified unit and commodity, no
# needs, a plausible type, identical text.
NO_OVERLAP_BOUND = (
    WEIGHTS["business_unit"] * UNSPECIFIED
    + WEIGHTS["commodity"] * UNSPECIFIED
    + WEIGHTS["needs"] * max(NO_NEEDS, NEEDS_FLOOR)
    + WEIGHTS["offer_type"] * TYPE_PLAUSIBLE
    + WEIGHTS["text"] * 100.0
)
TEXT_MAX = WEIGHTS["text"] * 100.0


def _fit(wanted: frozenset[str] | dict[str, object], have: frozenset[str]) -> float:
    """FIT if any wanted term is had, RELATED_FIT if a related one is, else 0."""
    if not have:
        return 0.0
    vocab = vocabulary()
    best = 0.0
    for term in wanted:
        if term in have:
            return FIT
        if vocab.term(term).related & have:
            best = RELATED_FIT
    return best


def unit_score(ot: OfferTerms, ct: CoopTerms) -> float:
    wanted = frozenset(ot.units) or ot.handled_units
    if not wanted:
        return UNSPECIFIED
    return _fit(wanted, ct.unit_set)


def commodity_score(ot: OfferTerms, ct: CoopTerms) -> float:
    if not ot.commodities:
        return UNSPECIFIED
    if ot.handled_units & ct.unit_set:
        return FIT
    return _fit(frozenset(ot.commodities), ct.commodity_set)


def offer_things(ot: OfferTerms) -> frozenset[str]:
    return frozenset(ot.units) | frozenset(ot.commodities) | ot.handled_units | ot.mentioned


def needs_score(ot: OfferTerms, ct: CoopTerms) -> float:
    intents, objects = ct.intent_set, ct.object_set
    if not intents and not objects:
        return NO_NEEDS
    span = 100.0 - NEEDS_FLOOR
    intent_ok = ot.intent in intents
    object_fit = _fit(objects, offer_things(ot)) / 100.0 if objects else 0.0
    if intents and objects:
        return NEEDS_FLOOR + span * (0.5 * intent_ok + 0.5 * object_fit)
    if intents:
        return NEEDS_FLOOR + span * intent_ok
    return NEEDS_FLOOR + span * object_fit


def type_plausible(offer_type: str, ct: CoopTerms) -> bool:
    if offer_type == "intent:supply":
        return bool(ct.unit_set & RETAIL_UNITS)
    if offer_type in ("intent:offtake", "intent:logistics"):
        return bool(ct.commodity_set or ct.unit_set & PRODUCE_UNITS)
    return True  # financing, equipment, training suit any cooperative


def offer_type_score(ot: OfferTerms, ct: CoopTerms) -> float:
    if ot.intent in ct.intent_set:
        return FIT
    return TYPE_PLAUSIBLE if type_plausible(ot.intent, ct) else TYPE_IMPLAUSIBLE


def text_score(ot: OfferTerms, ct: CoopTerms) -> float:
    if not ot.text or not ct.text:
        return 0.0
    return float(fuzz.token_set_ratio(ot.text, ct.text))


def term_scores(ot: OfferTerms, ct: CoopTerms) -> tuple[float, float, float, float]:
    """The components that depend on canonical terms only (cacheable per term profile)."""
    return (
        unit_score(ot, ct),
        commodity_score(ot, ct),
        needs_score(ot, ct),
        offer_type_score(ot, ct),
    )


def weighted_terms(scores: tuple[float, float, float, float]) -> float:
    unit, commodity, needs, offer_type = scores
    return (
        WEIGHTS["business_unit"] * unit
        + WEIGHTS["commodity"] * commodity
        + WEIGHTS["needs"] * needs
        + WEIGHTS["offer_type"] * offer_type
    )


def total(term_part: float, text: float) -> float:
    return round(term_part + WEIGHTS["text"] * text, 1)


def score_terms(offer: Offer, coop: Cooperative, ot: OfferTerms, ct: CoopTerms) -> Match:
    """The full match (with explanation) from precomputed terms."""
    from matcher.explain import explain  # explain imports this module's weights

    return explain(offer, coop, ot, ct, term_scores(ot, ct), text_score(ot, ct))


def score_pair(offer: Offer, coop: Cooperative) -> Match:
    """Score one pair; eligibility is not checked here (see ``matcher.eligibility``)."""
    return score_terms(offer, coop, offer_terms(offer), coop_terms(coop))
