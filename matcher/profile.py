"""Each entity's canonical terms, computed once at upsert and reused by every score."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from matcher.model import Cooperative, Offer
from matcher.normalise import GENERIC_PHRASES, STOPWORDS, normalise
from matcher.resolve import Hit, resolve, resolve_all
from matcher.vocabulary import vocabulary

# Units that sell goods to members: a supply offer suits them.
RETAIL_UNITS = frozenset(
    {"unit:sembako", "unit:kios_pupuk", "unit:pangkalan_lpg", "unit:apotek", "unit:klinik"}
)
# Units that collect, store or process members' produce: offtake and logistics suit them.
PRODUCE_UNITS = frozenset(
    {
        "unit:pemasaran",
        "unit:pengolahan",
        "unit:gudang",
        "unit:cold_storage",
        "unit:logistik",
        "unit:pertanian",
        "unit:perikanan",
        "unit:peternakan",
    }
)
FINANCING = "intent:financing"
# Posting key every cooperative is filed under: how generic offers find their candidates.
ANY = "*"


def _of_kind(hits: tuple[Hit, ...], kind: str) -> dict[str, Hit]:
    return {h.term: h for h in hits if h.term.startswith(kind + ":")}


# Small caches for functions of a whole text: a cooperative's text is nearly always its own
# (its needs), so a large cache only keeps every text twice; the few shared texts (units,
# titles) stay in a small LRU. At 1 << 17 entries these caches held about 60 MiB of a
# national matcher's memory, for no time saved.
@lru_cache(maxsize=1 << 12)
def _match_text(text: str) -> str:
    """The text used for the minor free-text component: normalised, without filler."""
    return " ".join(t for t in normalise(text).split() if t not in STOPWORDS)


# Interning keeps one object per distinct term set, and gives each distinct term profile a
# small integer id: the index groups cooperatives with the same profile under one id.
# Ids come from a counter, never reused: the table may be cleared when it grows large (a
# profile seen again then gets a new id, which costs sharing, never correctness).
_SIGNATURES: dict[tuple[frozenset[str], ...], int] = {}
_SIGNATURE_IDS = itertools.count()
_MAX_SIGNATURES = 1_000_000


# Equal term sets and term maps of different cooperatives, kept as one object: nationally
# 83,762 cooperatives have about 8,000 distinct unit sets, 1,100 commodity sets and 8,500
# need sets, and 35,000 distinct commodity and need maps of terms to hits for 251,000
# (together a quarter of the matcher's memory for terms). Cleared, like the signatures,
# when it grows large.
_SHARED: dict[object, Any] = {}


def _share(key: object, value: Any) -> Any:
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= _MAX_SIGNATURES:
            _SHARED.clear()
        found = _SHARED[key] = value
    return found


def _shared_set(terms: frozenset[str]) -> frozenset[str]:
    found: frozenset[str] = _share(terms, terms)
    return found


def _shared_hits(hits: dict[str, Hit]) -> dict[str, Hit]:
    """One dict per distinct map of terms to hits: a hit names its term, so the hits in
    order are the key. Callers treat term maps as read-only: ``CoopTerms`` is frozen."""
    found: dict[str, Hit] = _share(tuple(hits.values()), hits)
    return found


def _signature(*parts: frozenset[str]) -> int:
    found = _SIGNATURES.get(parts)
    if found is None:
        if len(_SIGNATURES) >= _MAX_SIGNATURES:
            _SIGNATURES.clear()
        found = _SIGNATURES[parts] = next(_SIGNATURE_IDS)
    return found


@dataclass(frozen=True, slots=True)
class CoopTerms:
    units: dict[str, Hit]
    commodities: dict[str, Hit]
    need_intents: dict[str, Hit]
    need_objects: dict[str, Hit]
    text: str
    unit_set: frozenset[str]
    commodity_set: frozenset[str]
    intent_set: frozenset[str]
    object_set: frozenset[str]
    signature: int

    @property
    def index_terms(self) -> frozenset[str]:
        return self.unit_set | self.commodity_set | self.intent_set | self.object_set | {ANY}


def coop_terms(coop: Cooperative) -> CoopTerms:
    return _coop_terms(
        coop.business_units, coop.commodities, coop.needs, bool(coop.financing_need_idr)
    )


@lru_cache(maxsize=1 << 12)
def _coop_terms(
    business_units: tuple[str, ...],
    commodity_texts: tuple[str, ...],
    needs: str,
    seeks_financing: bool,
) -> CoopTerms:
    """Shared by cooperatives typed the same way (all but the member count and name): a
    profile updated in a field the terms do not read keeps its terms."""
    units, commodities, intents, objects = _coop_hits(
        business_units, commodity_texts, needs, seeks_financing
    )
    parts = (
        _shared_set(frozenset(units)),
        _shared_set(frozenset(commodities)),
        _shared_set(frozenset(intents)),
        _shared_set(frozenset(objects)),
    )
    text = _coop_text(business_units, commodity_texts, needs)
    # Unit maps are not shared: units are written in so many ways that two cooperatives'
    # maps are rarely the same (58,000 distinct of 83,762), and a key costs what it saves.
    shared = (_shared_hits(commodities), _shared_hits(intents), _shared_hits(objects))
    return CoopTerms(units, *shared, text, *parts, _signature(*parts))


def coop_term_sets(coop: Cooperative) -> tuple[frozenset[str], ...]:
    """The cooperative's units, commodities, need intents and need objects, as
    ``coop_terms`` has them, without the hits, the free text or a signature: for batch
    ranking. Sets do not depend on the order of the fields, so each distinct unit or
    commodity string is resolved to its sets once."""
    units: set[str] = set()
    commodities: set[str] = set()
    for text in coop.business_units:
        unit_terms, commodity_terms = _field_terms(text)
        units |= unit_terms
        commodities |= commodity_terms
    for text in coop.commodities:
        commodities |= _field_terms(text)[1]
    intents, objects = _need_terms(coop.needs) if coop.needs else (frozenset(), frozenset())
    if coop.financing_need_idr:
        intents |= {FINANCING}
    return frozenset(units), frozenset(commodities), intents, objects


@lru_cache(maxsize=1 << 14)
def _field_terms(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The unit terms and the commodity terms of one unit or commodity field."""
    hits = resolve(text)
    return (
        frozenset(h.term for h in hits if h.term.startswith("unit:")),
        frozenset(h.term for h in hits if h.term.startswith("commodity:")),
    )


def _need_terms(needs: str) -> tuple[frozenset[str], frozenset[str]]:
    """The intent terms and the other terms of a needs text."""
    terms = [h.term for h in resolve(needs)]
    intents = frozenset(t for t in terms if t.startswith("intent:"))
    return intents, frozenset(terms) - intents


def coop_text(coop: Cooperative) -> str:
    """The cooperative's text for the free-text component (``CoopTerms.text``)."""
    return _coop_text(coop.business_units, coop.commodities, coop.needs)


def coop_text_words(coop: Cooperative) -> tuple[str, ...]:
    """The words of ``coop_text(coop)``, in order.

    Made field by field, each distinct unit or commodity string once (cooperatives share
    most of them): the words of a joined text are the words of its fields, except that
    "merah putih" is one generic phrase that may span two fields, so a cooperative with a
    field that may hold either word, or any non-ASCII field, goes the long way.
    """
    words: list[str] = []
    for field in (*coop.business_units, *coop.commodities):
        found = _field_words(field)
        if found is None:
            return tuple(coop_text(coop).split())
        words.extend(found)
    needs = _words(coop.needs)  # nearly every one is new: not worth a cache entry
    if needs is None:
        return tuple(coop_text(coop).split())
    words.extend(needs)
    return tuple(words)


@lru_cache(maxsize=1 << 14)
def _field_words(field: str) -> tuple[str, ...] | None:
    return _words(field)


def _words(field: str) -> tuple[str, ...] | None:
    """``_match_text(field)``'s words, or None when joining fields may change them."""
    if not field.isascii():
        return None
    lowered = field.lower()
    if any(word in lowered for word in _GENERIC_PHRASE_WORDS):
        return None
    return tuple(t for t in normalise(field).split() if t not in STOPWORDS)


_GENERIC_PHRASE_WORDS = frozenset(word for phrase in GENERIC_PHRASES for word in phrase.split())


def _coop_hits(
    business_units: tuple[str, ...],
    commodity_texts: tuple[str, ...],
    needs: str,
    seeks_financing: bool,
) -> tuple[dict[str, Hit], dict[str, Hit], dict[str, Hit], dict[str, Hit]]:
    """Units, commodities, need intents and need objects, each by term."""
    unit_hits = resolve_all(business_units)
    units = _of_kind(unit_hits, "unit")
    commodities = _of_kind(resolve_all(commodity_texts), "commodity")
    # A unit named after its produce ("pengolahan lada") tells the produce too.
    for term, hit in _of_kind(unit_hits, "commodity").items():
        commodities.setdefault(term, hit)
    need_hits = resolve(needs) if needs else ()
    intents = _of_kind(need_hits, "intent")
    if seeks_financing:
        # A stated financing need is the plainest statement of intent there is.
        intents.setdefault(FINANCING, Hit(FINANCING, "financing_need_idr", 100.0))
    objects = {h.term: h for h in need_hits if not h.term.startswith("intent:")}
    return units, commodities, intents, objects


def _coop_text(
    business_units: tuple[str, ...], commodity_texts: tuple[str, ...], needs: str
) -> str:
    return _match_text(" ".join((*business_units, *commodity_texts, needs)))


@dataclass(frozen=True, slots=True)
class OfferTerms:
    intent: str
    units: dict[str, Hit]  # units the offer asks for (or, failing that, its title names)
    commodities: dict[str, Hit]
    handled_units: frozenset[str]  # units that handle the offer's goods (pupuk -> kios pupuk)
    mentioned: frozenset[str]  # every unit/commodity term in the title and description
    text: str
    index_terms: frozenset[str]
    signature: int = -1  # same id for offers with the same term profile


def offer_terms(offer: Offer) -> OfferTerms:
    vocab = vocabulary()
    unit_hits = resolve_all(offer.business_units)
    units = _of_kind(unit_hits, "unit")
    commodities = _of_kind(resolve_all(offer.commodities), "commodity")
    for term, hit in _of_kind(unit_hits, "commodity").items():
        commodities.setdefault(term, hit)
    title_hits = resolve(offer.title)
    # Offers are often typed with everything in the title and empty lists.
    if not units:
        units = _of_kind(title_hits, "unit")
    if not commodities:
        commodities = _of_kind(title_hits, "commodity")
    handled = frozenset(u for c in commodities for u in vocab.term(c).units)
    text_hits = resolve_all((offer.title, offer.description))
    mentioned = frozenset(h.term for h in text_hits if not h.term.startswith("intent:"))
    intent = f"intent:{offer.offer_type}"
    things = frozenset(units) | frozenset(commodities) | handled | mentioned
    related = frozenset(r for t in things for r in vocab.term(t).related)
    text = _match_text(
        f"{offer.title} {offer.description} "
        + " ".join((*offer.business_units, *offer.commodities))
    )
    index = things | related | {intent}
    if not things:
        # A generic offer (training or financing for a whole regency, no unit or produce
        # named) is a candidate for every cooperative in its regions.
        index |= {ANY}
    signature = _signature(
        frozenset({intent}), frozenset(units), frozenset(commodities), handled, mentioned
    )
    return OfferTerms(intent, units, commodities, handled, mentioned, text, index, signature)
