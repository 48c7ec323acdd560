"""Recipients by name and region for the Notifikasi page, instead of bare ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from services.notify.messages import place, regency_name
from services.storage.models import CooperativeRow, OfferRow

KIND_LABELS = {"cooperative": "Koperasi", "partner": "Mitra", "coordinator": "Koordinator"}


@dataclass(frozen=True)
class Recipient:
    recipient_type: str
    recipient_id: str
    name: str
    region: str

    @property
    def kind(self) -> str:
        return KIND_LABELS.get(self.recipient_type, self.recipient_type)


def named(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Recipient]:
    """(recipient_type, recipient_id) → Recipient, in two queries for any number of keys."""
    keys = list(dict.fromkeys(keys))
    coop_ids = [i for t, i in keys if t == "cooperative"]
    partner_ids = [i for t, i in keys if t == "partner"]
    coops = {
        cid: (name, village)
        for cid, name, village in session.exec(
            select(
                CooperativeRow.cooperative_id, CooperativeRow.name, CooperativeRow.village_code
            ).where(col(CooperativeRow.cooperative_id).in_(coop_ids))
        ).all()
    }
    partners = dict(
        session.exec(
            select(OfferRow.partner_id, OfferRow.partner_name)
            .where(col(OfferRow.partner_id).in_(partner_ids))
            .distinct()
        ).all()
    )
    out: dict[tuple[str, str], Recipient] = {}
    for recipient_type, recipient_id in keys:
        if recipient_type == "cooperative" and recipient_id in coops:
            name, village = coops[recipient_id]
            out[(recipient_type, recipient_id)] = Recipient(
                recipient_type, recipient_id, name, place(village)
            )
        elif recipient_type == "partner":
            out[(recipient_type, recipient_id)] = Recipient(
                recipient_type, recipient_id, partners.get(recipient_id, recipient_id), ""
            )
        elif recipient_type == "coordinator":
            out[(recipient_type, recipient_id)] = Recipient(
                recipient_type,
                recipient_id,
                f"Koordinator {regency_name(recipient_id)}",
                regency_name(recipient_id),
            )
        else:
            out[(recipient_type, recipient_id)] = Recipient(
                recipient_type, recipient_id, recipient_id, ""
            )
    return out
