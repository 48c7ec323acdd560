import pytest

from matcher.resolve import FUZZY_CUTOFF, resolve, resolve_all
from matcher.vocabulary import parse_vocabulary, vocabulary


def terms(text: str) -> set[str]:
    return {h.term for h in resolve(text)}


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("USP", "unit:simpan_pinjam"),
        ("Unit Simpan-Pinjam", "unit:simpan_pinjam"),
        ("apotik desa", "unit:apotek"),
        ("gudang pendingin", "unit:cold_storage"),
        ("Cold-Storage", "unit:cold_storage"),
        ("KPL", "unit:kios_pupuk"),
        ("BRILink", "unit:agen_bank"),
        ("merica", "commodity:lada"),
        ("sahang", "commodity:lada"),
        ("TBS", "commodity:sawit"),
        ("gabah", "commodity:padi"),
        ("singkong", "commodity:ubi_kayu"),
        ("getah karet", "commodity:karet"),
        ("bokar", "commodity:karet"),
        ("coffee", "commodity:kopi"),
        ("Minyakita", "commodity:minyak_goreng"),
        ("sayur-sayuran", "commodity:sayuran"),
        ("modal kerja", "intent:financing"),
        ("bimtek", "intent:training"),
    ],
)
def test_exact_and_variant(text: str, term: str) -> None:
    hits = resolve(text)
    assert term in {h.term for h in hits}
    assert all(h.score == 100 for h in hits if h.term == term)


@pytest.mark.parametrize(
    ("typo", "term"),
    [
        ("simpan pinjm", "unit:simpan_pinjam"),
        ("smbako", "unit:sembako"),
        ("aptek", "unit:apotek"),
        ("jeruck", "commodity:jeruk"),
        ("liberka", "commodity:kopi"),
        ("pertanin", "unit:pertanian"),
        ("kelapa sawet", "commodity:sawit"),
        ("kios smbako", "unit:sembako"),
    ],
)
def test_typos_resolve_fuzzily_with_their_score(typo: str, term: str) -> None:
    hits = {h.term: h for h in resolve(typo)}
    assert term in hits
    assert FUZZY_CUTOFF <= hits[term].score < 100


@pytest.mark.parametrize(
    ("text", "term", "not_term"),
    [
        ("kelapa", "commodity:kelapa", "commodity:sawit"),
        ("kelapa sawit", "commodity:sawit", "commodity:kelapa"),
        ("kopi", "commodity:kopi", "commodity:kopra"),
        ("kopra", "commodity:kopra", "commodity:kopi"),
        ("sapi", "commodity:sapi", "commodity:sayuran"),
        ("sawi", "commodity:sayuran", "commodity:sapi"),
        ("gula", "commodity:gula", "commodity:gula_aren"),
        ("gula aren", "commodity:gula_aren", "commodity:gula"),
        ("ubi kayu", "commodity:ubi_kayu", "commodity:ubi_jalar"),
        ("ubi jalar", "commodity:ubi_jalar", "commodity:ubi_kayu"),
        ("beras", "commodity:beras", "commodity:padi"),
        ("kakao", "commodity:kakao", "commodity:ikan"),
        ("kakap", "commodity:ikan", "commodity:kakao"),
        ("minyak sawit", "commodity:sawit", "commodity:minyak_goreng"),
        ("kios pupuk", "unit:kios_pupuk", "unit:sembako"),
        ("gudang pendingin", "unit:cold_storage", "unit:gudang"),
    ],
)
def test_look_alikes_stay_distinct(text: str, term: str, not_term: str) -> None:
    found = terms(text)
    assert term in found
    assert not_term not in found


@pytest.mark.parametrize(
    "word", ["ladang", "kepala", "karat", "berat", "kakak", "pedang", "kopiah"]
)
def test_ordinary_words_do_not_drift_to_terms(word: str) -> None:
    assert resolve(word) == ()


def test_cutoff_separates_typos_from_look_alikes() -> None:
    """The cut-off sits between the closest look-alike and the weakest accepted typo."""
    from rapidfuzz import fuzz

    look_alikes = [
        ("kopi", "kopra"),
        ("sapi", "sawi"),
        ("kakao", "kakap"),
        ("ladang", "lada"),
        ("kepala", "kelapa"),
        ("kelapa sawah", "kelapa sawit"),
    ]
    typos = [
        ("simpan pinjm", "simpan pinjam"),
        ("aptek", "apotek"),
        ("jeruck", "jeruk"),
        ("smbako", "sembako"),
    ]
    assert max(fuzz.ratio(a, b) for a, b in look_alikes) < FUZZY_CUTOFF
    assert min(fuzz.ratio(a, b) for a, b in typos) >= FUZZY_CUTOFF


def test_free_text_yields_intent_and_object() -> None:
    found = terms("Kami butuh modal kerja untuk kios sembako")
    assert found == {"intent:financing", "unit:sembako"}
    assert terms("ingin menjual lada putih anggota") == {"intent:offtake", "commodity:lada"}


def test_affixed_forms_resolve_to_their_root() -> None:
    assert "intent:offtake" in terms("ditampung")
    assert "intent:offtake" in terms("menjualnya")
    assert "unit:sembako" in terms("kiosnya")


def test_resolution_is_cached_per_phrase() -> None:
    resolve.cache_clear()
    resolve("getah karet")
    resolve("getah karet")
    info = resolve.cache_info()
    assert info.hits == 1
    assert info.misses == 1


def test_resolve_all_keeps_best_hit_per_term() -> None:
    hits = resolve_all(("simpan pinjm", "USP"))
    assert [(h.term, h.score) for h in hits] == [("unit:simpan_pinjam", 100.0)]


def test_vocabulary_ships_in_package_and_is_consistent() -> None:
    vocab = vocabulary()
    assert len(vocab.terms) > 50
    for term in vocab.terms.values():
        assert term.label
        for other in term.related:
            assert term.id in vocab.term(other).related  # symmetric
    for name in (
        "sawit",
        "karet",
        "lada",
        "kopi",
        "padi",
        "jagung",
        "ubi_kayu",
        "jeruk",
        "sayuran",
        "ikan",
    ):
        assert f"commodity:{name}" in vocab.terms


def test_vocabulary_rejects_unknown_references() -> None:
    text = '[commodity.a]\nlabel = "a"\nrelated = ["b"]\n'
    with pytest.raises(ValueError, match="unknown term"):
        parse_vocabulary(text)


def test_vocabulary_is_easy_to_extend() -> None:
    base = (
        "\n".join(
            f'[intent.{t}]\nlabel = "{t}"'
            for t in ("financing", "supply", "offtake", "logistics", "equipment", "training")
        )
        + '\n[commodity.vanili]\nlabel = "vanili"\nvariants = ["vanilla", "panili"]\n'
    )
    vocab = parse_vocabulary(base)
    assert vocab.variants["panili"] == ("commodity:vanili",)
