from dataclasses import replace

import pytest

from matcher.model import Cooperative, Offer
from matcher.scoring import (
    NO_OVERLAP_BOUND,
    SUGGESTION_THRESHOLD,
    WEIGHTS,
    score_pair,
)

V = "61.01.01.2001"
PEPPER_BUYER = Offer("o1", "lada-co", "offtake", "Pembelian lada putih", commodities=("lada",))
KIOSK_LOAN = Offer(
    "o2", "bri", "financing", "Kredit modal kerja kios sembako", business_units=("gerai sembako",)
)


def coop(
    cid: str,
    units: tuple[str, ...] = (),
    goods: tuple[str, ...] = (),
    needs: str = "",
    need_idr: int | None = None,
) -> Cooperative:
    return Cooperative(cid, V, 50, units, goods, needs, need_idr)


def test_weights_sum_to_one_and_live_in_one_place() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)
    m = score_pair(PEPPER_BUYER, coop("a", goods=("merica",)))
    assert sum(c.weight for c in m.components) == pytest.approx(1.0, abs=0.01)
    assert {c.name for c in m.components} == set(WEIGHTS)


def test_score_is_the_weighted_sum_of_components() -> None:
    m = score_pair(KIOSK_LOAN, coop("a", ("kios sembako",), needs="butuh modal kios"))
    assert m.score == pytest.approx(sum(c.weight * c.score for c in m.components), abs=0.2)
    assert 0 <= m.score <= 100


def test_seller_of_pepper_is_the_best_partner_for_a_pepper_buyer() -> None:
    seller = score_pair(
        PEPPER_BUYER, coop("seller", goods=("sahang",), needs="ingin menjual lada anggota")
    )
    grower = score_pair(PEPPER_BUYER, coop("grower", goods=("lada",)))
    other_seller = score_pair(
        PEPPER_BUYER, coop("karet", goods=("karet",), needs="ingin menjual karet")
    )
    nothing = score_pair(PEPPER_BUYER, coop("none", units=("apotek",)))
    assert seller.score > grower.score > other_seller.score
    assert grower.score > nothing.score
    assert grower.score >= SUGGESTION_THRESHOLD > other_seller.score


def test_capital_for_a_kiosk_suits_a_kiosk_loan() -> None:
    kiosk = score_pair(
        KIOSK_LOAN, coop("k", ("kios sembako",), needs="butuh modal kerja untuk kios sembako")
    )
    usp = score_pair(KIOSK_LOAN, coop("u", ("USP",), needs="butuh modal"))
    plain = score_pair(KIOSK_LOAN, coop("p", ("warung sembako",)))
    assert kiosk.score > plain.score > usp.score
    assert usp.score < SUGGESTION_THRESHOLD


def test_stated_financing_need_counts_as_intent() -> None:
    generic = Offer("o3", "bsi", "financing", "Pembiayaan syariah koperasi")
    with_need = score_pair(generic, coop("a", ("USP",), need_idr=300_000_000))
    without = score_pair(generic, coop("b", ("USP",)))
    assert with_need.score > SUGGESTION_THRESHOLD > without.score


def test_supply_goods_fit_the_unit_that_sells_them() -> None:
    fertiliser = Offer("o4", "pupuk", "supply", "Penyaluran pupuk", commodities=("urea", "NPK"))
    kiosk = score_pair(fertiliser, coop("a", ("KPL",), ("padi",)))
    farmer = score_pair(fertiliser, coop("b", ("USP",), ("padi",)))
    assert kiosk.score >= SUGGESTION_THRESHOLD > farmer.score


def test_related_term_scores_between_fit_and_miss() -> None:
    copra = Offer("o5", "kopra-co", "offtake", "Beli kopra", commodities=("kopra",))
    exact = score_pair(copra, coop("a", goods=("kopra",)))
    related = score_pair(copra, coop("b", goods=("kelapa",)))
    miss = score_pair(copra, coop("c", goods=("kopi",)))
    assert exact.score > related.score > miss.score
    assert related.score < SUGGESTION_THRESHOLD


def test_no_shared_term_stays_below_threshold() -> None:
    assert NO_OVERLAP_BOUND < SUGGESTION_THRESHOLD
    # The worst case: a generic offer and a cooperative without needs, same words that
    # the vocabulary does not know.
    generic = Offer("o6", "ngo", "training", "maju bersama sejahtera")
    m = score_pair(generic, coop("a", ("maju bersama sejahtera",)))
    assert next(c.score for c in m.components if c.name == "text") == 100
    assert m.score <= NO_OVERLAP_BOUND + 0.05  # scores are rounded to 0.1


def test_offer_without_units_gives_unit_weight_to_the_rest() -> None:
    m = score_pair(PEPPER_BUYER, coop("a", goods=("lada",)))
    weights = {c.name: c.weight for c in m.components}
    assert weights["business_unit"] == 0
    assert weights["commodity"] > WEIGHTS["commodity"]


def test_explanation_names_what_matched_what() -> None:
    m = score_pair(
        KIOSK_LOAN,
        coop("a", ("simpan pinjm", "kios smbako"), needs="butuh modal kerja untuk kios sembako"),
    )
    by_name = {c.name: c for c in m.components}
    assert by_name["business_unit"].detail.startswith('"kios smbako" → gerai sembako (')
    assert '"modal kerja" → pembiayaan (100)' in by_name["needs"].detail
    assert by_name["needs"].score == 100


def test_fuzzy_detail_carries_the_fuzzy_score() -> None:
    from rapidfuzz import fuzz

    offer = replace(KIOSK_LOAN, business_units=("USP",))
    m = score_pair(offer, coop("a", ("simpan pinjm",)))
    detail = next(c.detail for c in m.components if c.name == "business_unit")
    expected = round(fuzz.ratio("simpan pinjm", "simpan pinjam"))
    assert detail == f'"simpan pinjm" → simpan pinjam ({expected})'


def test_summary_is_one_indonesian_sentence() -> None:
    m = score_pair(
        KIOSK_LOAN, coop("a", ("kios sembako",), needs="butuh modal kerja untuk kios sembako")
    )
    assert m.summary.startswith(
        "Cocok karena unit gerai sembako koperasi sesuai dengan pembiayaan yang ditawarkan"
    )
    assert "koperasi membutuhkan pembiayaan untuk gerai sembako" in m.summary
    assert m.summary.endswith(".") and m.summary.count(".") == 1
    low = score_pair(PEPPER_BUYER, coop("b", ("apotek",)))
    assert low.summary.startswith("Kecocokan rendah")


def test_scoring_is_deterministic() -> None:
    a = score_pair(PEPPER_BUYER, coop("a", goods=("lada",), needs="jual lada"))
    b = score_pair(PEPPER_BUYER, coop("a", goods=("lada",), needs="jual lada"))
    assert a == b


def test_explanation_of_handled_goods_related_terms_and_misses() -> None:
    fertiliser = Offer("o7", "pupuk", "supply", "Pupuk", commodities=("urea",))
    m = score_pair(fertiliser, coop("a", ("KPL",)))
    detail = {c.name: c.detail for c in m.components}
    assert detail["commodity"] == 'pupuk ditangani oleh "kpl" → kios pupuk (100)'
    copra = Offer("o8", "kopra-co", "offtake", "Beli kopra", commodities=("kopra",))
    related = score_pair(copra, coop("b", goods=("kelapa dalam",)))
    assert "terkait kopra" in {c.name: c.detail for c in related.components}["commodity"]
    miss = score_pair(copra, coop("c", goods=("kopi",)))
    assert {c.name: c.detail for c in miss.components}["commodity"] == (
        "tidak ada komoditas yang sesuai (dicari: kopra)"
    )


def test_open_components_are_explained_with_weight_zero() -> None:
    generic = Offer("o9", "ngo", "training", "Pelatihan tata kelola")
    m = score_pair(generic, coop("a", needs="butuh pelatihan pembukuan"))
    by_name = {c.name: c for c in m.components}
    assert by_name["business_unit"].weight == 0
    assert by_name["business_unit"].detail == "penawaran tidak menyebut unit usaha"
    assert by_name["commodity"].weight == 0
    assert m.summary == "Cocok karena koperasi membutuhkan pelatihan dan pendampingan."


def test_selling_need_reads_as_selling() -> None:
    m = score_pair(PEPPER_BUYER, coop("a", goods=("lada",), needs="ingin menjual merica"))
    assert m.summary.endswith("dan koperasi ingin menjual lada.")


def test_unknown_offer_type_does_not_break_scoring() -> None:
    odd = Offer("o10", "x", "barter", "Tukar lada", commodities=("lada",))
    m = score_pair(odd, coop("a", goods=("lada",)))
    assert m.score > 0 and m.summary
