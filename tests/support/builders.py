"""Valid contract payloads with sensible defaults, for tests to vary one field at a time."""

from __future__ import annotations

from typing import Any

KUALA_DUA = "61.12.01.2004"  # a desa in Sungai Raya, Kubu Raya, Kalimantan Barat
SUNGAI_RAYA = "61.12.01.2001"
SAMBAS_VILLAGE = "61.01.01.2001"
JATIM_VILLAGE = "35.01.01.2001"  # Widoro, Pacitan, Jawa Timur


def profile(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cooperative_id": "KDMP-6112012004",
        "name": "Koperasi Desa Merah Putih Kuala Dua",
        "village_code": KUALA_DUA,
        "member_count": 120,
        "business_units": ["USP", "kios sembako"],
        "commodities": ["sawit", "karet"],
        "needs": "butuh modal kerja untuk kios sembako",
        "financing_need_idr": 250_000_000,
        "updated_at": "2026-11-01T08:00:00+07:00",
    }
    base.update(overrides)
    return base


def offer(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "offer_id": "bri-kur-kuburaya-2026",
        "partner_id": "bri",
        "partner_name": "Bank Rakyat Indonesia",
        "partner_type": "bank",
        "offer_type": "financing",
        "title": "Kredit modal kerja untuk unit simpan pinjam dan kios sembako",
        "description": "Pembiayaan 6% per tahun, tenor hingga 72 bulan",
        "business_units": ["unit simpan pinjam", "kios sembako"],
        "commodities": [],
        "regions": ["61.12"],
        "min_members": 20,
        "min_amount_idr": 50_000_000,
        "max_amount_idr": 3_000_000_000,
        "capacity": None,
        "valid_until": "2027-06-30",
        "updated_at": "2026-11-01T08:00:00+07:00",
    }
    base.update(overrides)
    return base


def withdrawal(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "offer_id": "bri-kur-kuburaya-2026",
        "partner_id": "bri",
        "withdrawn_at": "2026-11-02T08:00:00+07:00",
        "reason": "kuota habis",
    }
    base.update(overrides)
    return base
