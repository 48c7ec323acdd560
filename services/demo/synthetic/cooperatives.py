"""Cooperatives: one Koperasi Desa/Kelurahan Merah Putih per village, with the business units,
commodities, needs and financing that fit its area, written the way many hands type them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime

from schemas.events import CooperativeProfile
from schemas.regions import Region
from services.demo.synthetic.defaults import KALBAR, default_updated_at
from services.demo.synthetic.places import (
    is_city,
    is_kelurahan,
    produce_of,
    spread,
    villages_by_regency,
    villages_within,
)
from services.demo.synthetic.tables import (
    COMMODITY_NEEDS,
    COMMODITY_VARIANTS,
    FINANCING_NEEDS,
    GENERAL_NEEDS,
    KALBAR_PRODUCE,
    PROCESSING_VARIANTS,
    UNIT_NEEDS,
    UNIT_VARIANTS,
)
from services.demo.synthetic.writing import rupiah_text, shorthand, term, typo


def _member_count(rng: random.Random, urban: bool) -> int:
    if rng.random() < 0.03:
        return rng.randint(401, 2500)
    count = int(rng.lognormvariate(4.6 if urban else 4.45, 0.6))
    return max(9, min(count, 400))


def _financing(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.08:
        amount = rng.randint(2, 9) * 5_000_000
    elif r < 0.93:  # log-uniform between Rp50 million and Rp1.5 billion
        amount = int(50_000_000 * 30 ** rng.random())
    else:
        amount = rng.randint(150, 300) * 10_000_000
    step = 100_000 if rng.random() < 0.1 else 5_000_000
    return max(step, min(3_000_000_000, round(amount / step) * step))


def _unit_chances(urban: bool, fishing: bool) -> tuple[tuple[str, float], ...]:
    """How likely each standard unit is, for a kelurahan or desa, fishing or not."""
    return (
        ("kantor", 0.25),
        ("sembako", 0.85),
        ("usp", 0.7),
        ("klinik", 0.35),
        ("apotek", 0.45),
        ("gudang", 0.2 if urban else 0.35),
        ("cold", 0.5 if fishing else 0.05),
        ("logistik", 0.3),
        ("lpg", 0.35),
        ("pupuk", 0.03 if urban else 0.45),
        ("agen", 0.35),
    )


_UNIT_CHANCES = {(u, f): _unit_chances(u, f) for u in (False, True) for f in (False, True)}


def _few(rng: random.Random, items: list[str]) -> list[str]:
    """None, one or two distinct items, one most often."""
    k = min(len(items), (0, 1, 1, 2)[int(rng.random() * 4)])
    if k == 0:
        return []
    if k == 1:
        return [items[int(rng.random() * len(items))]]
    return rng.sample(items, 2)


def _make_cooperative(
    rng: random.Random, code: str, name: str, updated_at: datetime
) -> CooperativeProfile:
    urban = is_kelurahan(code)
    city = is_city(code)
    produce = produce_of(code)
    # Kelurahan farm less: Kalbar's two cities have their own table; elsewhere the produce is
    # known by province, so scale it down for kelurahan, and more so in cities.
    scale = 0.08 if city else 0.3
    if not urban or (city and code[:5] in KALBAR_PRODUCE):
        scale = 1.0

    commodities: list[str] = []  # canonical
    for key, share in produce.items():
        if rng.random() < share * scale:
            commodities.append(key)
    if len(commodities) > 4:
        commodities = rng.sample(commodities, 4)

    units: list[str] = []  # canonical
    for key, chance in _UNIT_CHANCES[urban, "ikan" in commodities]:
        if rng.random() < chance:
            units.append(key)
    processing = [c for c in commodities if rng.random() < 0.3][:2]
    if commodities and not processing and rng.random() < 0.1:
        processing = ["*"]

    written_units = [term(rng, UNIT_VARIANTS[u], urban=urban) for u in units]
    unit_text = {
        key: text.lower() if text.isupper() and len(text) > 4 else text
        for key, text in zip(units, written_units, strict=True)
    }
    for key in processing:
        written_units.append(term(rng, PROCESSING_VARIANTS.get(key, PROCESSING_VARIANTS["*"])))
    if len(written_units) > 3 and rng.random() < 0.3:  # some list the newest unit first
        written_units.insert(0, written_units.pop())
    written_commodities = [term(rng, COMMODITY_VARIANTS[c]) for c in commodities]
    commodity_text = dict(zip(commodities, written_commodities, strict=True))

    financing = _financing(rng) if rng.random() < 0.55 else None
    needs = _needs(rng, unit_text, commodity_text, financing)

    kind = "Kelurahan" if urban else "Desa"
    return CooperativeProfile(
        cooperative_id="KDMP-" + code.replace(".", ""),
        name=f"Koperasi {kind} Merah Putih {name}",
        village_code=code,
        member_count=_member_count(rng, urban),
        business_units=written_units,
        commodities=written_commodities,
        needs=needs,
        financing_need_idr=financing,
        updated_at=updated_at,
    )


def _needs(
    rng: random.Random, units: dict[str, str], commodities: dict[str, str], financing: int | None
) -> str:
    if rng.random() < 0.07:
        return ""
    phrases: list[str] = []
    if financing is not None and rng.random() < 0.6:
        unit = units.get("sembako") or next(
            (text for key, text in units.items() if key != "kantor"), "usaha koperasi"
        )
        phrases.append(rng.choice(FINANCING_NEEDS).format(a=rupiah_text(rng, financing), u=unit))
    for key in _few(rng, [k for k in units if k in UNIT_NEEDS]):
        phrases.append(rng.choice(UNIT_NEEDS[key]).format(u=units[key]))
    for key in _few(rng, list(commodities)):
        templates = COMMODITY_NEEDS.get(key, ()) + COMMODITY_NEEDS["*"]
        phrases.append(rng.choice(templates).format(c=commodities[key].lower()))
    if not phrases:
        phrases.append(rng.choice(GENERAL_NEEDS))
    joiner = rng.choice((", ", "; ", ". ", ", dan ", " & "))
    text = joiner.join(phrases)
    if rng.random() < 0.25:  # a phone typist
        text = shorthand(text)
    if rng.random() < 0.03:
        text = typo(rng, text)
    style = rng.random()
    if style < 0.4:
        text = text[0].upper() + text[1:]
    if style < 0.25:
        text += "."
    return text


def cooperatives(
    within: str | None = KALBAR,
    *,
    seed: int = 61,
    limit: int | None = None,
    updated_at: datetime | None = None,
) -> list[CooperativeProfile]:
    """One cooperative per village within ``within`` (``None``: all Indonesia), in code order.

    ``limit`` keeps that many villages, spread round-robin across regencies.
    """
    villages: Sequence[Region] = villages_within(within)
    if limit is not None and limit < len(villages):
        villages = spread(villages, max(0, limit))
    stamp = updated_at or default_updated_at(seed)
    wanted = {v.code for v in villages} if len(villages) < len(villages_within(None)) else None
    made: list[CooperativeProfile] = []
    # One random stream per regency, always run over the whole regency: a cooperative does not
    # depend on ``within`` or ``limit``, and seeding once per regency keeps it fast.
    for regency in sorted({v.code[:5] for v in villages}):
        rng = random.Random(f"{seed}:{regency}")
        for village in villages_by_regency()[regency]:
            coop = _make_cooperative(rng, village.code, village.name, stamp)
            if wanted is None or village.code in wanted:
                made.append(coop)
    return made
