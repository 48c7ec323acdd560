"""TextColumns: the free-text similarity of many cooperatives at once, and its bound."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.model import Cooperative
from matcher.profile import coop_text, coop_text_words
from matcher.scoring import text_similarity
from matcher.text_columns import TextColumns

# Few short words, so that texts share words and have look-alike ones.
WORDS = st.sampled_from(
    [
        "modal",
        "kerja",
        "pupuk",
        "kios",
        "sembako",
        "beras",
        "padi",
        "usp",
        "simpan",
        "pinjam",
        "a",
        "ab",
        "abc",
        "ba",
        "x1",
        "12",
        "é",
        "kopi",
        "kopra",
        "sawit",
    ]
)
TEXTS = st.lists(WORDS, max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(offer=TEXTS, texts=st.lists(TEXTS, min_size=1, max_size=8))
def test_the_bound_holds_and_the_similarity_is_the_pairwise_one(
    offer: str, texts: list[str]
) -> None:
    columns = TextColumns(text.split() for text in texts)
    rows = np.arange(len(texts), dtype=np.intp)
    exact = [text_similarity(offer, text) for text in texts]
    assert columns.similarities(offer, rows).tolist() == exact
    bounds, is_exact = columns.bounds(offer, rows)
    assert all(b >= e for b, e in zip(bounds.tolist(), exact, strict=True))
    assert bounds[is_exact].tolist() == [e for e, x in zip(exact, is_exact, strict=True) if x]


def test_the_bound_is_tight_where_it_can_be() -> None:
    """Shortcuts are exact (no words, one set within the other), and a text with no
    character in common with the offer's is bounded by the lengths alone."""
    columns = TextColumns([[], ["modal", "kerja"], ["modal"], ["xyz"]])
    bounds, exact = columns.bounds("modal kerja usp", np.arange(4, dtype=np.intp))
    assert bounds[:3].tolist() == [0.0, 100.0, 100.0]
    assert exact.tolist() == [True, True, True, False]
    assert bounds[3] < 30.0
    assert TextColumns([["a"]]).bounds("", np.zeros(1, dtype=np.intp))[0].tolist() == [0.0]


def test_rows_subset_and_order() -> None:
    texts = ["beras padi", "pupuk kios", "sembako beras"]
    columns = TextColumns(text.split() for text in texts)
    rows = np.array([2, 0], dtype=np.intp)
    assert columns.similarities("beras premium", rows).tolist() == [
        text_similarity("beras premium", texts[2]),
        text_similarity("beras premium", texts[0]),
    ]


def coop(units: tuple[str, ...], commodities: tuple[str, ...], needs: str) -> Cooperative:
    return Cooperative("k", "11.01.01.2001", 20, units, commodities, needs)


def test_words_field_by_field_are_those_of_the_joined_text() -> None:
    cases = [
        coop(("Toko Sembako", "USP"), ("padi", "kopi"), "butuh modal Rp 40 jt utk toko"),
        # "merah putih" is one generic phrase, even across two fields.
        coop(("kios merah",), ("putih",), "modal"),
        coop(("Koperasi Merah Putih",), (), "merah putih merah putih"),
        coop(("sayur-sayuran",), ("3kg", "SP36"), ""),
        coop(("Café Désa",), ("ÉLITE",), "naïve"),
        coop((), (), ""),
    ]
    for case in cases:
        assert coop_text_words(case) == tuple(coop_text(case).split())
