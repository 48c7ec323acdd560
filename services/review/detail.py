"""A suggestion in scope with its context: the cooperative and offer, their other suggestions,
the decisions and audit entries, and how many cooperatives the offer has approved."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.review.queue import QueueItem, queue_item, with_names
from services.review.ranks import current_ranks, rank_of
from services.review.scope import scope_filter
from services.storage.models import (
    AuditRow,
    CooperativeRow,
    CoordinatorRow,
    DecisionRow,
    OfferRow,
    SuggestionRow,
    SuggestionStatus,
)


@dataclass
class Detail:
    suggestion: SuggestionRow
    cooperative: CooperativeRow | None
    offer: OfferRow | None
    approved_for_offer: int
    same_cooperative: list[QueueItem]
    same_offer: list[QueueItem]
    decisions: list[DecisionRow]
    audit: list[AuditRow]
    rank: int  # the suggestion's place now (``ranks.py``); the lists' are the API's to count


def detail(session: Session, coordinator: CoordinatorRow, suggestion_id: str) -> Detail | None:
    """A suggestion in scope with its context, or None (also when it is out of scope)."""
    row = session.exec(
        select(SuggestionRow).where(
            SuggestionRow.suggestion_id == suggestion_id, scope_filter(coordinator)
        )
    ).first()
    if row is None:
        return None
    cooperative = session.get(CooperativeRow, row.cooperative_id)
    offer = session.get(OfferRow, (row.partner_id, row.offer_id))
    approved = approved_count(session, row.partner_id, row.offer_id)
    others = with_names().where(
        scope_filter(coordinator),
        col(SuggestionRow.suggestion_id) != suggestion_id,
        col(SuggestionRow.status) != SuggestionStatus.RETRACTED,
    )
    same_cooperative = session.exec(
        others.where(col(SuggestionRow.cooperative_id) == row.cooperative_id)
        .order_by(col(SuggestionRow.score).desc())
        .limit(20)
    ).all()
    same_offer = session.exec(
        others.where(
            col(SuggestionRow.partner_id) == row.partner_id,
            col(SuggestionRow.offer_id) == row.offer_id,
        )
        .order_by(col(SuggestionRow.score).desc())
        .limit(20)
    ).all()
    decisions = session.exec(
        select(DecisionRow)
        .where(DecisionRow.suggestion_id == suggestion_id)
        .order_by(col(DecisionRow.id).desc())
    ).all()
    audit = session.exec(
        select(AuditRow).where(AuditRow.target == suggestion_id).order_by(col(AuditRow.id).desc())
    ).all()
    return Detail(
        row,
        cooperative,
        offer,
        approved,
        [queue_item(r) for r in same_cooperative],
        [queue_item(r) for r in same_offer],
        list(decisions),
        list(audit),
        rank_of(row, current_ranks(session, [row])),
    )


def approved_count(session: Session, partner_id: str, offer_id: str) -> int:
    """The offer's approved cooperatives, nationwide (what its capacity bounds)."""
    return session.exec(
        select(func.count())
        .select_from(SuggestionRow)
        .where(
            SuggestionRow.partner_id == partner_id,
            SuggestionRow.offer_id == offer_id,
            SuggestionRow.status == SuggestionStatus.APPROVED,
        )
    ).one()
