"""Notification texts in Bahasa Indonesia, composed from stored rows: pure functions.

Every text says who, which offer, what happens next and, for approvals, the coordinator's
note, so that a cooperative's board can act on a phone screen without opening anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from schemas.regions import region_table
from services.storage.models import CooperativeRow, OfferRow, SuggestionRow

OFFER_TYPE_LABELS = {
    "financing": "pembiayaan",
    "supply": "pasokan barang",
    "offtake": "penyerapan hasil panen",
    "logistics": "layanan logistik",
    "equipment": "sarana dan peralatan",
    "training": "pelatihan dan pendampingan",
}

# What the cooperative should prepare, by offer type (DOMAIN.md: banks ask for these).
PREPARE = {
    "financing": (
        "Siapkan akta badan hukum, nomor induk koperasi, rekening bank koperasi, NPWP, NIB "
        "dan proposal usaha yang disetujui rapat anggota."
    ),
    "supply": "Siapkan perkiraan kebutuhan barang per bulan dan lokasi gerai atau gudang.",
    "offtake": "Siapkan perkiraan volume hasil panen anggota dan jadwal panen.",
    "logistics": "Siapkan jadwal dan perkiraan volume pengiriman.",
    "equipment": "Siapkan rencana penggunaan dan lokasi penempatan sarana.",
    "training": "Siapkan daftar pengurus dan anggota yang akan mengikuti pelatihan.",
}


# The dashboard's name of the role (services.storage.models.ROLE_LABELS), one term everywhere.
ROLE_TERM = "Pendamping Usaha"


@dataclass(frozen=True)
class Text:
    title: str
    body: str


def offer_label(offer_type: str) -> str:
    return OFFER_TYPE_LABELS.get(offer_type, offer_type)


def place(village_code: str) -> str:
    """'Kuala Dua, Sungai Raya, Kubu Raya, Kalimantan Barat', or the code when unknown."""
    try:
        return region_table().describe(village_code)
    except Exception:  # an unknown code must not stop a notification
        return village_code


def regency_name(regency_code: str) -> str:
    try:
        return region_table().name(regency_code)
    except Exception:
        return regency_code


def _note(note: str) -> str:
    note = note.strip()
    return f"Catatan koordinator: {note}" if note else "Catatan koordinator: (tidak ada)"


def approved_for_cooperative(
    suggestion: SuggestionRow, offer: OfferRow, cooperative: CooperativeRow, note: str
) -> Text:
    label = offer_label(offer.offer_type)
    prepare = PREPARE.get(offer.offer_type, "")
    body = "\n".join(
        line
        for line in (
            f"Kemitraan untuk {cooperative.name} telah disetujui koordinator.",
            f"Mitra: {offer.partner_name}.",
            f'Penawaran: "{offer.title}" ({label}).',
            f"Langkah berikutnya: {offer.partner_name} akan menghubungi pengurus koperasi. "
            f"Pengurus juga dapat menghubungi {offer.partner_name} melalui {ROLE_TERM} "
            "koperasi dengan menyebut nomor usulan "
            f"{suggestion.suggestion_id}.",
            prepare,
            _note(note),
        )
        if line
    )
    return Text(f"Kemitraan disetujui: {offer.partner_name} – {offer.title}"[:300], body)


def approved_for_partner(
    suggestion: SuggestionRow, offer: OfferRow, cooperative: CooperativeRow, note: str
) -> Text:
    label = offer_label(offer.offer_type)
    body = "\n".join(
        (
            f"Koordinator menyetujui {cooperative.name} untuk penawaran Anda "
            f'"{offer.title}" ({label}).',
            f"Koperasi: {cooperative.name} (ID {cooperative.cooperative_id}), "
            f"{place(cooperative.village_code)}, {cooperative.member_count} anggota.",
            f"Langkah berikutnya: hubungi pengurus koperasi melalui {ROLE_TERM} setempat "
            f"dengan menyebut nomor usulan {suggestion.suggestion_id}; pengurus koperasi juga "
            "telah diberi tahu dan menunggu kabar dari Anda.",
            _note(note),
        )
    )
    return Text(f"Koperasi disetujui untuk penawaran Anda: {cooperative.name}"[:300], body)


def offer_closed_for_cooperative(
    offer: OfferRow, cooperative: CooperativeRow, *, expired_on: date | None
) -> Text:
    """An offer the cooperative was approved for has been withdrawn or has expired."""
    if expired_on is not None:
        what = f"telah berakhir masa berlakunya pada {expired_on.strftime('%d-%m-%Y')}"
        title = f"Penawaran berakhir: {offer.title}"
    else:
        reason = offer.withdraw_reason.strip()
        what = "telah ditarik oleh mitra" + (f" (alasan: {reason})" if reason else "")
        title = f"Penawaran ditarik: {offer.title}"
    body = "\n".join(
        (
            f'Penawaran "{offer.title}" dari {offer.partner_name} yang telah disetujui untuk '
            f"{cooperative.name} {what}.",
            "Langkah berikutnya: jika kesepakatan dengan mitra belum ditandatangani, hubungi "
            f"{ROLE_TERM} koperasi untuk mencari penawaran pengganti.",
        )
    )
    return Text(title[:300], body)


def reminder_for_coordinators(
    regency_code: str, waiting: list[tuple[SuggestionRow, int]], after_days: float
) -> Text:
    """Suggestions of one regency waiting for a decision; ``waiting`` holds (row, days)."""
    count = len(waiting)
    shown = waiting[:20]
    lines = [
        f"{count} usulan kemitraan di {regency_name(regency_code)} menunggu keputusan lebih "
        f"dari {after_days:g} hari.",
        "Langkah berikutnya: tinjau dan setujui atau tolak usulan berikut di dasbor koordinator:",
    ]
    lines += [
        f"- {row.suggestion_id}: koperasi {row.cooperative_id}, penawaran {row.offer_id} "
        f"({row.partner_id}), menunggu {days} hari"
        for row, days in shown
    ]
    if count > len(shown):
        lines.append(f"… dan {count - len(shown)} usulan lainnya.")
    title = f"Pengingat: {count} usulan menunggu keputusan di {regency_name(regency_code)}"
    return Text(title[:300], "\n".join(lines))


def cancelled_for_cooperative(
    suggestion: SuggestionRow, offer: OfferRow, cooperative: CooperativeRow, note: str
) -> Text:
    """An approval the cooperative was told of, taken back by a coordinator (reopened)."""
    body = "\n".join(
        (
            f"Persetujuan kemitraan {cooperative.name} dengan {offer.partner_name} untuk "
            f'penawaran "{offer.title}" dibatalkan oleh koordinator. Usulan ini ditinjau ulang.',
            "Langkah berikutnya: jangan menandatangani kesepakatan dengan mitra untuk usulan "
            f"{suggestion.suggestion_id} sampai ada kabar berikutnya; tanyakan kepada "
            f"{ROLE_TERM} koperasi bila perlu.",
            _note(note),
        )
    )
    return Text(f"Kemitraan dibatalkan: {offer.partner_name} – {offer.title}"[:300], body)


def cancelled_for_partner(
    suggestion: SuggestionRow, offer: OfferRow, cooperative: CooperativeRow, note: str
) -> Text:
    body = "\n".join(
        (
            f"Persetujuan {cooperative.name} untuk penawaran Anda "
            f'"{offer.title}" dibatalkan oleh koordinator. Usulan ini ditinjau ulang.',
            f"Koperasi: {cooperative.name} (ID {cooperative.cooperative_id}), "
            f"{place(cooperative.village_code)}.",
            "Langkah berikutnya: tunda tindak lanjut dengan koperasi untuk usulan "
            f"{suggestion.suggestion_id} sampai ada kabar berikutnya; koperasi juga telah "
            "diberi tahu.",
            _note(note),
        )
    )
    return Text(f"Kemitraan dibatalkan: {cooperative.name}"[:300], body)
