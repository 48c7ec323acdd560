"""Recording a notification: the inbox row, the message to publish and the webhook
deliveries, all in the caller's transaction (the transactional outbox).

The id is derived from what the notification announces, so a redelivered or duplicate
event finds the existing row and records nothing: one notification, one publish (the id
is also the ``Nats-Msg-Id``), one delivery per webhook endpoint.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from schemas import RecipientType, subjects
from services.notify.events import (
    COORDINATOR,
    CoordinatorReminder,
    notification_event,
    notify_coordinator,
)
from services.notify.messages import Text
from services.notify.webhooks import schedule_deliveries
from services.platform.outbox import enqueue
from services.storage.models import NotificationRow


class Kind(StrEnum):
    APPROVED = "approved"
    CANCELLED = "cancelled"  # an approval taken back (reopened)
    OFFER_WITHDRAWN = "offer_withdrawn"
    OFFER_EXPIRED = "offer_expired"
    REMINDER = "reminder"


def notification_id(*parts: object) -> str:
    """Deterministic: the same announcement always gives the same id."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"nt-{digest[:32]}"


def approval_announced(session: Session, suggestion_id: str) -> bool:
    """Whether the cooperative was told of an approval of this pair that no later
    cancellation has taken back (approvals and cancellations alternate per pair)."""
    counts = dict(
        session.exec(
            select(NotificationRow.kind, func.count())
            .where(
                NotificationRow.suggestion_id == suggestion_id,
                NotificationRow.recipient_type == RecipientType.COOPERATIVE.value,
                col(NotificationRow.kind).in_([Kind.APPROVED.value, Kind.CANCELLED.value]),
            )
            .group_by(col(NotificationRow.kind))
        ).all()
    )
    return counts.get(Kind.APPROVED.value, 0) > counts.get(Kind.CANCELLED.value, 0)


def record_notification(
    session: Session,
    *,
    notification_id: str,
    recipient_type: RecipientType,
    recipient_id: str,
    suggestion_id: str,
    kind: Kind,
    text: Text,
    now: datetime,
) -> NotificationRow | None:
    """Store, enqueue and schedule one notification; None when it exists already."""
    if session.get(NotificationRow, notification_id) is not None:
        return None
    row = NotificationRow(
        notification_id=notification_id,
        recipient_type=recipient_type.value,
        recipient_id=recipient_id,
        suggestion_id=suggestion_id,
        kind=kind.value,
        title=text.title,
        body=text.body,
        created_at=now,
    )
    session.add(row)
    event = notification_event(row)
    subject = (
        subjects.notify_cooperative(recipient_id)
        if recipient_type == RecipientType.COOPERATIVE
        else subjects.notify_partner(recipient_id)
    )
    enqueue(session, subject, event, msg_id=notification_id)
    schedule_deliveries(session, row, now)
    # Visible to session.get at once, so a duplicate later in the same batch is seen.
    session.flush()
    return row


def record_reminder(
    session: Session,
    *,
    notification_id: str,
    regency_code: str,
    suggestion_ids: list[str],
    text: Text,
    now: datetime,
) -> NotificationRow | None:
    if session.get(NotificationRow, notification_id) is not None:
        return None
    row = NotificationRow(
        notification_id=notification_id,
        recipient_type=COORDINATOR,
        recipient_id=regency_code,
        # The inbox row points at the longest-waiting suggestion; the event lists them all.
        suggestion_id=suggestion_ids[0],
        kind=Kind.REMINDER.value,
        title=text.title,
        body=text.body,
        created_at=now,
    )
    session.add(row)
    event = CoordinatorReminder(
        notification_id=notification_id,
        regency_code=regency_code,
        suggestion_ids=suggestion_ids,
        title=text.title,
        body=text.body,
        created_at=now,
    )
    enqueue(session, notify_coordinator(regency_code), event, msg_id=notification_id)
    session.flush()
    return row
