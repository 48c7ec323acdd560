"""Who hears of a decision before it is taken: the confirmation step of approve, bulk
approve and reopen on the dashboard (the JSON API decides directly).

An approval notifies the cooperative and the partner at once (inbox, NATS, webhook), and
reopening an approval tells both that it was cancelled; the confirmation page names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from services.review.scope import scope_filter
from services.storage.models import CooperativeRow, CoordinatorRow, OfferRow, SuggestionRow


@dataclass(frozen=True)
class Pair:
    """A suggestion as the confirmation shows it: the two parties and where."""

    suggestion_id: str
    version: int
    status: str
    cooperative: str
    village_code: str
    partner: str
    offer_title: str


def pairs(session: Session, coordinator: CoordinatorRow, suggestion_ids: list[str]) -> list[Pair]:
    """The suggestions in the coordinator's scope, in the order given; others are left out."""
    rows = session.exec(
        select(SuggestionRow, CooperativeRow.name, OfferRow.partner_name, OfferRow.title)
        .join(
            CooperativeRow,
            col(CooperativeRow.cooperative_id) == col(SuggestionRow.cooperative_id),
            isouter=True,
        )
        .join(
            OfferRow,
            (col(OfferRow.partner_id) == col(SuggestionRow.partner_id))
            & (col(OfferRow.offer_id) == col(SuggestionRow.offer_id)),
            isouter=True,
        )
        .where(col(SuggestionRow.suggestion_id).in_(suggestion_ids), scope_filter(coordinator))
    ).all()
    found = {
        row.suggestion_id: Pair(
            suggestion_id=row.suggestion_id,
            version=row.version,
            status=str(row.status),
            cooperative=name or row.cooperative_id,
            village_code=row.village_code,
            partner=partner or row.partner_id,
            offer_title=title or row.offer_id,
        )
        for row, name, partner, title in rows
    }
    return [found[s] for s in dict.fromkeys(suggestion_ids) if s in found]
