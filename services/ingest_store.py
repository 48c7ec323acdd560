"""How ingest applies input events to the database.

Each function returns whether the event changed anything; a change also puts a
``kopdes.internal.*.changed`` message in the outbox for the matcher. The newest
``updated_at`` wins: an older event is ignored and an identical replay changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Session, select

from schemas import CooperativeProfile, DeadLetter, OfferWithdrawn, PartnerOffer, subjects
from services.consuming import Delivery
from services.convert import cooperative_row, offer_row
from services.intake import InputEvent
from services.outbox import enqueue
from services.storage.db import lock_entity
from services.storage.models import CooperativeRow, DeadLetterRow, OfferRow, OfferWithdrawalRow


class CooperativeChanged(BaseModel):
    cooperative_id: str
    updated_at: datetime


class OfferChanged(BaseModel):
    partner_id: str
    offer_id: str
    updated_at: datetime
    withdrawn: bool = False


def apply_event(session: Session, event: InputEvent) -> bool:
    if isinstance(event, CooperativeProfile):
        return upsert_cooperative(session, event)
    if isinstance(event, PartnerOffer):
        return upsert_offer(session, event)
    return withdraw_offer(session, event)


def upsert_cooperative(session: Session, profile: CooperativeProfile) -> bool:
    # Locked to the commit on PostgreSQL: of two replicas upserting two versions at once,
    # the second reads what the first wrote, so the newest wins and only a winner announces.
    # Two first inserts collide on the primary key instead, and the loser is retried.
    stored = session.get(CooperativeRow, profile.cooperative_id, with_for_update=True)
    if stored is not None and stored.updated_at >= profile.updated_at:
        return False
    row = cooperative_row(profile)
    if stored is None:
        session.add(row)
    else:
        for field, value in row.model_dump().items():
            setattr(stored, field, value)
    changed = CooperativeChanged(
        cooperative_id=profile.cooperative_id, updated_at=profile.updated_at
    )
    enqueue(
        session,
        subjects.COOPERATIVE_CHANGED,
        changed,
        f"cooperative:{profile.cooperative_id}:{profile.updated_at.isoformat()}",
    )
    return True


def _withdrawal_covering(
    session: Session, partner_id: str, offer_id: str, updated_at: datetime
) -> OfferWithdrawalRow | None:
    withdrawal = session.get(OfferWithdrawalRow, (partner_id, offer_id))
    if withdrawal is not None and withdrawal.withdrawn_at >= updated_at:
        return withdrawal
    return None


def _announce_offer(session: Session, row: OfferRow, what: str, at: datetime) -> None:
    changed = OfferChanged(
        partner_id=row.partner_id,
        offer_id=row.offer_id,
        updated_at=row.updated_at,
        withdrawn=row.withdrawn_at is not None,
    )
    enqueue(session, subjects.OFFER_CHANGED, changed, f"offer:{row.key}:{what}:{at.isoformat()}")


def upsert_offer(session: Session, offer: PartnerOffer) -> bool:
    # An offer and its withdrawal are two rows, perhaps not there yet: replicas applying
    # them at once take turns on one lock per offer.
    lock_entity(session, "offer", f"{offer.partner_id}/{offer.offer_id}")
    stored = session.get(OfferRow, (offer.partner_id, offer.offer_id))
    if stored is not None and stored.updated_at >= offer.updated_at:
        return False
    # A withdrawal newer than this version (perhaps received before it) still holds.
    withdrawal = _withdrawal_covering(session, offer.partner_id, offer.offer_id, offer.updated_at)
    row = offer_row(
        offer,
        withdrawal.withdrawn_at if withdrawal else None,
        withdrawal.reason if withdrawal else "",
    )
    if stored is None:
        session.add(row)
    else:
        for field, value in row.model_dump().items():
            setattr(stored, field, value)
        row = stored
    _announce_offer(session, row, "upserted", offer.updated_at)
    return True


def withdraw_offer(session: Session, event: OfferWithdrawn) -> bool:
    key = (event.partner_id, event.offer_id)
    lock_entity(session, "offer", f"{event.partner_id}/{event.offer_id}")
    withdrawal = session.get(OfferWithdrawalRow, key)
    if withdrawal is not None and withdrawal.withdrawn_at >= event.withdrawn_at:
        return False
    if withdrawal is None:
        session.add(
            OfferWithdrawalRow(
                partner_id=event.partner_id,
                offer_id=event.offer_id,
                withdrawn_at=event.withdrawn_at,
                reason=event.reason,
            )
        )
    else:
        withdrawal.withdrawn_at, withdrawal.reason = event.withdrawn_at, event.reason
    stored = session.get(OfferRow, key)
    if stored is None or stored.updated_at > event.withdrawn_at:
        # Unknown yet, or re-published after this withdrawal: the withdrawal is kept
        # and applies if an older version of the offer arrives later.
        return True
    stored.withdrawn_at, stored.withdraw_reason = event.withdrawn_at, event.reason
    _announce_offer(session, stored, "withdrawn", event.withdrawn_at)
    return True


def record_dead_letter(
    session: Session, letter: DeadLetter, source: str, msg_id: str | None = None
) -> None:
    """Keep the refused input for inspection and announce it on ``kopdes.deadletter``."""
    if session.exec(select(DeadLetterRow.id).where(DeadLetterRow.source == source)).first():
        return
    session.add(
        DeadLetterRow(
            subject=letter.subject,
            reason=letter.reason,
            error_type=letter.error_type,
            raw=letter.raw,
            raw_encoding=letter.raw_encoding,
            source=source,
            msg_id=msg_id,
            received_at=letter.received_at,
        )
    )
    enqueue(session, subjects.DEADLETTER, letter, f"deadletter:{source}")


def record_handler_failure(session: Session, delivery: Delivery, exc: Exception, work: str) -> None:
    """Dead-letter a message whose handler kept failing (``work``: what it was doing)."""
    letter = DeadLetter(
        subject=delivery.subject,
        reason=f"{work} failed {delivery.num_delivered} times: {exc!r}",
        error_type="handler_error",
        raw=delivery.data.decode("utf-8", "replace"),
        received_at=delivery.received_at,
    )
    record_dead_letter(session, letter, delivery.source, delivery.msg_id)
