"""The synthetic data generator: valid, deterministic, plausible, and written like people write."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest

from schemas.events import CooperativeProfile, OfferType, PartnerOffer
from schemas.regions import Level, regency_code, region_table
from services.demo import synthetic

TODAY = date(2026, 11, 27)
REAL_PARTNERS = {
    "bri",
    "bni",
    "mandiri",
    "bsi",
    "bulog",
    "id-food",
    "pupuk-indonesia",
    "pertamina-patra-niaga",
    "kimia-farma",
    "pos-indonesia",
    "agrinas-pangan-nusantara",
}

LADA = re.compile(r"lada|merica|mrica|sahang")
SAWIT = re.compile(r"sawit|\btbs\b")
FISH = re.compile(r"ikan|hasil tangkapan|hasil laut|perikanan")
KOPI = re.compile(r"kopi|liberi")


@pytest.fixture(scope="module")
def kalbar() -> list[CooperativeProfile]:
    return synthetic.cooperatives("61")


@pytest.fixture(scope="module")
def demo_offers() -> list[PartnerOffer]:
    return synthetic.offers("61", today=TODAY)


def _by_regency(coops: list[CooperativeProfile]) -> dict[str, list[CooperativeProfile]]:
    grouped: dict[str, list[CooperativeProfile]] = defaultdict(list)
    for coop in coops:
        grouped[regency_code(coop.village_code)].append(coop)
    return grouped


def _share(coops: list[CooperativeProfile], pattern: re.Pattern[str]) -> float:
    hits = sum(any(pattern.search(c.lower()) for c in coop.commodities) for coop in coops)
    return hits / len(coops)


# --- cooperatives -----------------------------------------------------------------------------


def test_one_cooperative_per_kalbar_village(kalbar: list[CooperativeProfile]) -> None:
    villages = {v.code: v for v in region_table().villages("61")}
    assert len(kalbar) == len(villages) == 2145
    assert {c.village_code for c in kalbar} == set(villages)
    assert len({c.cooperative_id for c in kalbar}) == 2145
    for coop in kalbar:
        assert coop.cooperative_id == "KDMP-" + coop.village_code.replace(".", "")
        kind = "Kelurahan" if coop.village_code.split(".")[3].startswith("1") else "Desa"
        assert coop.name == f"Koperasi {kind} Merah Putih {villages[coop.village_code].name}"


def test_profiles_are_valid_contract_payloads(kalbar: list[CooperativeProfile]) -> None:
    for coop in kalbar:
        assert isinstance(coop, CooperativeProfile)
        assert CooperativeProfile.model_validate_json(coop.model_dump_json()) == coop


def test_member_counts_are_plausible(kalbar: list[CooperativeProfile]) -> None:
    counts = [c.member_count for c in kalbar]
    assert min(counts) >= 9
    assert sum(20 <= n <= 400 for n in counts) / len(counts) > 0.85
    assert 0 < sum(n > 400 for n in counts) / len(counts) < 0.1


def test_financing_needs_are_within_the_bank_range(kalbar: list[CooperativeProfile]) -> None:
    amounts = [c.financing_need_idr for c in kalbar if c.financing_need_idr is not None]
    assert 0.3 < len(amounts) / len(kalbar) < 0.8
    assert all(0 < a <= 3_000_000_000 for a in amounts)
    assert sum(50_000_000 <= a <= 1_500_000_000 for a in amounts) / len(amounts) > 0.75


def test_deterministic_for_a_seed() -> None:
    assert synthetic.cooperatives("61.11", seed=7) == synthetic.cooperatives("61.11", seed=7)
    assert synthetic.cooperatives("61.11", seed=7) != synthetic.cooperatives("61.11", seed=8)
    first = synthetic.offers("61", seed=7, today=TODAY)
    assert first == synthetic.offers("61", seed=7, today=TODAY)
    assert first != synthetic.offers("61", seed=8, today=TODAY)


def test_updated_at_is_fixed_and_aware_unless_given(kalbar: list[CooperativeProfile]) -> None:
    stamp = synthetic.default_updated_at(61)
    assert stamp.tzinfo is not None
    assert {c.updated_at for c in kalbar} == {stamp}
    given = datetime(2025, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=7)))
    coops = synthetic.cooperatives("61.71", updated_at=given)
    assert {c.updated_at for c in coops} == {given}
    offers = synthetic.offers("61", count=5, today=TODAY, updated_at=given)
    assert {o.updated_at for o in offers} == {given}


def test_limit_spreads_across_regencies_and_keeps_each_cooperative(
    kalbar: list[CooperativeProfile],
) -> None:
    coops, offers = synthetic.kalbar_demo(limit=28)
    assert len(coops) == 28
    assert Counter(regency_code(c.village_code) for c in coops) == {
        r.code: 2 for r in region_table().of_level(Level.REGENCY, "61")
    }
    full = {c.cooperative_id: c for c in kalbar}
    assert all(full[c.cooperative_id] == c for c in coops)
    assert 25 <= len(offers) <= 35


def test_produce_fits_the_regency(kalbar: list[CooperativeProfile]) -> None:
    by = _by_regency(kalbar)
    assert _share(by["61.01"], LADA) > 0.2  # Sambas
    assert _share(by["61.07"], LADA) > 0.2  # Bengkayang
    assert _share(by["61.06"], LADA) == 0  # Kapuas Hulu
    assert _share(by["61.71"], SAWIT) < 0.1  # Kota Pontianak
    assert _share(by["61.03"], SAWIT) > 0.6  # Sanggau
    assert _share(by["61.11"], FISH) > 0.4  # Kayong Utara, on the coast
    assert _share(by["61.09"], FISH) == 0  # Sekadau, inland
    assert _share(by["61.07"], re.compile("jagung")) > 0.3
    assert _share(by["61.08"], re.compile("singkong|ubi|ketela")) > 0.25  # Landak
    kopi = {r for r, coops in by.items() if _share(coops, KOPI) > 0}
    assert kopi == {"61.01", "61.11", "61.12"}  # kopi liberika areas
    assert _share(by["61.01"], re.compile("jeruk|limau")) > 0.15


def test_urban_kelurahan_have_few_farm_commodities(kalbar: list[CooperativeProfile]) -> None:
    pontianak = _by_regency(kalbar)["61.71"]
    assert sum(not c.commodities for c in pontianak) / len(pontianak) > 0.6
    pupuk = sum(any("pupuk" in u.lower() for u in c.business_units) for c in pontianak)
    assert pupuk / len(pontianak) < 0.1
    assert all(c.name.startswith("Koperasi Kelurahan Merah Putih ") for c in pontianak)


def test_terms_arrive_in_the_variants_people_type(kalbar: list[CooperativeProfile]) -> None:
    units = Counter(u for c in kalbar for u in c.business_units)
    commodities = Counter(t for c in kalbar for t in c.commodities)
    lowered_units = {u.lower() for u in units}
    lowered_commodities = {t.lower() for t in commodities}
    assert "USP" in units
    assert any("simpan pinjam" in u for u in lowered_units)
    assert any("apotik" in u for u in lowered_units)
    assert any("apotek" in u for u in lowered_units)
    assert {"cold storage", "gudang pendingin"} <= lowered_units
    assert any("brilink" in u for u in lowered_units)
    assert {"lada", "merica", "sawit", "tbs", "bokar", "lateks", "getah karet", "gabah"} <= (
        lowered_commodities
    )
    assert any(u.isupper() and len(u) > 5 for u in units)  # odd casing
    assert any("-" in t for t in list(units) + list(commodities))  # hyphens
    needs = " ".join(c.needs for c in kalbar)
    assert "butuh modal kerja" in needs
    assert re.search(r"\b(utk|yg|dgn)\b", needs)  # phone shorthand


def test_needs_speak_of_the_cooperatives_own_units_and_produce(
    kalbar: list[CooperativeProfile],
) -> None:
    with_needs = [c for c in kalbar if c.needs]
    assert len(with_needs) / len(kalbar) > 0.85
    own = sum(
        any(term.lower() in c.needs.lower() for term in c.business_units + c.commodities)
        for c in with_needs
    )
    assert own / len(with_needs) > 0.6


# --- offers -----------------------------------------------------------------------------------


def test_demo_offers_are_valid_and_unique(demo_offers: list[PartnerOffer]) -> None:
    assert len(demo_offers) == 30
    assert len({(o.partner_id, o.offer_id) for o in demo_offers}) == 30
    for offer in demo_offers:
        assert isinstance(offer, PartnerOffer)
        assert PartnerOffer.model_validate_json(offer.model_dump_json()) == offer
        assert re.fullmatch(r"[a-z0-9-]+-2026(-\d+)?", offer.offer_id)
        assert offer.offer_id.startswith(offer.partner_id + "-")
        assert offer.regions and all(r == "61" or r.startswith("61.") for r in offer.regions)
        assert offer.valid_until is None or offer.valid_until > TODAY
        if offer.max_amount_idr is not None:
            assert offer.max_amount_idr <= 3_000_000_000


def test_demo_offers_include_the_real_partners(demo_offers: list[PartnerOffer]) -> None:
    assert {o.partner_id for o in demo_offers} >= REAL_PARTNERS
    assert {o.offer_type for o in demo_offers} == set(OfferType)
    bought = {t.lower() for o in demo_offers if o.offer_type == "offtake" for t in o.commodities}
    assert {"sawit", "karet", "lada", "kopi", "ikan"} <= bought
    banks = [o for o in demo_offers if o.partner_type == "bank"]
    assert all(o.offer_type == "financing" and o.max_amount_idr for o in banks)


def test_offtakers_buy_where_the_produce_grows(demo_offers: list[PartnerOffer]) -> None:
    lada_regencies = {"61.01", "61.03", "61.05", "61.07"}
    for offer in demo_offers:
        if offer.offer_type == "offtake" and "lada" in offer.commodities:
            for region in offer.regions:
                assert region == "61" or regency_code(region) in lada_regencies


def test_offers_elsewhere_keep_their_produce_plausible() -> None:
    jakarta = synthetic.offers("31", count=60, today=TODAY)
    assert all(r.startswith("31") for o in jakarta for r in o.regions)
    bought = {t for o in jakarta if o.offer_type == "offtake" for t in o.commodities}
    assert not bought & {"sawit", "karet", "lada", "kopi liberika"}
    kubu_raya = synthetic.offers("61.12", count=10, today=TODAY)
    assert all(r.startswith("61.12") for o in kubu_raya for r in o.regions)


# --- national ---------------------------------------------------------------------------------


def test_national_set() -> None:
    started = time.perf_counter()
    coops, offers = synthetic.national()
    elapsed = time.perf_counter() - started
    assert len(coops) == 83_762
    assert len({c.cooperative_id for c in coops}) == 83_762
    assert len(offers) == 10_000
    assert len({(o.partner_id, o.offer_id) for o in offers}) == 10_000
    provinces = {r.code for r in region_table().of_level(Level.PROVINCE)}
    assert {r[:2] for o in offers for r in o.regions} == provinces
    broad = sum(all(r.count(".") <= 1 for r in o.regions) for o in offers)
    assert broad / len(offers) > 0.8  # mostly regency or province level
    jakarta = [c for c in coops if c.village_code.startswith("31.")]
    assert _share(jakarta, SAWIT) < 0.02
    assert elapsed < 60  # a few seconds on a laptop; generous for slow CI runners
