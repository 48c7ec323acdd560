"""Words shown to coordinators (Bahasa Indonesia): reason codes, statuses, types, numbers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from matcher.scoring import COMPONENT_LABELS
from schemas.regions import region_table
from services.platform.localtime import when_for_viewer
from services.review.explanation import plain_explanation

# Reason codes of a decision: the code travels in the event, the words stay here.
APPROVE_REASONS: dict[str, str] = {
    "sesuai_kebutuhan": "Sesuai kebutuhan koperasi",
    "sudah_dikonfirmasi": "Sudah dikonfirmasi dengan koperasi dan mitra",
    "prioritas_program": "Prioritas program daerah",
}
REJECT_REASONS: dict[str, str] = {
    "tidak_sesuai_kebutuhan": "Tawaran tidak sesuai kebutuhan koperasi",
    "koperasi_belum_siap": "Koperasi belum siap (kelembagaan, modal, atau SDM)",
    "sudah_ada_mitra": "Koperasi sudah punya mitra serupa",
    "lokasi_tidak_terjangkau": "Lokasi atau logistik tidak terjangkau",
    "data_tidak_valid": "Data profil atau tawaran tidak benar",
    "lainnya": "Lainnya (jelaskan di catatan)",
}
# Reasons that need a note saying what is meant.
NOTE_REQUIRED = {"lainnya"}

STATUS_LABELS = {
    "pending": "Menunggu",
    "approved": "Disetujui",
    "rejected": "Ditolak",
    "retracted": "Ditarik",
}
OFFER_TYPE_LABELS = {
    "financing": "Pembiayaan",
    "supply": "Pasokan",
    "offtake": "Penyerapan hasil",
    "logistics": "Logistik",
    "equipment": "Peralatan",
    "training": "Pelatihan",
}
PARTNER_TYPE_LABELS = {
    "bank": "Bank",
    "bumn": "BUMN",
    "business": "Swasta",
    "cooperative": "Koperasi",
    "ngo": "LSM",
    "government": "Pemerintah",
}
ACTION_LABELS = {
    "approved": "menyetujui",
    "rejected": "menolak",
    "reopened": "membuka kembali",
}
SORT_LABELS = {
    "score": "Skor tertinggi",
    "newest": "Terbaru",
    "oldest": "Terlama",
    "cooperative": "Nama koperasi",
}
# Why a suggestion is on the list (its ``basis``): a short badge for queue rows and a
# sentence for the detail page. {n} is the number of that part of the rule (settings).
BASIS_BADGES = {
    "offer": "Masuk {n} besar provinsi",
    "cooperative": "Masuk {n} tawaran teratas koperasi",
}
BASIS_SENTENCES = {
    "offer": "Termasuk {n} koperasi terbaik untuk tawaran ini di {province}.",
    "cooperative": "Termasuk {n} tawaran terbaik untuk koperasi ini.",
}


def reason_label(code: str) -> str:
    return APPROVE_REASONS.get(code) or REJECT_REASONS.get(code) or code


def rupiah(value: int | None) -> str:
    if value is None:
        return "-"
    return "Rp" + f"{value:,}".replace(",", ".")


def number(value: float | int) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"{value:,}".replace(",", ".")


def score_text(score: float) -> str:
    """The score as every page shows it: a whole number, halves rounded up (99,6 → 100)."""
    return str(int(Decimal(str(score)).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def score_level(score: float) -> str:
    if score >= 75:
        return "tinggi"
    if score >= 60:
        return "sedang"
    return "rendah"


def component_words(component: dict[str, Any]) -> str:
    """One explanation component, technically (behind "Rincian")."""
    name = str(component.get("name", ""))
    label = COMPONENT_LABELS.get(name, name.replace("_", " ").capitalize())
    score = float(component.get("score", 0))
    weight = float(component.get("weight", 0))
    detail = str(component.get("detail") or "")
    text = f"{label}: {number(round(score, 1))} dari 100 (bobot {round(weight * 100):d}%)"
    return f"{text} — {detail}" if detail else text


def counted(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The components that count towards the score (weight above zero)."""
    return [c for c in components if float(c.get("weight") or 0) > 0]


def region_name(code: str) -> str:
    return region_table().name(code).removeprefix("Kabupaten ")


def region_describe(code: str) -> str:
    return region_table().describe(code)


def basis_words(
    basis: list[str], shortlist: tuple[int, int], province_code: str = "", full: bool = False
) -> list[str]:
    """The parts of the rule that put a suggestion on the list, as badges or (``full``) as
    sentences. ``shortlist``: the offer's best per province and the cooperative's best
    offers, as the service is set."""
    sizes = {"offer": shortlist[0], "cooperative": shortlist[1]}
    province = f"Provinsi {region_table().name(province_code)}" if province_code else "provinsinya"
    texts = BASIS_SENTENCES if full else BASIS_BADGES
    return [texts[b].format(n=sizes[b], province=province) for b in basis if b in texts]


@pass_context
def _basis_for_page(
    context: Context, basis: list[str], province_code: str = "", full: bool = False
) -> list[str]:
    return basis_words(basis, context["shortlist"], province_code, full)


def register_filters(env: Environment) -> None:
    env.filters.update(
        rupiah=rupiah,
        number=number,
        when=when_for_viewer,
        score=score_text,
        plain=plain_explanation,
        counted=counted,
        region_name=region_name,
        region_describe=region_describe,
        component_words=component_words,
        basis_words=_basis_for_page,
        score_level=score_level,
        reason_label=reason_label,
        status_label=lambda s: STATUS_LABELS.get(str(s), str(s)),
        offer_type_label=lambda s: OFFER_TYPE_LABELS.get(str(s), str(s)),
        partner_type_label=lambda s: PARTNER_TYPE_LABELS.get(str(s), str(s)),
        action_label=lambda s: ACTION_LABELS.get(str(s), str(s)),
    )
    env.globals.update(
        APPROVE_REASONS=APPROVE_REASONS,
        REJECT_REASONS=REJECT_REASONS,
        OFFER_TYPE_LABELS=OFFER_TYPE_LABELS,
        SORT_LABELS=SORT_LABELS,
    )
