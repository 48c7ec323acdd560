"""What the notify service publishes: the contract's Notification, and the internal
coordinator reminder."""

from __future__ import annotations

from pydantic import AwareDatetime

from schemas import Notification, RecipientType
from schemas.events import Event
from services.storage.models import NotificationRow

COORDINATOR = "coordinator"
NOTIFY_COORDINATOR = "kopdes.notify.coordinator.{regency_code}"


class CoordinatorReminder(Event):
    """Internal (not in CONTRACT.md): a reminder to the coordinators of one regency.

    Published on ``kopdes.notify.coordinator.<regency_code>``; the code's dots make it
    hierarchical, so ``kopdes.notify.coordinator.61.>`` follows a whole province.
    """

    notification_id: str
    recipient_type: str = COORDINATOR
    regency_code: str
    suggestion_ids: list[str]
    title: str
    body: str
    created_at: AwareDatetime


def notify_coordinator(regency_code: str) -> str:
    return NOTIFY_COORDINATOR.format(regency_code=regency_code)


def notification_event(row: NotificationRow) -> Notification:
    return Notification(
        notification_id=row.notification_id,
        recipient_type=RecipientType(row.recipient_type),
        recipient_id=row.recipient_id,
        suggestion_id=row.suggestion_id,
        title=row.title,
        body=row.body,
        created_at=row.created_at,
    )
