"""The generator's literal tables, read once from the TOML files in ``data/``.

``writing.toml``: how people write each term; ``produce.toml``: what each area grows;
``needs.toml``: the needs cooperatives state; ``partners.toml``: the partners behind the offers.
The order of every table is the order of its file: the random draws depend on it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

# Ways of writing one term, with relative weights.
Variants = Sequence[tuple[str, int]]


def _load(name: str) -> dict[str, Any]:
    # Through importlib.resources: the files are package data, read from an installed wheel too.
    text = (files("services.demo.synthetic") / "data" / name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _variants(table: dict[str, dict[str, int]]) -> dict[str, Variants]:
    return {key: tuple(forms.items()) for key, forms in table.items()}


def _phrases(table: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {key: tuple(phrases) for key, phrases in table.items()}


@dataclass(frozen=True)
class Offtake:
    """What an offtaker of one commodity buys and how its offer and name are written."""

    product: str  # slug in the offer id
    goods: str
    terms: tuple[str, ...]  # commodity terms on the offer
    units: tuple[str, ...]  # units the offer asks for
    company_words: tuple[str, ...]


@dataclass(frozen=True)
class Training:
    product: str  # slug in the offer id, after "pelatihan-"
    title: str
    description: str
    units: tuple[str, ...] = ()
    commodities: tuple[str, ...] = ()


_writing = _load("writing.toml")
UNIT_VARIANTS = _variants(_writing["units"])
PROCESSING_VARIANTS = _variants(_writing["processing"])  # "*": any commodity
COMMODITY_VARIANTS = _variants(_writing["commodities"])
SHORTHAND: dict[str, str] = _writing["shorthand"]

_produce = _load("produce.toml")
KALBAR_PRODUCE: dict[str, dict[str, float]] = _produce["kalbar"]
PROVINCE_PRODUCE: dict[str, dict[str, float]] = _produce["provinces"]
DEFAULT_PRODUCE: dict[str, float] = _produce["default"]

_needs = _load("needs.toml")
UNIT_NEEDS = _phrases(_needs["units"])
COMMODITY_NEEDS = _phrases(_needs["commodities"])  # "*": any commodity
FINANCING_NEEDS: tuple[str, ...] = tuple(_needs["financing"])
GENERAL_NEEDS: tuple[str, ...] = tuple(_needs["general"])

_partners = _load("partners.toml")
BANK_TERMS: str = _partners["bank_terms"]
BANKS: dict[str, tuple[str, str]] = {
    key: (legal, short) for key, (legal, short) in _partners["banks"].items()
}
OFFTAKE = {
    key: Offtake(
        product=row["product"],
        goods=row["goods"],
        terms=tuple(row["terms"]),
        units=tuple(row.get("units", ())),
        company_words=tuple(row["company_words"]),
    )
    for key, row in _partners["offtake"].items()
}
ISLAND_WORDS = _phrases(_partners["islands"])
COMPANY_SUFFIXES: tuple[str, ...] = tuple(_partners["company_suffixes"])
PROVINCE_SLUGS: dict[str, str] = _partners["province_slugs"]
NGOS: tuple[tuple[str, str], ...] = tuple((row["id"], row["name"]) for row in _partners["ngos"])
TRAININGS = tuple(
    Training(
        product=row["product"],
        title=row["title"],
        description=row["description"],
        units=tuple(row["units"]),
        commodities=tuple(row["commodities"]),
    )
    for row in _partners["trainings"]
)
COMMODITY_TRAININGS = {
    key: Training(product=row["product"], title=row["title"], description=row["description"])
    for key, row in _partners["commodity_trainings"].items()
}
