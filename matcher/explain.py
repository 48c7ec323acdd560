"""Explanations: each component's weight, score and what matched what, and one sentence
in Bahasa Indonesia for the dashboard (``Match.summary``)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from matcher.model import Component, Cooperative, Match, Offer
from matcher.profile import CoopTerms, OfferTerms
from matcher.resolve import Hit
from matcher.scoring import (
    FIT,
    TYPE_PLAUSIBLE,
    offer_tables,
    total,
    weighted_terms,
)
from matcher.vocabulary import vocabulary

# How each offer type reads in a sentence ("... sesuai dengan pembiayaan yang ditawarkan").
OFFER_TYPE_PHRASE: dict[str, str] = {
    "intent:financing": "pembiayaan",
    "intent:supply": "pasokan barang",
    "intent:offtake": "pembelian hasil (offtake)",
    "intent:logistics": "layanan logistik",
    "intent:equipment": "peralatan dan sarana",
    "intent:training": "pelatihan dan pendampingan",
}


# How a stated need reads ("koperasi membutuhkan pembiayaan untuk gerai sembako").
NEED_PHRASE: dict[str, str] = {
    "intent:financing": "pembiayaan",
    "intent:supply": "pasokan",
    "intent:offtake": "pembeli hasil",
    "intent:logistics": "layanan logistik",
    "intent:equipment": "peralatan dan sarana",
    "intent:training": "pelatihan dan pendampingan",
}


# Explanations are built for every announced pair, and their parts repeat: a cooperative's
# hits are shared by many cooperatives (``profile._SHARED``), an offer's wanted terms by
# every pair of the offer. Small caches of the parts; the sentences stay per pair.
@lru_cache(maxsize=1 << 14)
def _hit(hit: Hit) -> str:
    """``"simpan pinjm" → simpan pinjam (96)``: what was typed, what it means, how sure."""
    return f'"{hit.phrase}" → {vocabulary().label(hit.term)} ({hit.score:.0f})'


def _labels(terms: Iterable[str]) -> str:
    return _label_list(frozenset(terms))


@lru_cache(maxsize=1 << 12)
def _label_list(terms: frozenset[str]) -> str:
    vocab = vocabulary()
    names = sorted(vocab.label(t) for t in terms)
    return _join(names)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " dan " + items[-1]


def _matched(
    wanted: frozenset[str], have: dict[str, Hit]
) -> tuple[list[Hit], list[tuple[str, Hit]]]:
    """The cooperative's hits equal to a wanted term, and those related to one."""
    order, related_order = _wanted(wanted)
    exact = [have[t] for t in order if t in have]
    related = [(w, have[r]) for w, r in related_order if r in have]
    return exact, related


@lru_cache(maxsize=1 << 12)
def _wanted(wanted: frozenset[str]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The wanted terms in order, and each one's related terms (wanted, related) in order."""
    vocab = vocabulary()
    order = tuple(sorted(wanted))
    return order, tuple((w, r) for w in order for r in sorted(vocab.term(w).related))


def _detail(
    exact: list[Hit], related: list[tuple[str, Hit]], wanted: frozenset[str], what: str
) -> str:
    if exact:
        return "; ".join(_hit(h) for h in exact)
    if related:
        vocab = vocabulary()
        return "; ".join(f"{_hit(h)}, terkait {vocab.label(w)}" for w, h in related)
    return f"tidak ada {what} yang sesuai (dicari: {_labels(wanted)})"


def explain(
    offer: Offer,
    coop: Cooperative,
    ot: OfferTerms,
    ct: CoopTerms,
    scores: tuple[float, float, float, float],
    text: float,
) -> Match:
    unit, commodity, needs, type_score = scores
    reasons: list[str] = []
    tables = offer_tables(ot)

    wanted_units = tables.wanted_units
    units_named: set[str] = set()  # units already given as a reason
    if wanted_units:
        exact, related = _matched(wanted_units, ct.units)
        unit_detail = _detail(exact, related, wanted_units, "unit usaha")
        units_named = {h.term for h in exact}
        if exact:
            reasons.append(
                f"unit {_labels({h.term for h in exact})} koperasi sesuai dengan "
                f"{OFFER_TYPE_PHRASE.get(ot.intent, offer.offer_type)} yang ditawarkan"
            )
        elif related:
            reasons.append(
                f"unit {_labels({h.term for _, h in related})} koperasi terkait "
                f"dengan unit yang dicari penawaran"
            )
    else:
        unit_detail = "penawaran tidak menyebut unit usaha"

    wanted_goods = frozenset(ot.commodities)
    if wanted_goods:
        exact, related = _matched(wanted_goods, ct.commodities)
        handlers = sorted(ot.handled_units & ct.unit_set)
        if handlers and not exact:
            goods = _labels(wanted_goods)
            commodity_detail = "; ".join(
                f"{goods} ditangani oleh {_hit(ct.units[u])}" for u in handlers
            )
            if not set(handlers) <= units_named:  # else the unit reason already says it
                reasons.append(
                    f"koperasi memiliki unit {_labels(handlers)} untuk {_labels(wanted_goods)}"
                )
        else:
            commodity_detail = _detail(exact, related, wanted_goods, "komoditas")
            if exact:
                reasons.append(
                    f"koperasi memiliki komoditas {_labels({h.term for h in exact})} yang dicari"
                )
            elif related:
                reasons.append(
                    f"komoditas {_labels({h.term for _, h in related})} koperasi terkait "
                    f"dengan {_labels(wanted_goods)}"
                )
    else:
        commodity_detail = "penawaran tidak menyebut komoditas"

    if not ct.intent_set and not ct.object_set:
        needs_detail = "koperasi tidak menyebut kebutuhan"
    else:
        parts: list[str] = []
        met_intent = ot.intent in ct.need_intents
        if met_intent:
            parts.append(_hit(ct.need_intents[ot.intent]))
        things = tables.thing_set
        met_objects = [h for t, h in sorted(ct.need_objects.items()) if t in things]
        parts.extend(_hit(h) for h in met_objects)
        needs_detail = (
            "; ".join(parts)
            if parts
            else ("kebutuhan koperasi tidak sesuai: " + _labels(ct.intent_set | ct.object_set))
        )
        # "angkut" names both the logistics intent and the logistik unit: one need.
        intent_phrase = ct.need_intents[ot.intent].phrase if met_intent else None
        objects = _labels({h.term for h in met_objects if h.phrase != intent_phrase})
        if met_intent and ot.intent == "intent:offtake":
            reasons.append(f"koperasi ingin menjual {objects or 'hasil anggotanya'}")
        elif met_intent:
            reasons.append(
                f"koperasi membutuhkan {NEED_PHRASE.get(ot.intent, offer.offer_type)}"
                + (f" untuk {objects}" if objects else "")
            )
        elif met_objects:
            reasons.append(f"kebutuhan koperasi menyebut {objects}")

    if type_score == FIT:
        type_detail = f"{offer.offer_type} sesuai kebutuhan yang dinyatakan"
    elif type_score >= TYPE_PLAUSIBLE:
        type_detail = f"{offer.offer_type} wajar untuk profil koperasi"
    else:
        type_detail = f"{offer.offer_type} kurang sesuai dengan profil koperasi"

    w = tables.weights
    components = (
        Component("business_unit", round(w["business_unit"], 3), round(unit, 1), unit_detail),
        Component("commodity", round(w["commodity"], 3), round(commodity, 1), commodity_detail),
        Component("needs", round(w["needs"], 3), round(needs, 1), needs_detail),
        Component("offer_type", round(w["offer_type"], 3), round(type_score, 1), type_detail),
        Component("text", round(w["text"], 3), round(text, 1), "kemiripan teks bebas"),
    )
    if reasons:
        summary = "Cocok karena " + _join(reasons) + "."
    else:
        summary = (
            "Kecocokan rendah: tidak ada unit usaha, komoditas, atau kebutuhan koperasi "
            "yang sesuai dengan penawaran ini."
        )
    return Match(
        offer.offer_id,
        offer.partner_id,
        coop.cooperative_id,
        total(w, weighted_terms(w, scores), text),
        components,
        summary,
    )
