"""The canonical vocabulary, loaded once from ``vocabulary.toml`` shipped in the package."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Literal

from matcher.normalise import normalise

Kind = Literal["unit", "commodity", "intent"]
KINDS: tuple[Kind, ...] = ("unit", "commodity", "intent")

# The contract's offer types; each is also an intent term id.
OFFER_TYPES: tuple[str, ...] = (
    "financing",
    "supply",
    "offtake",
    "logistics",
    "equipment",
    "training",
)


@dataclass(frozen=True, slots=True)
class Term:
    id: str  # "kind:name", e.g. "commodity:lada"
    kind: Kind
    label: str
    variants: tuple[str, ...]
    related: frozenset[str] = frozenset()
    units: frozenset[str] = frozenset()  # commodity only: unit ids that handle this good


@dataclass(frozen=True)
class Vocabulary:
    terms: dict[str, Term]
    # normalised variant -> term ids (a variant may name a unit and an intent at once)
    variants: dict[str, tuple[str, ...]]
    # fuzzy choices grouped by word count, so a typo in a one-word phrase is compared to
    # one-word variants only: "kopi" never drifts to the two-word "kopi liberika".
    choices_by_words: dict[int, tuple[str, ...]] = field(default_factory=dict)
    max_words: int = 1
    # Every variant's leading words ("kelapa" and "kelapa sawit" for "kelapa sawit"): a
    # phrase that is none of them starts no variant, so resolution stops extending it.
    prefixes: frozenset[str] = frozenset()

    def term(self, term_id: str) -> Term:
        return self.terms[term_id]

    def label(self, term_id: str) -> str:
        term = self.terms.get(term_id)
        return term.label if term else term_id


def term_id(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def parse_vocabulary(text: str) -> Vocabulary:
    """Build a vocabulary from TOML text; validates references so a typo fails loudly."""
    data = tomllib.loads(text)
    terms: dict[str, Term] = {}
    for kind in KINDS:
        for name, entry in data.get(kind, {}).items():
            tid = term_id(kind, name)
            spellings = tuple(
                dict.fromkeys([entry["label"], name.replace("_", " "), *entry.get("variants", [])])
            )
            terms[tid] = Term(
                id=tid,
                kind=kind,
                label=entry["label"],
                variants=spellings,
                related=frozenset(term_id(kind, r) for r in entry.get("related", [])),
                units=frozenset(term_id("unit", u) for u in entry.get("units", [])),
            )
    for term in terms.values():
        for ref in term.related | term.units:
            if ref not in terms:
                raise ValueError(f"{term.id} refers to unknown term {ref}")
    # Relatedness is symmetric: padi relates to beras as beras to padi. The candidate
    # index relies on it to find every pair that can score a related fit.
    for term in list(terms.values()):
        for ref in term.related:
            other = terms[ref]
            if term.id not in other.related:
                terms[ref] = replace(other, related=other.related | {term.id})
    for offer_type in OFFER_TYPES:
        if term_id("intent", offer_type) not in terms:
            raise ValueError(f"vocabulary lacks intent {offer_type}")

    variants: dict[str, list[str]] = {}
    for term in terms.values():
        for variant in term.variants:
            key = normalise(variant)
            if key and term.id not in variants.setdefault(key, []):
                variants[key].append(term.id)
    by_words: dict[int, list[str]] = {}
    for key in variants:
        by_words.setdefault(len(key.split()), []).append(key)
    return Vocabulary(
        terms=terms,
        variants={k: tuple(v) for k, v in variants.items()},
        choices_by_words={n: tuple(sorted(v)) for n, v in by_words.items()},
        max_words=max(by_words),
        prefixes=frozenset(
            " ".join(words[:n])
            for words in (key.split(" ") for key in variants)
            for n in range(1, len(words) + 1)
        ),
    )


@cache
def vocabulary() -> Vocabulary:
    text = resources.files("matcher").joinpath("vocabulary.toml").read_text(encoding="utf-8")
    return parse_vocabulary(text)
