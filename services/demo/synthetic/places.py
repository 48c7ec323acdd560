"""Places: the villages, regencies and districts of the region table the generator spreads
over, how areas are written in ids, and what each area grows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from schemas.regions import Level, Region, region_table
from services.demo.synthetic.tables import (
    DEFAULT_PRODUCE,
    KALBAR_PRODUCE,
    PROVINCE_PRODUCE,
    PROVINCE_SLUGS,
)


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _short_name(region: Region) -> str:
    return region.name.removeprefix("Kabupaten ").removeprefix("Kota Administrasi ")


def area_slug(region: Region) -> str:
    name = _short_name(region)
    if region.level is Level.REGENCY and name.startswith("Kota "):
        return slugify(name)
    return slugify(name.removeprefix("Kota "))


def province_slug(code: str) -> str:
    return PROVINCE_SLUGS.get(code) or slugify(region_table().name(code))


def is_kelurahan(code: str) -> bool:
    return code.rsplit(".", 1)[-1].startswith("1")


def produce_of(code: str) -> dict[str, float]:
    """Canonical commodities of the area holding ``code`` with the share of rural cooperatives."""
    regency = code[:5]
    if regency in KALBAR_PRODUCE:
        return KALBAR_PRODUCE[regency]
    return PROVINCE_PRODUCE.get(code[:2], DEFAULT_PRODUCE)


def grows(code: str, commodity: str) -> bool:
    """Whether ``commodity`` is a notable produce of the area holding ``code``."""
    if is_city(code) and code[:5] not in KALBAR_PRODUCE:
        return False  # outside Kalimantan Barat produce is known by province: skip the cities
    return produce_of(code).get(commodity, 0) >= 0.15


def is_city(code: str) -> bool:
    return len(code) >= 5 and code[3] == "7"  # regency codes 71-79 are cities (kota)


@cache
def villages_within(within: str | None) -> tuple[Region, ...]:
    return tuple(region_table().villages(within))


def spread(villages: Sequence[Region], limit: int) -> list[Region]:
    """The first ``limit`` villages taken round-robin across regencies, in code order."""
    by_regency: dict[str, list[Region]] = {}
    for v in villages:
        by_regency.setdefault(v.code[:5], []).append(v)
    queues = list(by_regency.values())
    chosen: list[Region] = []
    depth = 0
    while len(chosen) < limit and queues:
        queues = [q for q in queues if depth < len(q)]
        for q in queues:
            if len(chosen) == limit:
                break
            chosen.append(q[depth])
        depth += 1
    return sorted(chosen, key=lambda r: r.code)


@cache
def villages_by_regency() -> dict[str, list[Region]]:
    by_regency: dict[str, list[Region]] = {}
    for village in sorted(villages_within(None), key=lambda v: v.code):
        by_regency.setdefault(village.code[:5], []).append(village)
    return by_regency


@dataclass
class Scope:
    """Where offers go: the regencies (and their provinces) inside ``within``."""

    within: str | None
    regencies: list[Region]
    provinces: list[Region]
    weights: list[int]  # villages per regency, to place offers where the cooperatives are


@cache
def scope_of(within: str | None) -> Scope:
    table = region_table()
    if within is not None and within.count(".") >= 1:
        regency = table.get(within[:5])
        regencies = [regency] if regency else []
    else:
        regencies = table.of_level(Level.REGENCY, within)
    counts: dict[str, int] = {}
    for v in villages_within(within):
        counts[v.code[:5]] = counts.get(v.code[:5], 0) + 1
    regencies = [r for r in regencies if counts.get(r.code)]
    provinces = sorted({r.code[:2] for r in regencies})
    return Scope(
        within=within,
        regencies=regencies,
        provinces=[p for p in (table.get(c) for c in provinces) if p is not None],
        weights=[counts[r.code] for r in regencies],
    )


@cache
def districts_by_regency() -> dict[str, list[Region]]:
    by_regency: dict[str, list[Region]] = {}
    for district in region_table().of_level(Level.DISTRICT):
        by_regency.setdefault(district.code[:5], []).append(district)
    return by_regency
