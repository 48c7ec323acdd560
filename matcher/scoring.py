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

Components an offer leaves open (no unit, no commodity) get weight 0 for that offer; the
others are rescaled (``offer_weights``). A pair that shares no canonical term (not even
the offer's intent with a stated need) scores at most ``NO_OVERLAP_BOUND``, below
``SUGGESTION_THRESHOLD``: that is what lets the candidate index skip such pairs without
losing a suggestion (tested).
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
TERM_COMPONENTS = ("business_unit", "commodity", "needs", "offer_type")

FIT = 100.0  # the same canonical term on both sides
RELATED_FIT = 60.0  # a related term (padi/beras, apotek/klinik, gudang/cold storage)
NO_NEEDS = 30.0  # the cooperative states no need: neither for nor against
NEEDS_FLOOR = 20.0  # needs stated, none of them met
INTENT_ONLY = 0.75  # share of the needs span for "butuh modal" without saying for what
TYPE_PLAUSIBLE = 50.0
TYPE_IMPLAUSIBLE = 20.0

# Suggestions are pairs at or above this score (the services' default min_score).
SUGGESTION_THRESHOLD = 50.0


def offer_weights(ot: OfferTerms) -> dict[str, float]:
    """The weights for this offer: a component the offer leaves unspecified (no business
    unit, no commodity) gets weight 0 and the others are rescaled to sum to 1, so an
    offer open to every unit is neither favoured nor penalised against one that names
    its unit, in either ranking direction."""
    applies = {
        "business_unit": bool(ot.units or ot.handled_units),
        "commodity": bool(ot.commodities),
    }
    raw = {name: w if applies.get(name, True) else 0.0 for name, w in WEIGHTS.items()}
    total_weight = sum(raw.values())
    return {name: w / total_weight for name, w in raw.items()}


def no_overlap_bound() -> float:
    """The best score of a pair that shares no canonical term, over every kind of offer:
    specified unit or commodity components score 0 then, needs at most NO_NEEDS, the
    type at most TYPE_PLAUSIBLE, the text at most 100."""
    bound = 0.0
    for unit in (False, True):
        for commodity in (False, True):
            raw = {n: w for n, w in WEIGHTS.items()
                   if (n != "business_unit" or unit) and (n != "commodity" or commodity)}
            best = (raw["needs"] * max(NO_NEEDS, NEEDS_FLOOR)
                    + raw["offer_type"] * TYPE_PLAUSIBLE + raw["text"] * 100.0)
            bound = max(bound, best / sum(raw.values()))
    return bound


NO_OVERLAP_BOUND = no_overlap_bound()


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
        return 0.0  # weight 0 for this offer (see offer_weights)
    return _fit(wanted, ct.unit_set)


def commodity_score(ot: OfferTerms, ct: CoopTerms) -> float:
    if not ot.commodities:
        return 0.0  # weight 0 for this offer
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
        return NEEDS_FLOOR + span * INTENT_ONLY * intent_ok
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


def weighted_terms(weights: dict[str, float], scores: tuple[float, ...]) -> float:
    """The term components' part of the score (before the text component)."""
    return sum(weights[name] * s for name, s in zip(TERM_COMPONENTS, scores, strict=True))


def total(weights: dict[str, float], term_part: float, text: float) -> float:
    return round(term_part + weights["text"] * text, 1)


def text_ceiling(weights: dict[str, float]) -> float:
    """The most the text component can add for this offer."""
    return weights["text"] * 100.0


def score_terms(offer: Offer, coop: Cooperative, ot: OfferTerms, ct: CoopTerms) -> Match:
    """The full match (with explanation) from precomputed terms."""
    from matcher.explain import explain  # explain imports this module's weights

    return explain(offer, coop, ot, ct, term_scores(ot, ct), text_score(ot, ct))


def score_pair(offer: Offer, coop: Cooperative) -> Match:
    """Score one pair; eligibility is not checked here (see ``matcher.eligibility``)."""
    return score_terms(offer, coop, offer_terms(offer), coop_terms(coop))
