import pytest

from matcher.normalise import normalise, tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Unit Simpan-Pinjam", "simpan pinjam"),
        ("  APOTIK   Desa!! ", "apotik"),
        ("Koperasi Desa Merah Putih Sungai Raya", "sungai raya"),
        ("KDMP Usaha Kios", "kios"),
        ("sayur-sayuran", "sayur"),
        ("obat-obatan", "obat"),
        ("ikan-ikan", "ikan"),
        ("LPG 3kg", "lpg 3 kg"),
        ("SP-36", "sp 36"),
        ("Café/Kopi", "cafe kopi"),
        ("gerai_sembako", "gerai sembako"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_generic_words_alone_leave_nothing() -> None:
    assert normalise("Koperasi Desa Merah Putih unit usaha") == ""


def test_merah_putih_removed_only_as_a_phrase() -> None:
    # "merah" alone is a colour that belongs to terms like "bawang merah".
    assert normalise("bawang merah") == "bawang merah"


def test_tokens_split_normalised_text() -> None:
    assert tokens("Kios-Pupuk  (KPL)") == ("kios", "pupuk", "kpl")
