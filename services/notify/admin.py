"""What the ``kopdes-match webhook`` and ``inbox`` commands do, apart from printing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from services.notify import inbox as inbox_queries
from services.notify import webhooks
from services.platform.settings import Settings
from services.storage.db import make_engine, session_scope
from services.storage.migrate import create_schema
from services.storage.models import (
    NotificationRow,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
    WebhookEndpointRow,
)
from services.storage.types import utcnow


def engine_for(settings: Settings) -> Engine:
    engine = make_engine(settings.sqlalchemy_url)
    create_schema(engine)
    return engine


@dataclass(frozen=True)
class Registered:
    endpoint: WebhookEndpointRow
    secret: str


def add_webhook(settings: Settings, recipient_type: str, recipient_id: str, url: str) -> Registered:
    with session_scope(engine_for(settings)) as session:
        row, secret = webhooks.register_endpoint(
            session,
            recipient_type,
            recipient_id,
            url,
            allowed_hosts=settings.webhook_hosts_allowed,
        )
        return Registered(row, secret)


def list_webhooks(settings: Settings) -> list[WebhookEndpointRow]:
    with Session(engine_for(settings)) as session:
        return webhooks.list_endpoints(session)


def remove_webhook(settings: Settings, endpoint_id: int) -> WebhookEndpointRow:
    with session_scope(engine_for(settings)) as session:
        return webhooks.deactivate_endpoint(session, endpoint_id)


def list_deliveries(
    settings: Settings, status: WebhookDeliveryStatus | None, limit: int
) -> list[tuple[WebhookDeliveryRow, WebhookEndpointRow | None]]:
    with Session(engine_for(settings)) as session:
        rows = webhooks.deliveries(session, status, limit)
        return [(row, session.get(WebhookEndpointRow, row.endpoint_id)) for row in rows]


def retry_deliveries(settings: Settings, delivery_ids: list[int]) -> list[WebhookDeliveryRow]:
    """Retry each failed delivery; the running service's worker picks them up."""
    with session_scope(engine_for(settings)) as session:
        return [webhooks.retry_delivery(session, i, utcnow()) for i in delivery_ids]


def read_inbox(
    settings: Settings, recipient_type: str, recipient_id: str, unread_only: bool, limit: int
) -> tuple[list[NotificationRow], int]:
    with Session(engine_for(settings)) as session:
        rows = inbox_queries.inbox(
            session, recipient_type, recipient_id, unread_only=unread_only, limit=limit
        )
        return rows, inbox_queries.unread_count(session, recipient_type, recipient_id)


def mark_read(settings: Settings, notification_id: str, read: bool) -> NotificationRow:
    with session_scope(engine_for(settings)) as session:
        return inbox_queries.mark(session, notification_id, read=read, now=utcnow())
