"""Periodic sweep: reminders of pending suggestions, and approved offers that closed.

Reminders: a suggestion pending longer than ``reminder_after_days`` reminds the
coordinators of its regency once per period of that length. The ``reminder`` table is
keyed (suggestion_id, period_index), written in the transaction that records the
reminder, so a restart or a second sweep within the period reminds nobody again. One
reminder per regency per sweep lists all its newly due suggestions, rather than one
message per suggestion.

Closed offers: when an offer a cooperative was approved for is withdrawn, or passes its
``valid_until`` date, the cooperative is told once (the id includes the withdrawal time
or the date, so a re-published offer withdrawn again is told again).

The clock is injected (``now``) so tests control time.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_
from sqlmodel import Session, col, select

from schemas import RecipientType
from services.notify import messages
from services.notify.store import Kind, notification_id, record_notification, record_reminder
from services.platform.settings import Settings
from services.storage.db import session_scope
from services.storage.models import (
    CooperativeRow,
    OfferRow,
    ReminderRow,
    SuggestionRow,
    SuggestionStatus,
)
from services.storage.types import utcnow

log = logging.getLogger(__name__)

CHUNK = 500


class Sweeper:
    def __init__(
        self, engine: Engine, settings: Settings, now: Callable[[], datetime] = utcnow
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.now = now

    def sweep(self) -> int:
        """One sweep in one transaction; returns how many notifications it recorded."""
        with session_scope(self.engine) as session:
            return self.remind(session) + self.closed_offers(session)

    def remind(self, session: Session) -> int:
        now = self.now()
        period = timedelta(days=self.settings.reminder_after_days)
        if period <= timedelta(0):
            return 0
        waiting = session.exec(
            select(SuggestionRow)
            .where(
                SuggestionRow.status == SuggestionStatus.PENDING,
                col(SuggestionRow.created_at) <= now - period,
            )
            .order_by(col(SuggestionRow.created_at), col(SuggestionRow.suggestion_id))
        ).all()
        if not waiting:
            return 0
        due: dict[str, list[tuple[SuggestionRow, int]]] = defaultdict(list)
        for start in range(0, len(waiting), CHUNK):
            chunk = waiting[start : start + CHUNK]
            reminded = {
                (r.suggestion_id, r.period_index)
                for r in session.exec(
                    select(ReminderRow).where(
                        col(ReminderRow.suggestion_id).in_([s.suggestion_id for s in chunk])
                    )
                )
            }
            for row in chunk:
                index = int((now - row.created_at) / period)
                if (row.suggestion_id, index) not in reminded:
                    due[row.regency_code].append((row, index))
        created = 0
        for regency_code, rows in sorted(due.items()):
            keys = [f"{row.suggestion_id}:{index}" for row, index in rows]
            nid = notification_id(Kind.REMINDER, regency_code, *keys)
            days = [(row, (now - row.created_at).days) for row, _ in rows]
            text = messages.reminder_for_coordinators(
                regency_code, days, self.settings.reminder_after_days
            )
            record_reminder(
                session,
                notification_id=nid,
                regency_code=regency_code,
                suggestion_ids=[row.suggestion_id for row, _ in rows],
                text=text,
                now=now,
            )
            for row, index in rows:
                session.add(
                    ReminderRow(
                        suggestion_id=row.suggestion_id,
                        period_index=index,
                        regency_code=regency_code,
                        notification_id=nid,
                        created_at=now,
                    )
                )
            created += 1
        log.info("reminded coordinators of %d regencies", created)
        return created

    def closed_offers(self, session: Session) -> int:
        now = self.now()
        today = now.date()
        rows = session.exec(
            select(SuggestionRow, OfferRow, CooperativeRow)
            .join(
                OfferRow,
                (col(OfferRow.partner_id) == col(SuggestionRow.partner_id))
                & (col(OfferRow.offer_id) == col(SuggestionRow.offer_id)),
            )
            .join(
                CooperativeRow,
                col(CooperativeRow.cooperative_id) == col(SuggestionRow.cooperative_id),
            )
            .where(
                SuggestionRow.status == SuggestionStatus.APPROVED,
                or_(
                    col(OfferRow.withdrawn_at).is_not(None),
                    col(OfferRow.valid_until) < today,
                ),
            )
        ).all()
        created = 0
        for suggestion, offer, cooperative in rows:
            if offer.withdrawn_at is not None:
                kind, when, expired_on = Kind.OFFER_WITHDRAWN, offer.withdrawn_at.isoformat(), None
            else:
                kind, when, expired_on = (
                    Kind.OFFER_EXPIRED,
                    str(offer.valid_until),
                    offer.valid_until,
                )
            row = record_notification(
                session,
                notification_id=notification_id(
                    kind, suggestion.suggestion_id, when, RecipientType.COOPERATIVE
                ),
                recipient_type=RecipientType.COOPERATIVE,
                recipient_id=suggestion.cooperative_id,
                suggestion_id=suggestion.suggestion_id,
                kind=kind,
                text=messages.offer_closed_for_cooperative(
                    offer, cooperative, expired_on=expired_on
                ),
                now=now,
            )
            created += row is not None
        return created
