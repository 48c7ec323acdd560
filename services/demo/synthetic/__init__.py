"""Realistic synthetic cooperatives and partner offers for the demo, tests and benchmarks.

One Koperasi Desa/Kelurahan Merah Putih per village of the region table, with business units,
commodities and needs that fit the village's area (see ``DOMAIN.md``), written the way many
hands type them: abbreviations ("USP"), spelling variants ("apotik"), English loans ("cold
storage"), local words ("merica"), product forms ("TBS", "gabah", "bokar"), odd casing and the
occasional typo. Offers are modelled on the real partners (BRI, BNI, Mandiri, BSI, Bulog,
ID FOOD, Pupuk Indonesia, Pertamina Patra Niaga, Kimia Farma, Pos Indonesia, Agrinas Pangan
Nusantara) plus clearly fictional offtake companies, NGOs and local government offices.

Everything is deterministic for a seed: cooperatives draw from one random stream per regency
(seed and regency code), always run over the whole regency, so a cooperative does not change
with ``within`` or ``limit``. Every item is constructed through the contract models, so it is
validated.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache

from schemas.events import CooperativeProfile, OfferType, PartnerOffer, PartnerType
from schemas.regions import Level, Region, region_table
from services.demo.synthetic.tables import (
    BANK_TERMS,
    BANKS,
    COMMODITY_NEEDS,
    COMMODITY_TRAININGS,
    COMMODITY_VARIANTS,
    COMPANY_SUFFIXES,
    DEFAULT_PRODUCE,
    FINANCING_NEEDS,
    GENERAL_NEEDS,
    ISLAND_WORDS,
    KALBAR_PRODUCE,
    NGOS,
    OFFTAKE,
    PROCESSING_VARIANTS,
    PROVINCE_PRODUCE,
    PROVINCE_SLUGS,
    SHORTHAND,
    TRAININGS,
    UNIT_NEEDS,
    UNIT_VARIANTS,
    Variants,
)

__all__ = ["cooperatives", "default_updated_at", "kalbar_demo", "national", "offers"]

WIB = timezone(timedelta(hours=7))
KALBAR = "61"

_SHORTHAND_RE = re.compile(r"\b(" + "|".join(k for k in SHORTHAND if k != "dan") + r"|dan)\b")


# ---------------------------------------------------------------------------------------------
# Random helpers
# ---------------------------------------------------------------------------------------------


_TABLES: dict[int, tuple[list[str], list[float]]] = {}


def _table(variants: Variants) -> tuple[list[str], list[float]]:
    """Values and cumulative weights, computed once per variant list."""
    found = _TABLES.get(id(variants))
    if found is None:
        values = [v for v, _ in variants]
        cum: list[float] = []
        total = 0.0
        for _, weight in variants:
            total += weight
            cum.append(total)
        found = _TABLES[id(variants)] = (values, [c / total for c in cum])
    return found


def _typo(rng: random.Random, text: str) -> str:
    """One plausible slip of the thumb in a word of five letters or more."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 2)
    kind = rng.random()
    if kind < 0.4:  # swap two neighbours
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    elif kind < 0.75:  # drop a letter
        word = word[:j] + word[j + 1 :]
    else:  # double a letter
        word = word[:j] + word[j] + word[j:]
    words[i] = word
    return " ".join(words)


def _noisy(rng: random.Random, text: str, typo_rate: float = 0.02) -> str:
    """Odd casing or a typo, now and then."""
    r = rng.random()
    if r >= 0.09 + typo_rate:
        return text
    if r < 0.03:
        return text.upper()
    if r < 0.07:
        return text.title()
    if r < 0.09:
        return text.capitalize()
    return _typo(rng, text)


def _term(rng: random.Random, variants: Variants, *, urban: bool = False) -> str:
    """One way of writing a term, with the occasional odd casing or typo."""
    values, cum = _TABLES.get(id(variants)) or _table(variants)
    term = values[bisect.bisect_right(cum, rng.random())]
    if "{" in term:
        term = term.replace("{desa}", "kelurahan" if urban else "desa")
        term = term.replace("{Desa}", "Kelurahan" if urban else "Desa")
    return _noisy(rng, term)


def _rupiah_text(rng: random.Random, amount: int) -> str:
    """An amount as people write it: Rp500 juta, 500jt, Rp 1,2 M, Rp750.000.000."""
    millions = amount / 1_000_000
    style = rng.random()
    if millions >= 1000 and style < 0.6:
        billions = f"{millions / 1000:.1f}".rstrip("0").rstrip(".").replace(".", ",")
        return rng.choice((f"Rp{billions} miliar", f"Rp {billions} M", f"{billions} M"))
    if style < 0.2:
        return "Rp" + f"{amount:,}".replace(",", ".")
    shown = f"{millions:g}".replace(".", ",")
    return rng.choice((f"Rp{shown} juta", f"Rp {shown} jt", f"{shown}jt", f"{shown} juta"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _short_name(region: Region) -> str:
    return region.name.removeprefix("Kabupaten ").removeprefix("Kota Administrasi ")


def _region_slug(region: Region) -> str:
    name = _short_name(region)
    if region.level is Level.REGENCY and name.startswith("Kota "):
        return _slug(name)
    return _slug(name.removeprefix("Kota "))


def _province_slug(code: str) -> str:
    return PROVINCE_SLUGS.get(code) or _slug(region_table().name(code))


def default_updated_at(seed: int) -> datetime:
    """The fixed aware timestamp used when none is given: 2026-11-01 08:00 WIB + seed seconds."""
    return datetime(2026, 11, 1, 8, 0, tzinfo=WIB) + timedelta(seconds=seed % 3600)


# ---------------------------------------------------------------------------------------------
# Cooperatives
# ---------------------------------------------------------------------------------------------


def _is_kelurahan(code: str) -> bool:
    return code.rsplit(".", 1)[-1].startswith("1")


def produce_of(code: str) -> dict[str, float]:
    """Canonical commodities of the area holding ``code`` with the share of rural cooperatives."""
    regency = code[:5]
    if regency in KALBAR_PRODUCE:
        return KALBAR_PRODUCE[regency]
    return PROVINCE_PRODUCE.get(code[:2], DEFAULT_PRODUCE)


def _grows(code: str, commodity: str) -> bool:
    """Whether ``commodity`` is a notable produce of the area holding ``code``."""
    if _is_city(code) and code[:5] not in KALBAR_PRODUCE:
        return False  # outside Kalimantan Barat produce is known by province: skip the cities
    return produce_of(code).get(commodity, 0) >= 0.15


def _is_city(code: str) -> bool:
    return len(code) >= 5 and code[3] == "7"  # regency codes 71-79 are cities (kota)


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
    urban = _is_kelurahan(code)
    city = _is_city(code)
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

    written_units = [_term(rng, UNIT_VARIANTS[u], urban=urban) for u in units]
    unit_text = {
        key: text.lower() if text.isupper() and len(text) > 4 else text
        for key, text in zip(units, written_units, strict=True)
    }
    for key in processing:
        written_units.append(_term(rng, PROCESSING_VARIANTS.get(key, PROCESSING_VARIANTS["*"])))
    if len(written_units) > 3 and rng.random() < 0.3:  # some list the newest unit first
        written_units.insert(0, written_units.pop())
    written_commodities = [_term(rng, COMMODITY_VARIANTS[c]) for c in commodities]
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
        phrases.append(rng.choice(FINANCING_NEEDS).format(a=_rupiah_text(rng, financing), u=unit))
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
        text = _SHORTHAND_RE.sub(lambda m: SHORTHAND[m.group(1)], text)
    if rng.random() < 0.03:
        text = _typo(rng, text)
    style = rng.random()
    if style < 0.4:
        text = text[0].upper() + text[1:]
    if style < 0.25:
        text += "."
    return text


@cache
def _villages(within: str | None) -> tuple[Region, ...]:
    return tuple(region_table().villages(within))


def _spread(villages: Sequence[Region], limit: int) -> list[Region]:
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
    villages: Sequence[Region] = _villages(within)
    if limit is not None and limit < len(villages):
        villages = _spread(villages, max(0, limit))
    stamp = updated_at or default_updated_at(seed)
    wanted = {v.code for v in villages} if len(villages) < len(_villages(None)) else None
    made: list[CooperativeProfile] = []
    # One random stream per regency, always run over the whole regency: a cooperative does not
    # depend on ``within`` or ``limit``, and seeding once per regency keeps it fast.
    for regency in sorted({v.code[:5] for v in villages}):
        rng = random.Random(f"{seed}:{regency}")
        for village in _villages_by_regency()[regency]:
            coop = _make_cooperative(rng, village.code, village.name, stamp)
            if wanted is None or village.code in wanted:
                made.append(coop)
    return made


@cache
def _villages_by_regency() -> dict[str, list[Region]]:
    by_regency: dict[str, list[Region]] = {}
    for village in sorted(_villages(None), key=lambda v: v.code):
        by_regency.setdefault(village.code[:5], []).append(village)
    return by_regency


# ---------------------------------------------------------------------------------------------
# Offers
# ---------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    """Where offers go: the regencies (and their provinces) inside ``within``."""

    within: str | None
    regencies: list[Region]
    provinces: list[Region]
    weights: list[int]  # villages per regency, to place offers where the cooperatives are


@cache
def _scope(within: str | None) -> _Scope:
    table = region_table()
    if within is not None and within.count(".") >= 1:
        regency = table.get(within[:5])
        regencies = [regency] if regency else []
    else:
        regencies = table.of_level(Level.REGENCY, within)
    counts: dict[str, int] = {}
    for v in _villages(within):
        counts[v.code[:5]] = counts.get(v.code[:5], 0) + 1
    regencies = [r for r in regencies if counts.get(r.code)]
    provinces = sorted({r.code[:2] for r in regencies})
    return _Scope(
        within=within,
        regencies=regencies,
        provinces=[p for p in (table.get(c) for c in provinces) if p is not None],
        weights=[counts[r.code] for r in regencies],
    )


@cache
def _districts() -> dict[str, list[Region]]:
    by_regency: dict[str, list[Region]] = {}
    for district in region_table().of_level(Level.DISTRICT):
        by_regency.setdefault(district.code[:5], []).append(district)
    return by_regency


class _OfferMaker:
    """Builds offers one at a time, keeping (partner_id, offer_id) unique."""

    def __init__(self, scope: _Scope, rng: random.Random, today: date, stamp: datetime) -> None:
        self.scope = scope
        self.rng = rng
        self.today = today
        self.stamp = stamp
        self.seen: set[tuple[str, str]] = set()
        self.offered: set[tuple[object, ...]] = set()
        self.distinct = True  # refuse a repeat of the same offer while there is room
        self.made: list[PartnerOffer] = []
        self.table = region_table()
        self.pools: dict[str | None, tuple[list[Region], list[int], dict[str, list[Region]]]] = {}

    # -- places ---------------------------------------------------------------------------------

    def _pool(self, fits: str | None) -> tuple[list[Region], list[int], dict[str, list[Region]]]:
        """Regencies that fit (``None``: all, ``"rural"``: not a city, else a commodity grown
        there), their village counts, and the same regencies by province; cached."""
        pool = self.pools.get(fits)
        if pool is None:
            pairs = [
                (r, w)
                for r, w in zip(self.scope.regencies, self.scope.weights, strict=True)
                if fits is None
                or (not _is_city(r.code) if fits == "rural" else _grows(r.code, fits))
            ] or list(zip(self.scope.regencies, self.scope.weights, strict=True))
            by_province: dict[str, list[Region]] = {}
            for r, _ in pairs:
                by_province.setdefault(r.code[:2], []).append(r)
            cum, total = [], 0
            for _, w in pairs:
                total += w
                cum.append(total)
            pool = self.pools[fits] = ([r for r, _ in pairs], cum, by_province)
        return pool

    def regency(self, fits: str | None = None) -> Region:
        regencies, cum, _ = self._pool(fits)
        return regencies[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def regions_for(
        self, level_mix: tuple[float, float, float], fits: str | None = None
    ) -> tuple[list[str], str]:
        """Region codes and a slug; ``level_mix`` is the chance of province, several regencies,
        one district; otherwise a single regency."""
        rng = self.rng
        r = rng.random()
        province_ok = self.scope.within is None or "." not in self.scope.within
        anchor = self.regency(fits)
        if province_ok and r < level_mix[0]:
            province = self.table.get(anchor.code[:2])
            assert province is not None
            return [province.code], _province_slug(province.code)
        if r < level_mix[0] + level_mix[1]:
            siblings = [reg for reg in self._pool(fits)[2][anchor.code[:2]] if reg != anchor]
            extra = rng.sample(siblings, min(len(siblings), rng.randint(1, 3)))
            chosen = sorted([anchor, *extra], key=lambda x: x.code)
            return [x.code for x in chosen], _region_slug(anchor)
        if r < sum(level_mix):
            districts = _districts().get(anchor.code)
            if districts:
                chosen_district = rng.choice(districts)
                return [chosen_district.code], _slug(chosen_district.name)
        return [anchor.code], _region_slug(anchor)

    def valid_until(self, chance: float = 0.5) -> date | None:
        if self.rng.random() >= chance:
            return None
        return self.today + timedelta(days=self.rng.randint(30, 400))

    # -- output ---------------------------------------------------------------------------------

    def add(self, partner_id: str, product: str, region_slug: str, **fields: object) -> None:
        base = f"{partner_id}-{product}-{region_slug}"[:52].rstrip("-")
        same = (partner_id, product, str(fields.get("regions")), fields.get("title"))
        if self.distinct and same in self.offered:
            return  # the partner already offers this there: draw something else
        self.offered.add(same)
        offer_id = f"{base}-{self.today.year}"
        n = 2
        while (partner_id, offer_id) in self.seen:
            offer_id = f"{base}-{self.today.year}-{n}"
            n += 1
        self.seen.add((partner_id, offer_id))
        self.made.append(
            PartnerOffer(offer_id=offer_id, partner_id=partner_id, updated_at=self.stamp, **fields)
        )

    # -- kinds ----------------------------------------------------------------------------------

    def bank(self, partner_id: str | None = None) -> None:
        rng = self.rng
        partner_id = partner_id or rng.choice(list(BANKS))
        partner_name, short = BANKS[partner_id]
        regions, slug = self.regions_for((0.1, 0.25, 0.0))
        where = self.table.describe(regions[0]) if len(regions) == 1 else "beberapa kabupaten"
        syariah = partner_id == "bsi"
        kind = rng.random()
        units: list[str] = []
        if kind < 0.55:
            product = "pembiayaan-kdmp"
            title = (
                f"{'Pembiayaan syariah' if syariah else 'Kredit'} Kopdes Merah Putih "
                f"{short} wilayah {where.split(',')[0]}"
            )
            low, high = 50_000_000, 3_000_000_000
            description = (
                f"{short} menyalurkan pembiayaan untuk Koperasi Desa/Kelurahan Merah "
                f"Putih di {where}: plafon hingga Rp3 miliar per koperasi (modal kerja "
                f"maksimal Rp500 juta), {BANK_TERMS}."
            )
            if syariah:
                description = description.replace(
                    "bunga 6% per tahun", "margin setara 6% per tahun"
                )
        elif kind < 0.8:
            product = "modal-kerja"
            title = f"Modal kerja operasional gerai & unit usaha koperasi ({short})"
            low, high = rng.choice((10_000_000, 25_000_000, 50_000_000)), 500_000_000
            description = (
                f"Pinjaman modal kerja hingga Rp500 juta untuk operasional gerai "
                f"sembako, apotek desa dan unit usaha lain di {where}; {BANK_TERMS}."
            )
            units = rng.sample(
                [
                    "gerai sembako",
                    "kios sembako",
                    "apotek desa",
                    "apotik",
                    "klinik desa",
                    "pangkalan LPG",
                    "kios pupuk",
                ],
                rng.randint(2, 4),
            )
        else:
            product = "kur" if not syariah else "kur-syariah"
            title = f"KUR {'Syariah ' if syariah else ''}untuk anggota lewat unit simpan pinjam"
            low, high = 10_000_000, rng.choice((300_000_000, 500_000_000))
            description = (
                f"{short} menyalurkan KUR untuk usaha anggota melalui USP koperasi di "
                f"{where}. Koperasi wajib punya unit simpan pinjam yang aktif."
            )
            units = [rng.choice(("USP", "unit simpan pinjam", "simpan pinjam"))]
        if kind < 0.55 and rng.random() < 0.4:
            units = rng.sample(
                [
                    "gerai sembako",
                    "USP",
                    "apotek desa",
                    "klinik desa",
                    "gudang",
                    "cold storage",
                    "logistik",
                ],
                rng.randint(2, 5),
            )
        self.add(
            partner_id,
            product,
            slug,
            partner_name=partner_name,
            partner_type=PartnerType.BANK,
            offer_type=OfferType.FINANCING,
            title=title,
            description=description,
            business_units=units,
            regions=regions,
            min_members=rng.choice((None, None, 20, 25, 50, 100)),
            min_amount_idr=low,
            max_amount_idr=high,
            capacity=rng.choice((None, None, 25, 40, 60, 100)),
            valid_until=self.valid_until(0.6),
        )

    def bulog(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.5, 0.2, 0.0))
        spread = "provinsi" if len(regions[0]) == 2 else "kabupaten"
        self.add(
            "bulog",
            rng.choice(("beras-sphp", "sembako")),
            slug,
            partner_name="Perum Bulog",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title=rng.choice(
                (
                    "Pasokan beras SPHP dan minyak goreng untuk gerai sembako",
                    "Kemitraan gerai sembako dengan Perum Bulog",
                )
            ),
            description=(
                f"Perum Bulog memasok beras SPHP, gula pasir dan minyak goreng ke "
                f"gerai/kios sembako koperasi di {self.table.describe(regions[0])} dengan "
                f"harga sesuai HET. Pengiriman dari gudang Bulog {spread}."
            ),
            business_units=["gerai sembako", "kios sembako"],
            commodities=["beras", "gula pasir", "minyak goreng"],
            regions=regions,
            capacity=rng.choice((None, 50, 100, 200)),
            valid_until=self.valid_until(0.5),
        )

    def idfood(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.6, 0.2, 0.0))
        product, title, goods = rng.choice(
            (
                (
                    "sembako",
                    "Pasokan gula, minyak goreng dan tepung terigu untuk kios sembako",
                    ["gula", "minyak goreng", "tepung terigu", "beras"],
                ),
                (
                    "gula-minyak",
                    "Kemitraan pasokan gula pasir dan minyak goreng kemasan",
                    ["gula pasir", "minyak goreng"],
                ),
                (
                    "beras-premium",
                    "Pasokan beras premium dan medium untuk gerai koperasi",
                    ["beras"],
                ),
            )
        )
        self.add(
            "id-food",
            product,
            slug,
            partner_name="ID FOOD (PT Rajawali Nusantara Indonesia)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title=title,
            description=(
                f"ID FOOD menjadi pemasok tetap {', '.join(goods)} untuk gerai sembako Kopdes "
                f"Merah Putih di {self.table.describe(regions[0])}, pembayaran tempo 14 hari."
            ),
            business_units=["gerai sembako", "toko sembako"],
            commodities=goods,
            regions=regions,
            min_members=rng.choice((None, 20)),
            valid_until=self.valid_until(0.5),
        )

    def pupuk(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.15, 0.3, 0.1), lambda code: not _is_city(code))
        self.add(
            "pupuk-indonesia",
            "kios-pupuk",
            slug,
            partner_name="PT Pupuk Indonesia (Persero)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title="Penunjukan kios pupuk resmi (pupuk bersubsidi dan nonsubsidi)",
            description=(
                "Koperasi dapat menjadi pengecer resmi pupuk bersubsidi (Urea, NPK "
                "Phonska) dan nonsubsidi. Syarat: gudang kering minimal 20 m², NIB, "
                "terdaftar di e-RDKK."
            ),
            business_units=["kios pupuk", "pengecer pupuk", "KPL"],
            commodities=["pupuk urea", "NPK"],
            regions=regions,
            capacity=rng.choice((None, 10, 20, 30)),
            valid_until=self.valid_until(0.4),
        )

    def lpg(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.2, 0.3, 0.15))
        self.add(
            "pertamina-patra-niaga",
            "pangkalan-lpg",
            slug,
            partner_name="PT Pertamina Patra Niaga",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title="Pendaftaran pangkalan LPG 3 kg untuk koperasi desa",
            description=(
                "Pertamina Patra Niaga membuka pendaftaran pangkalan LPG 3 kg bersubsidi "
                "bagi Kopdes Merah Putih. Penjualan sesuai HET daerah, wajib pencatatan "
                "pembeli dengan NIK."
            ),
            business_units=["pangkalan LPG 3 kg", "pangkalan gas"],
            commodities=["LPG 3 kg"],
            regions=regions,
            capacity=rng.choice((15, 30, 50, None)),
            valid_until=self.valid_until(0.6),
        )

    def pharmacy(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.5, 0.2, 0.0))
        self.add(
            "kimia-farma",
            "obat-apotek-desa",
            slug,
            partner_name="PT Kimia Farma Tbk",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title="Pasokan obat dan BMHP untuk apotek dan klinik desa",
            description=(
                "Kimia Farma bersama Pos Indonesia memasok obat generik, obat bebas dan "
                "bahan medis habis pakai untuk apotek/klinik desa, diantar sampai ke "
                "koperasi. Apotek wajib punya apoteker penanggung jawab."
            ),
            business_units=["apotek desa", "apotik desa", "klinik desa"],
            commodities=["obat generik", "BMHP"],
            regions=regions,
            capacity=rng.choice((None, 40, 80)),
            valid_until=self.valid_until(0.5),
        )

    def pos(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.5, 0.3, 0.0))
        self.add(
            "pos-indonesia",
            rng.choice(("logistik", "kirim-hasil")),
            slug,
            partner_name="PT Pos Indonesia (Persero)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.LOGISTICS,
            title="Layanan logistik dan pengiriman hasil usaha koperasi",
            description=(
                "Pos Indonesia menjemput dan mengirim barang koperasi (sembako, obat, "
                "hasil bumi anggota) dengan tarif khusus Kopdes Merah Putih, termasuk "
                "layanan agen pos di gerai koperasi."
            ),
            business_units=["logistik", "unit logistik", "gerai sembako"],
            regions=regions,
            valid_until=self.valid_until(0.4),
        )

    def agrinas(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.3, 0.3, 0.0))
        what = rng.choice(
            (
                (
                    "gudang-gerai",
                    "Pembangunan gerai dan gudang Kopdes Merah Putih",
                    "Agrinas Pangan Nusantara membangun gerai sembako dan gudang koperasi di lahan "
                    "desa yang sudah siap (minimal 1.000 m²).",
                    ["gerai sembako", "gudang", "pergudangan"],
                ),
                (
                    "truk",
                    "Pengadaan truk operasional koperasi",
                    "Penyediaan truk engkel untuk unit logistik koperasi, skema sewa-beli.",
                    ["logistik", "unit logistik"],
                ),
                (
                    "cold-storage",
                    "Pembangunan cold storage untuk koperasi",
                    "Gudang pendingin kapasitas 10–20 ton untuk ikan dan hasil bumi anggota.",
                    ["cold storage", "gudang pendingin"],
                ),
            )
        )
        product, title, description, units = what
        self.add(
            "agrinas-pangan-nusantara",
            product,
            slug,
            partner_name="PT Agrinas Pangan Nusantara (Persero)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.EQUIPMENT,
            title=title,
            description=description,
            business_units=units,
            regions=regions,
            min_members=rng.choice((None, 50, 100)),
            capacity=rng.choice((None, 10, 20, 40)),
            valid_until=self.valid_until(0.5),
        )

    def offtake(self, commodity: str | None = None) -> None:
        rng = self.rng
        if commodity is None:
            anchor = self.regency()
            produce = {k: v for k, v in produce_of(anchor.code).items() if k in OFFTAKE}
            if not produce:
                return self.training()
            commodity = rng.choices(list(produce), weights=list(produce.values()))[0]
        offtake = OFFTAKE[commodity]
        regions, slug = self.regions_for((0.1, 0.35, 0.15), commodity)
        island = ISLAND_WORDS.get(regions[0][0], ("Nusantara",))
        company = (
            f"{rng.choice(('PT', 'PT', 'CV'))} {rng.choice(offtake.company_words)} "
            f"{rng.choice(island)} {rng.choice(COMPANY_SUFFIXES)}"
        )
        volume = rng.choice(
            (
                "minimal 1 ton per minggu",
                "minimal 5 ton per bulan",
                "berapa pun volumenya",
                "minimal 500 kg per pengiriman",
            )
        )
        self.add(
            _slug(company.removeprefix("PT ").removeprefix("CV ")),
            offtake.product,
            slug,
            partner_name=company,
            partner_type=PartnerType.BUSINESS,
            offer_type=OfferType.OFFTAKE,
            title=f"Membeli {offtake.goods} dari koperasi",
            description=(
                f"{company} membeli {offtake.goods} hasil anggota koperasi di "
                f"{self.table.describe(regions[0])}, {volume}. Harga mengikuti harga "
                f"pasar/penetapan dinas, pembayaran maksimal 7 hari, dijemput di gudang "
                f"koperasi."
            ),
            business_units=list(offtake.units),
            commodities=list(offtake.terms),
            regions=regions,
            min_members=rng.choice((None, None, 30, 50)),
            capacity=rng.choice((None, 5, 10, 20)),
            valid_until=self.valid_until(0.6),
        )
        return None

    def training(self, government: bool | None = None) -> None:
        rng = self.rng
        anchor = self.regency()
        province = self.table.get(anchor.code[:2])
        assert province is not None
        if government is None:
            government = rng.random() < 0.5
        commodity_trainings = [c for c in produce_of(anchor.code) if c in COMMODITY_TRAININGS]
        if commodity_trainings and rng.random() < 0.4:
            c = rng.choice(commodity_trainings)
            training = COMMODITY_TRAININGS[c]
            units, commodities = OFFTAKE[c].units, OFFTAKE[c].terms
            regions, slug = self.regions_for((0.2, 0.3, 0.2), c)
        else:
            training = rng.choice(TRAININGS)
            units, commodities = training.units, training.commodities
            regions, slug = self.regions_for((0.4, 0.2, 0.15))
        if government:
            province = self.table.get(regions[0][:2])
            assert province is not None
            partner_id = f"dinas-kukm-{_province_slug(province.code)}"[:64]
            partner_name = f"Dinas Koperasi dan UKM Provinsi {province.name}"
            partner_type = PartnerType.GOVERNMENT
        else:
            partner_id, partner_name = rng.choice(NGOS)
            partner_type = PartnerType.NGO
        self.add(
            partner_id,
            f"pelatihan-{training.product}",
            slug,
            partner_name=partner_name,
            partner_type=partner_type,
            offer_type=OfferType.TRAINING,
            title=training.title,
            description=training.description + " Gratis untuk pengurus dan pengelola unit.",
            business_units=list(units),
            commodities=list(commodities),
            regions=regions,
            capacity=rng.choice((None, 20, 30, 50)),
            valid_until=self.valid_until(0.8),
        )


# The partners every offer set starts with, so the real ones of DOMAIN.md always appear.
_CORE: tuple[tuple[str, tuple[object, ...]], ...] = (
    ("bank", ("bri",)),
    ("bank", ("bni",)),
    ("bank", ("mandiri",)),
    ("bank", ("bsi",)),
    ("bulog", ()),
    ("idfood", ()),
    ("pupuk", ()),
    ("lpg", ()),
    ("pharmacy", ()),
    ("pos", ()),
    ("agrinas", ()),
    ("offtake", ("sawit",)),
    ("offtake", ("karet",)),
    ("training", (True,)),
    ("offtake", ("lada",)),
    ("offtake", ("kopi liberika",)),
    ("offtake", ("ikan",)),
    ("training", (False,)),
)
# Afterwards: kind -> weight (financing ~35 %, supply ~22 %, offtake ~22 %, rest).
_MIX = {
    "bank": 35,
    "bulog": 6,
    "idfood": 4,
    "pupuk": 5,
    "lpg": 5,
    "pharmacy": 3,
    "pos": 4,
    "agrinas": 6,
    "offtake": 22,
    "training": 10,
}


def offers(
    within: str | None = KALBAR,
    *,
    count: int = 30,
    seed: int = 61,
    today: date | None = None,
    updated_at: datetime | None = None,
) -> list[PartnerOffer]:
    """``count`` partner offers for cooperatives within ``within`` (``None``: all Indonesia).

    The first ones are the real partners of DOMAIN.md (four state banks, Bulog, ID FOOD,
    Pupuk Indonesia, Pertamina Patra Niaga, Kimia Farma, Pos Indonesia, Agrinas) and offtakers
    of the main produce; the rest follow a realistic mix of offer types.
    """
    scope = _scope(within)
    if not scope.regencies:
        raise ValueError(f"no villages within {within!r}")
    rng = random.Random(f"offers:{seed}:{within}")
    maker = _OfferMaker(scope, rng, today or date.today(), updated_at or default_updated_at(seed))
    kinds, weights = list(_MIX), list(_MIX.values())
    step = 0
    while len(maker.made) < count:
        if step < len(_CORE):
            name, args = _CORE[step]
            if name == "offtake" and not any(_grows(r.code, str(args[0])) for r in scope.regencies):
                step += 1
                continue
        else:
            name, args = rng.choices(kinds, weights=weights)[0], ()
        getattr(maker, name)(*args)
        step += 1
        if step > 20 * count + 100:  # a small area ran out of distinct offers: allow repeats
            maker.distinct = False
    return maker.made[:count]


def kalbar_demo(
    *, seed: int = 61, limit: int | None = None
) -> tuple[list[CooperativeProfile], list[PartnerOffer]]:
    """The Kalimantan Barat demo: a cooperative per village (2,145) and about 30 offers."""
    return cooperatives(KALBAR, seed=seed, limit=limit), offers(KALBAR, count=30, seed=seed)


def national(
    *, seed: int = 83, offer_count: int = 10_000
) -> tuple[list[CooperativeProfile], list[PartnerOffer]]:
    """All Indonesia: 83,762 cooperatives and ``offer_count`` offers."""
    return cooperatives(None, seed=seed), offers(None, count=offer_count, seed=seed)
