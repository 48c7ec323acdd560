"""A small seeded generator of cooperatives and offers typed the way people type them.

Used by ``bench_matcher.py`` and by the matcher's recall tests. Deliberately simple (a
colleague's ``services/demo/synthetic/`` is the realistic one): each cooperative gets 1-3
units and 1-3 local commodities, written with variants, abbreviations and occasional
typos; offers target a regency, a province, a district, several regencies or the nation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date

from matcher.model import Cooperative, Offer

UNITS: dict[str, list[str]] = {
    "sembako": ["Gerai Sembako", "kios sembako", "toko kelontong", "warung sembako", "Sembako"],
    "simpan_pinjam": ["USP", "Unit Simpan Pinjam", "simpan-pinjam", "KSP", "savings and loan"],
    "klinik": ["klinik desa", "Klinik", "poskesdes"],
    "apotek": ["apotek desa", "apotik", "Apotek Desa"],
    "gudang": ["gudang", "pergudangan", "warehouse"],
    "cold_storage": ["cold storage", "gudang pendingin", "Cold-Storage"],
    "logistik": ["logistik", "unit angkutan", "ekspedisi"],
    "pangkalan_lpg": ["pangkalan LPG 3kg", "pangkalan gas melon", "Pangkalan Elpiji"],
    "kios_pupuk": ["kios pupuk", "KPL", "kios saprodi"],
    "agen_bank": ["BRILink", "agen46", "agen bank"],
    "pengolahan": ["unit pengolahan", "pengolahan hasil", "penggilingan"],
}
COMMODITIES: dict[str, list[str]] = {
    "sawit": ["sawit", "kelapa sawit", "TBS", "TBS sawit", "sawet"],
    "karet": ["karet", "getah karet", "bokar", "lateks"],
    "lada": ["lada", "merica", "sahang", "lada putih"],
    "kopi": ["kopi", "kopi liberika", "robusta", "coffee", "kopi arabika"],
    "kelapa": ["kelapa", "kelapa dalam", "kelapa bulat"],
    "kopra": ["kopra", "copra"],
    "padi": ["padi", "gabah", "padi sawah"],
    "jagung": ["jagung", "jagung pipilan", "jagong"],
    "ubi_kayu": ["singkong", "ubi kayu", "ketela pohon"],
    "jeruk": ["jeruk", "jeruk siam", "limau"],
    "sayuran": ["sayuran", "sayur-sayuran", "sayur mayur"],
    "cabai": ["cabai", "cabe rawit", "lombok"],
    "ikan": ["ikan", "ikan laut", "hasil tangkapan", "ikan asin"],
    "udang": ["udang", "udang vaname"],
    "kakao": ["kakao", "coklat", "cocoa"],
    "sapi": ["sapi", "sapi potong"],
    "bawang": ["bawang merah", "bawang"],
    "rumput_laut": ["rumput laut", "seaweed"],
    "cengkeh": ["cengkeh", "cengkih"],
    "madu": ["madu", "madu kelulut"],
}
GOODS: dict[str, list[str]] = {
    "sembako": ["beras", "gula pasir", "minyak goreng", "Minyakita", "tepung terigu"],
    "kios_pupuk": ["pupuk urea", "NPK", "pupuk subsidi"],
    "pangkalan_lpg": ["LPG 3 kg", "gas melon"],
    "apotek": ["obat generik", "obat-obatan"],
}
NEEDS: list[str] = [
    "",
    "",
    "",
    "butuh modal kerja untuk {unit}",
    "ingin menjual {commodity} anggota",
    "cari pembeli {commodity}",
    "perlu pasokan {good}",
    "pelatihan pembukuan",
    "butuh truk untuk angkut {commodity}",
    "butuh pinjaman modal usaha",
]
OFFER_TITLES: dict[str, list[str]] = {
    "financing": [
        "Kredit modal kerja {unit}",
        "Pembiayaan KUR untuk {unit}",
        "Pembiayaan modal usaha koperasi",
    ],
    "supply": ["Pasokan {good} untuk {unit}", "Supply {good}"],
    "offtake": ["Pembelian {commodity}", "Dibeli: {commodity} petani", "Serap {commodity}"],
    "logistics": ["Jasa angkut {commodity}", "Layanan pengiriman dari gudang"],
    "equipment": ["Bantuan {unit} untuk koperasi", "Truk dan peralatan {unit}"],
    "training": ["Pelatihan budidaya {commodity}", "Pelatihan tata kelola koperasi"],
}


def _typo(text: str, rng: random.Random) -> str:
    """One dropped letter, as hurried typing does."""
    if len(text) < 7:
        return text
    i = rng.randrange(2, len(text) - 1)
    return text[:i] + text[i + 1 :]


def _write(options: list[str], rng: random.Random, typo_rate: float = 0.05) -> str:
    text = rng.choice(options)
    return _typo(text, rng) if rng.random() < typo_rate else text


def _local_commodities(province: str) -> list[str]:
    """Five commodities per province, fixed for the province: local potential."""
    return random.Random(f"local:{province}").sample(sorted(COMMODITIES), 5)


def cooperatives(village_codes: Sequence[str], seed: int = 1) -> list[Cooperative]:
    rng = random.Random(seed)
    out: list[Cooperative] = []
    for i, code in enumerate(village_codes):
        units = rng.sample(sorted(UNITS), rng.randint(1, 3))
        local = _local_commodities(code.split(".")[0])
        goods = rng.sample(local, rng.randint(0, 3))
        need = rng.choice(NEEDS).format(
            unit=_write(UNITS[units[0]], rng),
            commodity=_write(COMMODITIES[goods[0]], rng) if goods else "hasil panen",
            good=_write(GOODS.get(units[0], GOODS["sembako"]), rng),
        )
        wants_money = "modal" in need or "pinjaman" in need
        out.append(
            Cooperative(
                cooperative_id=f"coop-{i:06d}",
                village_code=code,
                member_count=rng.randint(9, 400),
                business_units=tuple(_write(UNITS[u], rng) for u in units),
                commodities=tuple(_write(COMMODITIES[c], rng) for c in goods),
                needs=need,
                financing_need_idr=rng.choice([50, 100, 300, 800, 2000, 4000]) * 1_000_000
                if wants_money
                else None,
            )
        )
    return out


def offers(village_codes: Sequence[str], n: int, seed: int = 2) -> list[Offer]:
    rng = random.Random(seed)
    regencies = sorted({".".join(c.split(".")[:2]) for c in village_codes})
    provinces = sorted({c.split(".")[0] for c in village_codes})
    districts = sorted({".".join(c.split(".")[:3]) for c in village_codes})
    out: list[Offer] = []
    types = ["financing", "supply", "offtake", "offtake", "logistics", "equipment", "training"]
    for i in range(n):
        offer_type = rng.choice(types)
        scope = rng.random()
        if scope < 0.45:
            regions: tuple[str, ...] = (rng.choice(regencies),)
        elif scope < 0.75:
            regions = (rng.choice(provinces),)
        elif scope < 0.85:
            regions = (rng.choice(districts),)
        elif scope < 0.95:
            regions = tuple(rng.sample(regencies, 3))
        else:
            regions = ()
        unit = rng.choice(sorted(GOODS)) if offer_type == "supply" else rng.choice(sorted(UNITS))
        province = regions[0].split(".")[0] if regions else rng.choice(provinces)
        commodity = rng.choice(_local_commodities(province))
        title = rng.choice(OFFER_TITLES[offer_type]).format(
            unit=_write(UNITS[unit], rng),
            commodity=_write(COMMODITIES[commodity], rng),
            good=_write(GOODS.get(unit, GOODS["sembako"]), rng),
        )
        business_units: tuple[str, ...] = ()
        commodities: tuple[str, ...] = ()
        if offer_type in ("financing", "supply", "equipment") and rng.random() < 0.7:
            business_units = (_write(UNITS[unit], rng),)
        if offer_type in ("offtake", "logistics") and rng.random() < 0.8:
            commodities = (_write(COMMODITIES[commodity], rng),)
        if offer_type == "supply" and rng.random() < 0.6:
            commodities = (_write(GOODS[unit], rng),)
        financing = offer_type == "financing"
        out.append(
            Offer(
                offer_id=f"offer-{i:05d}",
                partner_id=f"partner-{i % 150:03d}",
                offer_type=offer_type,
                title=title,
                business_units=business_units,
                commodities=commodities,
                regions=regions,
                min_members=rng.choice([None, None, 20, 50]),
                min_amount_idr=10_000_000 if financing else None,
                max_amount_idr=3_000_000_000 if financing else None,
                valid_until=rng.choice([None, None, date(2027, 12, 31), date(2025, 1, 1)]),
            )
        )
    return out
