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

from collections.abc import Iterable
from dataclasses import dataclass

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
# How each component is named to coordinators (dashboard, notifications), beside its weight.
COMPONENT_LABELS: dict[str, str] = {
    "business_unit": "Kecocokan unit usaha",
    "commodity": "Kecocokan komoditas",
    "needs": "Kebutuhan koperasi yang terpenuhi",
    "offer_type": "Jenis tawaran sesuai kebutuhan",
    "text": "Kemiripan teks bebas",
}

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
            raw = {
                n: w
                for n, w in WEIGHTS.items()
                if (n != "business_unit" or unit) and (n != "commodity" or commodity)
            }
            best = (
                raw["needs"] * max(NO_NEEDS, NEEDS_FLOOR)
                + raw["offer_type"] * TYPE_PLAUSIBLE
                + raw["text"] * 100.0
            )
            bound = max(bound, best / sum(raw.values()))
    return bound


NO_OVERLAP_BOUND = no_overlap_bound()


@dataclass(frozen=True, slots=True)
class OfferTables:
    """Per offer profile (``offer_tables``): what each cooperative term is worth against it,
    and what explanations read of the offer.

    FIT for the offer's own terms, RELATED_FIT for terms related to them (relations are
    symmetric), so each component is one dictionary look-up per cooperative term.
    """

    units: dict[str, float] | None  # None: the offer names no unit
    commodities: dict[str, float] | None  # None: the offer names no commodity
    handled: frozenset[str]  # units that handle the offer's goods
    things: dict[str, float]  # everything the offer is about, for the needs component
    # For explanations, built for every pair announced: what they read of the offer.
    wanted_units: frozenset[str]  # the units asked for (or, failing that, those handling)
    thing_set: frozenset[str]  # ``offer_things``
    weights: dict[str, float]  # ``offer_weights`` (read only)


def _values(terms: Iterable[str]) -> dict[str, float]:
    vocab = vocabulary()
    values: dict[str, float] = {}
    for term in terms:
        for related in vocab.term(term).related:
            values.setdefault(related, RELATED_FIT)
    for term in terms:
        values[term] = FIT
    return values


_TABLES: dict[int, OfferTables] = {}


def offer_tables(ot: OfferTerms) -> OfferTables:
    """Cached per offer signature: offers with the same terms share their tables."""
    tables = _TABLES.get(ot.signature)
    if tables is None:
        wanted_units = frozenset(ot.units) or ot.handled_units
        things = offer_things(ot)
        tables = OfferTables(
            units=_values(wanted_units) if wanted_units else None,
            commodities=_values(ot.commodities) if ot.commodities else None,
            handled=ot.handled_units,
            things=_values(things),
            wanted_units=wanted_units,
            thing_set=things,
            weights=offer_weights(ot),
        )
        if len(_TABLES) >= 100_000:  # bounded: signatures are never reused, so safe
            _TABLES.clear()
        _TABLES[ot.signature] = tables
    return tables


def _best(values: dict[str, float], have: frozenset[str]) -> float:
    best = 0.0
    for term in have:
        value = values.get(term, 0.0)
        if value > best:
            best = value
    return best


def offer_things(ot: OfferTerms) -> frozenset[str]:
    return frozenset(ot.units) | frozenset(ot.commodities) | ot.handled_units | ot.mentioned


def type_plausible(offer_type: str, ct: CoopTerms) -> bool:
    if offer_type == "intent:supply":
        return not ct.unit_set.isdisjoint(RETAIL_UNITS)
    if offer_type in ("intent:offtake", "intent:logistics"):
        return bool(ct.commodity_set) or not ct.unit_set.isdisjoint(PRODUCE_UNITS)
    return True  # financing, equipment, training suit any cooperative


def term_scores(ot: OfferTerms, ct: CoopTerms) -> tuple[float, float, float, float]:
    """The components that depend on canonical terms only: business unit, commodity,
    needs, offer type (the index computes them once per cooperative profile)."""
    tables = offer_tables(ot)
    # Business unit: the units the offer names (or, failing that, the units that handle
    # its goods) against the cooperative's units. 0 (and weight 0) when unspecified.
    unit = _best(tables.units, ct.unit_set) if tables.units is not None else 0.0
    # Commodity: the offer's goods against the cooperative's produce, or a unit of the
    # cooperative that handles those goods (fertiliser and a kios pupuk).
    if tables.commodities is None:
        commodity = 0.0
    elif not tables.handled.isdisjoint(ct.unit_set):
        commodity = FIT
    else:
        commodity = _best(tables.commodities, ct.commodity_set)
    # Needs: the stated intent against the offer type, the stated objects against what
    # the offer is about.
    intents, objects = ct.intent_set, ct.object_set
    intent_ok = ot.intent in intents
    span = 100.0 - NEEDS_FLOOR
    if not intents and not objects:
        needs = NO_NEEDS
    elif not objects:
        needs = NEEDS_FLOOR + span * INTENT_ONLY * intent_ok
    else:
        object_fit = _best(tables.things, objects) / 100.0
        if intents:
            needs = NEEDS_FLOOR + span * (0.5 * intent_ok + 0.5 * object_fit)
        else:
            needs = NEEDS_FLOOR + span * object_fit
    # Offer type: what the cooperative asks for, or failing that what its profile suits.
    if intent_ok:
        offer_type = FIT
    elif type_plausible(ot.intent, ct):
        offer_type = TYPE_PLAUSIBLE
    else:
        offer_type = TYPE_IMPLAUSIBLE
    return unit, commodity, needs, offer_type


def weak_bound(ot: OfferTerms, weights: dict[str, float]) -> float:
    """The best score of a cooperative that has none of the offer's own units, commodities
    or handled units: unit and commodity at most a related fit, needs and type at most
    full, text at most full (plus rounding). The index skips such cooperatives when k
    better ones are already found."""
    tables = offer_tables(ot)
    unit = max((v for v in (tables.units or {}).values() if v < FIT), default=0.0)
    commodity = max((v for v in (tables.commodities or {}).values() if v < FIT), default=0.0)
    return weighted_terms(weights, (unit, commodity, FIT, FIT)) + text_ceiling(weights) + 0.05


def text_score(ot: OfferTerms, ct: CoopTerms) -> float:
    return text_similarity(ot.text, ct.text)


def text_similarity(offer_text: str, coop_text: str) -> float:
    """The free-text component of two ``_match_text`` texts."""
    if not offer_text or not coop_text:
        return 0.0
    return float(fuzz.token_set_ratio(offer_text, coop_text))


def weighted_terms(weights: dict[str, float], scores: tuple[float, ...]) -> float:
    """The term components' part of the score (before the text component)."""
    unit, commodity, needs, offer_type = scores
    return (
        weights["business_unit"] * unit
        + weights["commodity"] * commodity
        + weights["needs"] * needs
        + weights["offer_type"] * offer_type
    )


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
