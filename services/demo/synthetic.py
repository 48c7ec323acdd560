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

__all__ = ["cooperatives", "default_updated_at", "kalbar_demo", "national", "offers"]

WIB = timezone(timedelta(hours=7))
KALBAR = "61"
NATIONAL_VILLAGES = 83_762

# ---------------------------------------------------------------------------------------------
# Vocabulary: canonical key -> the ways people write it, with relative weights.
# ``{desa}`` is replaced by "desa" or "kelurahan" to suit the village.
# ---------------------------------------------------------------------------------------------

Variants = Sequence[tuple[str, int]]

UNIT_VARIANTS: dict[str, Variants] = {
    "kantor": [
        ("kantor koperasi", 6),
        ("kantor", 1),
        ("sekretariat koperasi", 1),
        ("Kantor Koperasi", 1),
    ],
    "sembako": [
        ("gerai sembako", 5),
        ("kios sembako", 4),
        ("toko sembako", 2),
        ("warung sembako", 1),
        ("sembako", 2),
        ("gerai kebutuhan pokok", 1),
        ("Gerai Sembako", 1),
        ("kios sembilan bahan pokok", 1),
        ("gerai sembilan bahan pokok", 1),
    ],
    "usp": [
        ("unit simpan pinjam", 5),
        ("USP", 5),
        ("simpan pinjam", 4),
        ("usp", 1),
        ("unit simpan-pinjam", 1),
        ("Simpan Pinjam", 1),
        ("unit simpan pinjam (USP)", 1),
        ("Unit Simpan Pinjam", 1),
    ],
    "klinik": [
        ("klinik {desa}", 6),
        ("klinik", 2),
        ("Klinik {Desa}", 1),
        ("klinik pratama", 1),
        ("klinik kesehatan {desa}", 1),
    ],
    "apotek": [
        ("apotek {desa}", 5),
        ("apotik {desa}", 3),
        ("apotek", 2),
        ("apotik", 2),
        ("Apotek {Desa}", 1),
        ("Apotik", 1),
    ],
    "gudang": [
        ("pergudangan", 4),
        ("gudang", 4),
        ("gudang koperasi", 2),
        ("unit pergudangan", 1),
        ("warehouse", 1),
        ("Gudang", 1),
    ],
    "cold": [
        ("cold storage", 5),
        ("gudang pendingin", 4),
        ("cold-storage", 1),
        ("coldstorage", 1),
        ("Cold Storage", 2),
        ("gudang beku", 1),
        ("gudang dingin", 1),
    ],
    "logistik": [
        ("logistik", 4),
        ("unit logistik", 3),
        ("jasa logistik", 1),
        ("angkutan barang", 1),
        ("distribusi", 1),
        ("Logistik", 1),
    ],
    "lpg": [
        ("pangkalan LPG 3 kg", 5),
        ("pangkalan LPG", 3),
        ("pangkalan gas", 3),
        ("pangkalan elpiji", 2),
        ("pangkalan LPG 3kg", 2),
        ("pangkalan gas melon", 1),
        ("Pangkalan Elpiji 3 Kg", 1),
        ("pangkalan lpg", 1),
    ],
    "pupuk": [
        ("kios pupuk", 6),
        ("kios pupuk lengkap", 2),
        ("KPL", 1),
        ("pengecer pupuk", 2),
        ("kios pupuk bersubsidi", 1),
        ("penyalur pupuk", 1),
        ("kios saprodi", 1),
    ],
    "agen": [
        ("agen BRILink", 5),
        ("BRILink", 3),
        ("agen brilink", 2),
        ("agen bank", 2),
        ("agen laku pandai", 1),
        ("Agen46", 1),
        ("agen BNI46", 1),
        ("agen BSI", 1),
        ("AgenBRILink", 1),
    ],
}

# Units for the local potential: processing or offtake of members' produce.
PROCESSING_VARIANTS: dict[str, Variants] = {
    "sawit": [
        ("pengumpul TBS", 3),
        ("unit jual beli TBS", 2),
        ("ram sawit", 2),
        ("unit usaha sawit", 2),
        ("peron sawit", 1),
        ("pengepul sawit", 1),
    ],
    "karet": [
        ("unit pengolahan bokar", 3),
        ("pengolahan karet", 3),
        ("UPPB", 2),
        ("pemasaran bokar", 1),
        ("pengumpul getah", 1),
    ],
    "lada": [
        ("pengolahan lada", 3),
        ("unit pemasaran lada", 2),
        ("pengolahan lada putih", 1),
        ("gudang lada", 1),
    ],
    "kopi liberika": [
        ("pengolahan kopi", 3),
        ("roasting kopi", 1),
        ("kedai kopi", 1),
        ("unit pengolahan kopi liberika", 1),
    ],
    "kopi": [("pengolahan kopi", 3), ("roasting kopi", 1), ("kedai kopi", 1), ("huller kopi", 1)],
    "padi": [
        ("penggilingan padi", 4),
        ("RMU", 2),
        ("penggilingan beras", 1),
        ("huller", 1),
        ("rice milling unit", 1),
        ("unit penggilingan gabah", 1),
    ],
    "jagung": [
        ("pengeringan jagung", 2),
        ("unit pengering jagung", 1),
        ("dryer jagung", 1),
        ("pemasaran jagung", 1),
    ],
    "ubi kayu": [
        ("pengolahan singkong", 2),
        ("tepung mocaf", 1),
        ("pengolahan ubi kayu", 2),
        ("produksi tapioka", 1),
    ],
    "jeruk": [("pemasaran jeruk", 2), ("sortasi jeruk", 1)],
    "ikan": [
        ("pengolahan ikan", 3),
        ("TPI", 1),
        ("pengasapan ikan", 1),
        ("ikan asin", 1),
        ("unit perikanan", 1),
        ("pemasaran hasil tangkapan", 1),
    ],
    "kelapa": [("pengolahan kelapa", 2), ("pengolahan kopra", 1), ("VCO", 1)],
    "kakao": [("fermentasi kakao", 2), ("pengolahan kakao", 2)],
    "rumput laut": [("pengeringan rumput laut", 2), ("gudang rumput laut", 1)],
    "*": [
        ("pemasaran hasil tani", 3),
        ("offtake hasil anggota", 1),
        ("unit usaha tani", 2),
        ("pengolahan hasil pertanian", 2),
        ("unit pemasaran hasil bumi", 1),
    ],
}

COMMODITY_VARIANTS: dict[str, Variants] = {
    "sawit": [
        ("sawit", 6),
        ("kelapa sawit", 5),
        ("TBS", 3),
        ("TBS sawit", 2),
        ("buah sawit", 2),
        ("Kelapa Sawit", 2),
        ("tbs kelapa sawit", 1),
        ("kelapa-sawit", 1),
        ("sawit rakyat", 1),
    ],
    "karet": [
        ("karet", 6),
        ("getah karet", 4),
        ("bokar", 3),
        ("lateks", 2),
        ("getah", 1),
        ("karet alam", 1),
        ("Karet", 2),
        ("latex", 1),
        ("lump karet", 1),
    ],
    "lada": [
        ("lada", 6),
        ("merica", 3),
        ("lada hitam", 2),
        ("lada putih", 2),
        ("sahang", 1),
        ("Lada", 2),
        ("mrica", 1),
    ],
    "kopi liberika": [
        ("kopi liberika", 5),
        ("kopi", 3),
        ("liberika", 2),
        ("kopi liberica", 1),
        ("Kopi Liberika", 1),
        ("kopi lokal", 1),
    ],
    "kopi": [
        ("kopi", 6),
        ("kopi arabika", 2),
        ("kopi robusta", 3),
        ("biji kopi", 2),
        ("green bean", 1),
        ("kopi gelondong", 1),
        ("Kopi", 1),
    ],
    "padi": [
        ("padi", 6),
        ("gabah", 4),
        ("beras", 3),
        ("padi sawah", 1),
        ("GKP", 1),
        ("gabah kering", 1),
        ("Padi", 1),
    ],
    "jagung": [("jagung", 6), ("jagung pipil", 2), ("jagung pakan", 1), ("Jagung", 1)],
    "ubi kayu": [
        ("ubi kayu", 4),
        ("singkong", 4),
        ("ketela pohon", 1),
        ("ubi", 1),
        ("Singkong", 1),
    ],
    "jeruk": [
        ("jeruk", 5),
        ("jeruk sambas", 3),
        ("jeruk siam", 2),
        ("Jeruk Sambas", 1),
        ("limau", 1),
    ],
    "sayuran": [
        ("sayuran", 5),
        ("sayur", 3),
        ("sayur-mayur", 2),
        ("hortikultura", 1),
        ("sayur mayur", 1),
    ],
    "ikan": [
        ("ikan", 6),
        ("ikan laut", 2),
        ("ikan segar", 2),
        ("hasil tangkapan", 1),
        ("hasil laut", 1),
        ("perikanan", 1),
        ("Ikan", 1),
    ],
    "ikan tawar": [
        ("ikan air tawar", 4),
        ("ikan", 3),
        ("ikan keramba", 2),
        ("ikan sungai", 1),
        ("ikan toman", 1),
    ],
    "kelapa": [("kelapa", 5), ("kelapa dalam", 2), ("kopra", 2), ("kelapa bulat", 1)],
    "pinang": [("pinang", 4), ("buah pinang", 1), ("pinang kering", 1)],
    "nanas": [("nanas", 4), ("nenas", 2), ("nanas madu", 1)],
    "madu": [("madu hutan", 3), ("madu", 3), ("madu kelulut", 2)],
    "lidah buaya": [("lidah buaya", 4), ("aloe vera", 2)],
    "kakao": [("kakao", 5), ("cokelat", 2), ("coklat", 2), ("biji kakao", 2)],
    "cengkeh": [("cengkeh", 5), ("cengkih", 2)],
    "pala": [("pala", 5), ("biji pala", 2), ("fuli", 1)],
    "tebu": [("tebu", 5)],
    "tembakau": [("tembakau", 5), ("mbako", 1)],
    "bawang merah": [("bawang merah", 5), ("brambang", 1)],
    "gambir": [("gambir", 5)],
    "kayu manis": [("kayu manis", 4), ("cassiavera", 1)],
    "sagu": [("sagu", 5), ("tepung sagu", 1)],
    "ubi jalar": [("ubi jalar", 4), ("petatas", 1), ("hipere", 1)],
    "rumput laut": [("rumput laut", 5), ("rumput laut kering", 2), ("seaweed", 1)],
    "jambu mete": [("jambu mete", 3), ("mete", 2), ("kacang mete", 1)],
    "kemiri": [("kemiri", 5)],
    "nilam": [("nilam", 4), ("minyak nilam", 2)],
}

# Kalimantan Barat by regency: canonical commodity -> share of rural cooperatives holding it.
KALBAR_PRODUCE: dict[str, dict[str, float]] = {
    "61.01": {
        "sawit": 0.55,
        "karet": 0.45,
        "padi": 0.6,
        "lada": 0.35,
        "jeruk": 0.3,
        "kopi liberika": 0.15,
        "ikan": 0.25,
        "kelapa": 0.15,
        "sayuran": 0.15,
    },  # Sambas
    "61.02": {
        "sawit": 0.45,
        "karet": 0.45,
        "padi": 0.35,
        "kelapa": 0.3,
        "ikan": 0.2,
        "sayuran": 0.15,
        "pinang": 0.1,
    },  # Mempawah
    "61.03": {"sawit": 0.75, "karet": 0.6, "lada": 0.3, "padi": 0.2, "sayuran": 0.1},  # Sanggau
    "61.04": {"sawit": 0.7, "karet": 0.45, "ikan": 0.35, "padi": 0.25, "kelapa": 0.15},  # Ketapang
    "61.05": {
        "sawit": 0.6,
        "karet": 0.65,
        "lada": 0.3,
        "padi": 0.2,
        "ikan tawar": 0.15,
        "madu": 0.05,
    },  # Sintang
    "61.06": {
        "karet": 0.7,
        "sawit": 0.4,
        "ikan tawar": 0.3,
        "madu": 0.15,
        "padi": 0.2,
    },  # Kapuas Hulu
    "61.07": {
        "sawit": 0.55,
        "karet": 0.55,
        "lada": 0.4,
        "jagung": 0.5,
        "padi": 0.3,
        "sayuran": 0.1,
    },  # Bengkayang
    "61.08": {
        "karet": 0.65,
        "sawit": 0.55,
        "ubi kayu": 0.45,
        "padi": 0.3,
        "jagung": 0.15,
        "sayuran": 0.1,
    },  # Landak
    "61.09": {"sawit": 0.75, "karet": 0.6, "padi": 0.15, "sayuran": 0.05},  # Sekadau
    "61.10": {"karet": 0.65, "sawit": 0.55, "padi": 0.2, "madu": 0.05},  # Melawi
    "61.11": {
        "ikan": 0.6,
        "kopi liberika": 0.4,
        "kelapa": 0.3,
        "sawit": 0.4,
        "karet": 0.3,
        "padi": 0.2,
        "madu": 0.05,
    },  # Kayong Utara
    "61.12": {
        "sawit": 0.55,
        "karet": 0.4,
        "kopi liberika": 0.3,
        "ikan": 0.35,
        "kelapa": 0.3,
        "padi": 0.35,
        "sayuran": 0.2,
        "pinang": 0.15,
        "nanas": 0.15,
    },  # Kubu Raya
    "61.71": {"sayuran": 0.15, "lidah buaya": 0.12, "ikan": 0.08, "sawit": 0.02},  # Kota Pontianak
    "61.72": {
        "sayuran": 0.2,
        "padi": 0.1,
        "ikan": 0.15,
        "karet": 0.1,
        "sawit": 0.06,
        "jeruk": 0.05,
    },  # Kota Singkawang
}

# Other provinces, broadly: sawit/karet on Sumatra and Kalimantan, padi/jagung widely,
# kopi in the highlands, ikan on the coasts, spices in the east.
PROVINCE_PRODUCE: dict[str, dict[str, float]] = {
    "11": {
        "padi": 0.55,
        "kopi": 0.25,
        "sawit": 0.35,
        "karet": 0.2,
        "kakao": 0.15,
        "ikan": 0.25,
        "pinang": 0.1,
        "nilam": 0.05,
    },
    "12": {
        "sawit": 0.5,
        "karet": 0.35,
        "padi": 0.5,
        "kopi": 0.2,
        "jagung": 0.25,
        "ikan": 0.15,
        "sayuran": 0.15,
        "kakao": 0.1,
    },
    "13": {
        "padi": 0.6,
        "sawit": 0.25,
        "karet": 0.2,
        "kopi": 0.15,
        "gambir": 0.1,
        "kakao": 0.15,
        "ikan": 0.15,
        "kayu manis": 0.1,
    },
    "14": {"sawit": 0.8, "karet": 0.35, "kelapa": 0.2, "ikan": 0.15, "padi": 0.15, "pinang": 0.1},
    "15": {"sawit": 0.7, "karet": 0.5, "kopi": 0.1, "kayu manis": 0.1, "padi": 0.2, "pinang": 0.15},
    "16": {"karet": 0.55, "sawit": 0.55, "padi": 0.4, "kopi": 0.2, "ikan": 0.1},
    "17": {"sawit": 0.55, "karet": 0.35, "kopi": 0.35, "padi": 0.3, "ikan": 0.15},
    "18": {
        "padi": 0.45,
        "jagung": 0.4,
        "kopi": 0.3,
        "ubi kayu": 0.35,
        "lada": 0.15,
        "kakao": 0.15,
        "sawit": 0.15,
        "karet": 0.2,
        "ikan": 0.1,
    },
    "19": {"lada": 0.5, "sawit": 0.35, "karet": 0.3, "ikan": 0.35},
    "21": {"ikan": 0.6, "kelapa": 0.2, "sayuran": 0.1},
    "31": {"ikan": 0.03, "sayuran": 0.02},
    "32": {"padi": 0.6, "sayuran": 0.3, "jagung": 0.2, "kopi": 0.1, "ikan": 0.15},
    "33": {
        "padi": 0.65,
        "jagung": 0.3,
        "sayuran": 0.25,
        "tembakau": 0.08,
        "kopi": 0.08,
        "ikan": 0.1,
        "bawang merah": 0.1,
    },
    "34": {"padi": 0.5, "sayuran": 0.25, "jagung": 0.15, "ubi kayu": 0.1},
    "35": {
        "padi": 0.65,
        "jagung": 0.45,
        "tebu": 0.15,
        "tembakau": 0.1,
        "kopi": 0.08,
        "ikan": 0.15,
        "sayuran": 0.2,
    },
    "36": {"padi": 0.55, "sayuran": 0.15, "ikan": 0.15, "kelapa": 0.1},
    "51": {"padi": 0.35, "kopi": 0.12, "sayuran": 0.2, "ikan": 0.2, "kelapa": 0.15, "cengkeh": 0.1},
    "52": {"padi": 0.55, "jagung": 0.45, "ikan": 0.2, "bawang merah": 0.1, "kopi": 0.05},
    "53": {
        "jagung": 0.6,
        "padi": 0.3,
        "kopi": 0.12,
        "kakao": 0.1,
        "ikan": 0.3,
        "kemiri": 0.1,
        "rumput laut": 0.1,
    },
    "62": {"sawit": 0.6, "karet": 0.55, "padi": 0.2, "ikan": 0.1, "ikan tawar": 0.1},
    "63": {"karet": 0.45, "sawit": 0.4, "padi": 0.45, "ikan": 0.2},
    "64": {"sawit": 0.55, "karet": 0.2, "padi": 0.2, "ikan": 0.25, "kakao": 0.05},
    "65": {"sawit": 0.35, "ikan": 0.4, "padi": 0.2, "rumput laut": 0.15},
    "71": {"kelapa": 0.55, "cengkeh": 0.3, "pala": 0.15, "jagung": 0.3, "ikan": 0.35},
    "72": {
        "kakao": 0.45,
        "kelapa": 0.35,
        "padi": 0.35,
        "ikan": 0.3,
        "cengkeh": 0.15,
        "sawit": 0.15,
    },
    "73": {
        "padi": 0.6,
        "jagung": 0.35,
        "kakao": 0.3,
        "kopi": 0.12,
        "ikan": 0.3,
        "rumput laut": 0.15,
    },
    "74": {
        "kakao": 0.35,
        "jagung": 0.25,
        "padi": 0.25,
        "ikan": 0.4,
        "rumput laut": 0.2,
        "jambu mete": 0.15,
    },
    "75": {"jagung": 0.65, "kelapa": 0.35, "padi": 0.25, "ikan": 0.3},
    "76": {"kakao": 0.5, "sawit": 0.35, "kelapa": 0.3, "padi": 0.25, "ikan": 0.3},
    "81": {"pala": 0.4, "cengkeh": 0.35, "kelapa": 0.4, "ikan": 0.6, "sagu": 0.2},
    "82": {"pala": 0.4, "cengkeh": 0.35, "kelapa": 0.5, "ikan": 0.55},
    "91": {"sagu": 0.35, "ubi jalar": 0.3, "ikan": 0.35, "kakao": 0.1, "sayuran": 0.15},
    "92": {"sagu": 0.3, "ubi jalar": 0.25, "ikan": 0.4, "pala": 0.15, "kakao": 0.1},
    "93": {"sagu": 0.35, "padi": 0.2, "ikan": 0.4, "ubi jalar": 0.2, "sawit": 0.05},
    "94": {"ubi jalar": 0.4, "sagu": 0.25, "kopi": 0.15, "sayuran": 0.25, "ikan": 0.15},
    "95": {"ubi jalar": 0.6, "kopi": 0.35, "sayuran": 0.4},
    "96": {"sagu": 0.3, "ikan": 0.45, "pala": 0.15, "kelapa": 0.25, "ubi jalar": 0.2},
}
DEFAULT_PRODUCE = {"padi": 0.4, "jagung": 0.2, "sayuran": 0.2, "ikan": 0.15}

# Words people shorten when typing on a phone.
SHORTHAND = {
    "untuk": "utk",
    "yang": "yg",
    "dengan": "dgn",
    "tidak": "tdk",
    "sudah": "sdh",
    "karena": "krn",
    "dan": "&",
    "belum": "blm",
    "anggota": "angg.",
}
_SHORTHAND_RE = re.compile(r"\b(" + "|".join(k for k in SHORTHAND if k != "dan") + r"|dan)\b")

# ---------------------------------------------------------------------------------------------
# Needs: short phrases tied to a unit ({u}) or a commodity ({c}), in the words people use.
# ---------------------------------------------------------------------------------------------

UNIT_NEEDS: dict[str, tuple[str, ...]] = {
    "sembako": (
        "butuh modal kerja untuk {u}",
        "perlu pasokan beras dan minyak goreng untuk {u}",
        "ingin kerja sama dengan pemasok sembako supaya harga di {u} bersaing",
        "stok {u} sering kosong, perlu distributor tetap",
        "cari pemasok gula dan tepung terigu untuk {u}",
    ),
    "usp": (
        "butuh tambahan modal untuk {u} anggota",
        "perlu pendampingan pembukuan {u}",
        "ingin aplikasi pencatatan untuk {u}",
        "dana {u} kurang, banyak anggota antri pinjaman",
    ),
    "klinik": (
        "butuh alat kesehatan untuk {u}",
        "perlu tenaga perawat untuk {u}",
        "{u} belum punya bangunan sendiri",
    ),
    "apotek": (
        "butuh pasokan obat rutin untuk {u}",
        "obat di {u} sering habis",
        "perlu apoteker penanggung jawab untuk {u}",
        "cari mitra pemasok obat generik untuk {u}",
    ),
    "gudang": (
        "perlu gudang penyimpanan hasil panen anggota",
        "ingin merehab {u}",
        "{u} sudah penuh, butuh tambahan kapasitas",
    ),
    "cold": (
        "perlu {u} untuk menyimpan hasil panen anggota",
        "listrik untuk {u} belum cukup",
        "butuh bantuan pembangunan {u}",
    ),
    "logistik": (
        "butuh truk untuk angkut barang koperasi",
        "perlu mitra pengiriman barang ke kota",
        "butuh mobil pick up untuk {u}",
    ),
    "lpg": (
        "ingin jadi {u} resmi Pertamina",
        "kuota {u} kurang, warga sering antri",
        "mau daftar {u}",
    ),
    "pupuk": (
        "pupuk subsidi sering telat datang ke {u}",
        "ingin jadi pengecer resmi Pupuk Indonesia",
        "stok {u} tidak cukup saat musim tanam",
    ),
    "agen": ("ingin buka {u} supaya warga mudah transaksi", "butuh mesin EDC untuk {u}"),
    "klinik+apotek": ("butuh pasokan obat untuk apotek dan klinik desa",),
}

COMMODITY_NEEDS: dict[str, tuple[str, ...]] = {
    "*": (
        "ingin menjual {c} hasil anggota langsung ke pembeli",
        "harga {c} di tengkulak rendah, butuh offtaker",
        "perlu pelatihan pascapanen {c}",
        "butuh pembeli tetap untuk {c} anggota",
    ),
    "sawit": (
        "{c} anggota dijual ke tengkulak, ingin kemitraan langsung dengan PKS",
        "butuh bibit sawit bersertifikat untuk replanting",
        "perlu truk angkut {c} ke pabrik",
        "ingin jual {c} langsung ke pabrik kelapa sawit",
    ),
    "karet": (
        "ingin menjual {c} bersih langsung ke pabrik crumb rubber",
        "butuh pelatihan bokar bersih",
        "harga {c} anjlok, cari pembeli yang stabil",
    ),
    "lada": (
        "ingin menjual {c} hasil anggota langsung ke pembeli",
        "perlu mesin pengolah {c} putih",
        "cari eksportir yang mau beli {c} anggota",
    ),
    "kopi liberika": (
        "butuh mesin roasting untuk {c}",
        "ingin memasarkan {c} ke kafe di kota",
        "perlu pelatihan pengolahan {c} pascapanen",
    ),
    "kopi": ("butuh mesin roasting untuk {c}", "ingin memasarkan {c} ke kafe di kota"),
    "padi": (
        "butuh mesin pengering {c}",
        "ingin jual {c} ke Bulog",
        "perlu combine harvester",
        "ingin punya penggilingan padi sendiri",
    ),
    "ikan": (
        "perlu gudang pendingin untuk {c}",
        "butuh es balok dan cool box untuk nelayan",
        "ingin jual {c} langsung ke pembeli di kota",
    ),
    "ikan tawar": ("butuh pakan ikan murah untuk keramba", "ingin jual {c} ke pasar kota"),
    "jagung": ("butuh dryer jagung", "ingin kontrak jual {c} ke pabrik pakan"),
    "ubi kayu": ("ingin olah {c} jadi tepung mocaf", "butuh pembeli {c} untuk pabrik tapioka"),
    "jeruk": ("ingin pasarkan {c} ke luar daerah", "butuh pelatihan pengendalian hama jeruk"),
}

FINANCING_NEEDS = (
    "butuh modal kerja {a}",
    "perlu pinjaman {a} untuk {u}",
    "ajukan pembiayaan {a} ke bank Himbara",
    "butuh modal {a} untuk pengembangan {u}",
    "rencana pinjam {a} untuk {u}",
)


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


def _pick(rng: random.Random, variants: Variants) -> str:
    values, cum = _table(variants)
    return values[bisect.bisect_right(cum, rng.random())]


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


# Provinces as people abbreviate them in ids and chat: Kalbar, Jatim, NTB ...
PROVINCE_SLUGS = {
    "11": "aceh", "12": "sumut", "13": "sumbar", "14": "riau", "15": "jambi", "16": "sumsel",
    "17": "bengkulu", "18": "lampung", "19": "babel", "21": "kepri", "31": "jakarta",
    "32": "jabar", "33": "jateng", "34": "diy", "35": "jatim", "36": "banten", "51": "bali",
    "52": "ntb", "53": "ntt", "61": "kalbar", "62": "kalteng", "63": "kalsel", "64": "kaltim",
    "65": "kaltara", "71": "sulut", "72": "sulteng", "73": "sulsel", "74": "sultra",
    "75": "gorontalo", "76": "sulbar", "81": "maluku", "82": "malut", "91": "papua",
    "92": "papua-barat", "93": "papua-selatan", "94": "papua-tengah", "95": "papua-pegunungan",
    "96": "papua-barat-daya",
}  # fmt: skip


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
        phrases.append(
            rng.choice(
                (
                    "butuh pendampingan menyusun proposal bisnis",
                    "perlu pelatihan pengurus",
                    "ingin kerja sama dengan mitra",
                    "butuh modal kerja",
                    "perlu pendampingan Simkopdes",
                )
            )
        )
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

BANK_TERMS = (
    "bunga 6% per tahun, tenor hingga 72 bulan, masa tenggang 6–8 bulan. Syarat: "
    "badan hukum koperasi, NIK koperasi, rekening bank, NPWP, NIB dan proposal bisnis "
    "yang disetujui"
)

BANKS = {
    "bri": ("PT Bank Rakyat Indonesia (Persero) Tbk", "BRI"),
    "bni": ("PT Bank Negara Indonesia (Persero) Tbk", "BNI"),
    "mandiri": ("PT Bank Mandiri (Persero) Tbk", "Bank Mandiri"),
    "bsi": ("PT Bank Syariah Indonesia Tbk", "BSI"),
}

OFFTAKE_GOODS: dict[str, tuple[str, str, Sequence[str]]] = {
    # canonical -> (product slug, what they buy, commodity terms on the offer)
    "sawit": ("tbs", "TBS kelapa sawit", ("sawit", "TBS", "kelapa sawit")),
    "karet": ("bokar", "bahan olah karet (bokar) bersih", ("karet", "bokar", "getah karet")),
    "lada": ("lada", "lada hitam dan lada putih", ("lada", "merica")),
    "kopi liberika": (
        "kopi",
        "biji kopi liberika (green bean dan gelondong)",
        ("kopi liberika", "kopi"),
    ),
    "kopi": ("kopi", "biji kopi (green bean)", ("kopi", "kopi robusta", "kopi arabika")),
    "padi": ("gabah", "gabah kering panen", ("gabah", "padi", "beras")),
    "jagung": ("jagung", "jagung pipil kering untuk pakan", ("jagung", "jagung pipil")),
    "ubi kayu": ("singkong", "ubi kayu segar untuk tapioka", ("ubi kayu", "singkong")),
    "ikan": ("ikan", "ikan segar hasil tangkapan", ("ikan", "ikan laut")),
    "ikan tawar": ("ikan", "ikan air tawar dari keramba", ("ikan air tawar", "ikan")),
    "kelapa": ("kelapa", "kelapa bulat dan kopra", ("kelapa", "kopra")),
    "kakao": ("kakao", "biji kakao fermentasi", ("kakao", "cokelat")),
    "jeruk": ("jeruk", "jeruk siam grade A-B", ("jeruk", "jeruk sambas")),
    "rumput laut": ("rumput-laut", "rumput laut kering", ("rumput laut",)),
    "pala": ("pala", "biji pala dan fuli", ("pala",)),
    "cengkeh": ("cengkeh", "cengkeh kering", ("cengkeh",)),
    "sagu": ("sagu", "tepung sagu basah", ("sagu",)),
    "madu": ("madu", "madu hutan dan madu kelulut", ("madu hutan", "madu")),
    "nanas": ("nanas", "nanas segar", ("nanas",)),
    "tebu": ("tebu", "tebu giling", ("tebu",)),
}

OFFTAKE_UNITS: dict[str, Sequence[str]] = {
    "sawit": ("pengumpul TBS",),
    "karet": ("unit pengolahan bokar", "UPPB"),
    "lada": ("pengolahan lada",),
    "kopi liberika": ("pengolahan kopi",),
    "kopi": ("pengolahan kopi",),
    "padi": ("penggilingan padi",),
    "ikan": ("pengolahan ikan", "cold storage"),
    "ikan tawar": ("pengolahan ikan",),
}

COMPANY_WORDS: dict[str, tuple[str, ...]] = {
    "sawit": ("Sawit", "Agro Sawit", "Palma"),
    "karet": ("Karet", "Rubber", "Lateks"),
    "lada": ("Lada", "Sahang"),
    "kopi liberika": ("Kopi", "Liberika"),
    "kopi": ("Kopi", "Kopi Nusa"),
    "padi": ("Pangan", "Beras"),
    "jagung": ("Jagung", "Pakan"),
    "ubi kayu": ("Tapioka", "Singkong"),
    "ikan": ("Bahari", "Samudra", "Perikanan"),
    "ikan tawar": ("Perikanan", "Mina"),
    "kelapa": ("Kelapa", "Nyiur"),
    "kakao": ("Kakao", "Cokelat"),
    "jeruk": ("Jeruk", "Buah"),
    "rumput laut": ("Rumput Laut", "Seaweed"),
    "pala": ("Pala", "Rempah"),
    "cengkeh": ("Cengkeh", "Rempah"),
    "sagu": ("Sagu",),
    "madu": ("Madu", "Lebah"),
    "nanas": ("Nanas", "Buah"),
    "tebu": ("Tebu", "Manis"),
}

ISLAND_WORDS: dict[str, tuple[str, ...]] = {
    "1": ("Andalas", "Swarnadwipa", "Sumatra"),
    "2": ("Segara", "Kepri"),
    "3": ("Jawa", "Dwipa", "Nusantara"),
    "5": ("Nusa", "Sunda Kecil"),
    "6": ("Borneo", "Khatulistiwa", "Kapuas", "Kalimantan"),
    "7": ("Celebes", "Sulawesi"),
    "8": ("Maluku", "Rempah Timur"),
    "9": ("Papua", "Cenderawasih"),
}
COMPANY_SUFFIX = ("Lestari", "Makmur", "Sejahtera", "Abadi", "Mandiri", "Jaya", "Sentosa", "Raya")

NGOS = (
    ("yayasan-desa-mandiri", "Yayasan Desa Mandiri Nusantara (fiktif)"),
    ("lembaga-koperasi-rakyat", "Lembaga Pengembangan Koperasi Rakyat (fiktif)"),
    ("perkumpulan-tani-lestari", "Perkumpulan Petani Lestari (fiktif)"),
)

TRAININGS = (
    (
        "pembukuan",
        "Pelatihan pembukuan dan pelaporan Simkopdes",
        "Kelas dua hari untuk pengurus dan pengelola: pembukuan sederhana, laporan keuangan, "
        "input data di Simkopdes.",
        ("USP", "kantor koperasi"),
        (),
    ),
    (
        "proposal",
        "Pendampingan penyusunan proposal bisnis koperasi",
        "Pendampingan menyusun proposal bisnis yang disyaratkan bank Himbara untuk pembiayaan.",
        (),
        (),
    ),
    (
        "apotek",
        "Pelatihan pengelolaan apotek dan klinik desa",
        "Tata kelola obat, pencatatan stok dan pelayanan apotek desa bersama tenaga kesehatan.",
        ("apotek desa", "apotik", "klinik desa"),
        (),
    ),
    (
        "sembako",
        "Pelatihan manajemen gerai sembako",
        "Pengelolaan stok, harga dan kasir untuk gerai sembako koperasi.",
        ("gerai sembako", "kios sembako"),
        (),
    ),
)
COMMODITY_TRAININGS: dict[str, tuple[str, str, str]] = {
    "karet": (
        "bokar",
        "Pelatihan bokar bersih",
        "Cara menghasilkan bahan olah karet bersih agar harga getah karet anggota naik.",
    ),
    "sawit": (
        "sawit",
        "Sekolah lapang sawit berkelanjutan",
        "Praktik budidaya, replanting dan persiapan sertifikasi ISPO untuk pekebun sawit anggota.",
    ),
    "lada": (
        "lada",
        "Sekolah lapang budidaya lada",
        "Budidaya dan pascapanen lada putih dan lada hitam yang sesuai standar pembeli.",
    ),
    "kopi liberika": (
        "kopi",
        "Pelatihan pascapanen kopi liberika",
        "Petik merah, fermentasi dan roasting kopi liberika.",
    ),
    "kopi": ("kopi", "Pelatihan pascapanen kopi", "Petik merah, pengeringan dan penyimpanan kopi."),
    "ikan": (
        "ikan",
        "Pelatihan penanganan ikan segar dan cold storage",
        "Rantai dingin ikan hasil tangkapan dari kapal sampai gudang pendingin.",
    ),
    "padi": (
        "padi",
        "Pelatihan pengelolaan penggilingan padi",
        "Operasional RMU dan penyimpanan gabah kering giling.",
    ),
}


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
            produce = {k: v for k, v in produce_of(anchor.code).items() if k in OFFTAKE_GOODS}
            if not produce:
                return self.training()
            commodity = rng.choices(list(produce), weights=list(produce.values()))[0]
        product, goods, terms = OFFTAKE_GOODS[commodity]
        regions, slug = self.regions_for((0.1, 0.35, 0.15), commodity)
        island = ISLAND_WORDS.get(regions[0][0], ("Nusantara",))
        company = (
            f"{rng.choice(('PT', 'PT', 'CV'))} {rng.choice(COMPANY_WORDS[commodity])} "
            f"{rng.choice(island)} {rng.choice(COMPANY_SUFFIX)}"
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
            product,
            slug,
            partner_name=company,
            partner_type=PartnerType.BUSINESS,
            offer_type=OfferType.OFFTAKE,
            title=f"Membeli {goods} dari koperasi",
            description=(
                f"{company} membeli {goods} hasil anggota koperasi di "
                f"{self.table.describe(regions[0])}, {volume}. Harga mengikuti harga "
                f"pasar/penetapan dinas, pembayaran maksimal 7 hari, dijemput di gudang "
                f"koperasi."
            ),
            business_units=list(OFFTAKE_UNITS.get(commodity, ())),
            commodities=list(terms),
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
            product, title, description = COMMODITY_TRAININGS[c]
            units: Sequence[str] = OFFTAKE_UNITS.get(c, ())
            commodities: Sequence[str] = OFFTAKE_GOODS[c][2]
            regions, slug = self.regions_for((0.2, 0.3, 0.2), c)
        else:
            product, title, description, units, commodities = rng.choice(TRAININGS)
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
            f"pelatihan-{product}",
            slug,
            partner_name=partner_name,
            partner_type=partner_type,
            offer_type=OfferType.TRAINING,
            title=title,
            description=description + " Gratis untuk pengurus dan pengelola unit.",
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
