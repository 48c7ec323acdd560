"""Text normalisation shared by the vocabulary and every profile or offer field.

Both sides of a comparison go through the same function, so a variant written in the
vocabulary ("unit simpan pinjam") and a phrase typed by a user ("Unit Simpan-Pinjam")
end up as the same string ("simpan pinjam").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Words that describe every cooperative, so they must never drive a match. Removed after
# tokenising; "merah putih" is a two-word phrase and is removed before.
GENERIC_WORDS: frozenset[str] = frozenset(
    {
        "koperasi",
        "kop",
        "kopdes",
        "kdmp",
        "kdkmp",
        "kkmp",
        "desa",
        "kelurahan",
        "kel",
        "unit",
        "usaha",
        "bidang",
        "layanan",
        "jasa",
        "program",
    }
)
GENERIC_PHRASES: tuple[str, ...] = ("merah putih",)

# Function words and filler verbs that carry no matching meaning. Kept apart from
# GENERIC_WORDS because they are skipped during resolution, not only at normalisation.
STOPWORDS: frozenset[str] = frozenset(
    {
        "dan",
        "atau",
        "di",
        "ke",
        "dari",
        "untuk",
        "utk",
        "buat",
        "bagi",
        "yang",
        "yg",
        "dengan",
        "dgn",
        "para",
        "kami",
        "kita",
        "ini",
        "itu",
        "akan",
        "sudah",
        "belum",
        "ada",
        "tidak",
        "tdk",
        "juga",
        "serta",
        "oleh",
        "pada",
        "dalam",
        "sebagai",
        "agar",
        "butuh",
        "membutuhkan",
        "dibutuhkan",
        "kebutuhan",
        "perlu",
        "memerlukan",
        "ingin",
        "mau",
        "mencari",
        "cari",
        "sedang",
        "masih",
        "anggota",
        "warga",
        "masyarakat",
        "kecamatan",
        "kabupaten",
        "kab",
        "kota",
        "provinsi",
        "seluruh",
        "wilayah",
        "daerah",
        "kepala",
        "ketua",
        "pengurus",
        "baru",
        "lama",
        "banyak",
        "besar",
        "kecil",
        "murah",
        "hasil",
        "the",
        "and",
        "for",
        "of",
        "to",
        "a",
        "an",
        "in",
        "rp",
        "juta",
        "miliar",
        "milyar",
        "jt",
        "m",
        "per",
        "tahun",
        "bulan",
        "hari",
        "tiap",
        "setiap",
        "lebih",
        "kurang",
        "tersedia",
        "bisa",
        "dapat",
        "siap",
        "bantu",
        "membantu",
        "mendukung",
        "dukungan",
        "program",
        "skema",
        "paket",
        "tawaran",
        "penawaran",
        "mitra",
        "kemitraan",
        "kerja",
        "sama",
        "kerjasama",
    }
)

_HYPHEN_REDUP = re.compile(r"\b(\w+)-(\1)(an|nya)?\b")
# The words are the runs of digits or of letters: punctuation and spacing go, and "3kg"
# falls apart into "3 kg". One pass, where replacing each in turn took four.
_WORD_RUNS = re.compile(r"[0-9]+|[a-z]+")


def _strip_accents(text: str) -> str:
    if text.isascii():  # nearly every text: nothing to decompose, and 20x faster
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=1 << 14)  # small: see profile._match_text
def normalise(text: str) -> str:
    """Lower case, accents, punctuation, hyphens, spacing and generic words removed.

    Indonesian reduplication written with a hyphen ("sayur-sayuran", "obat-obatan",
    "ikan-ikan") is a plural or collective form: it is reduced to the base word.
    "3kg" and "sp36" are split into "3 kg" and "sp 36" so both spellings meet.
    """
    text = _strip_accents(text).lower()
    if "-" in text:  # the reduplication pattern is slow, and needs a hyphen
        text = _HYPHEN_REDUP.sub(r"\1", text)
    text = f" {' '.join(_WORD_RUNS.findall(text))} "
    for phrase in GENERIC_PHRASES:
        text = text.replace(f" {phrase} ", " ")
    return " ".join(t for t in text.split() if t not in GENERIC_WORDS)


def tokens(text: str) -> tuple[str, ...]:
    return tuple(normalise(text).split())
