"""Database tables (SQLModel), every one of them, named ``...Row``. The same schema on SQLite
and PostgreSQL.

Tables of the matcher and ingest (cooperatives, offers, suggestions), of the platform
(dead letters, outbox), of the review (coordinators, decisions, audit, logins) and of
notify (notifications, webhooks, reminders). A ``...Base`` class holds the fields a table
shares with the API models built on it (``services/review/models.py``)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm.attributes import set_attribute
from sqlalchemy.orm.base import manager_of_class
from sqlmodel import Field, SQLModel

from services.storage.types import UTCDateTime, utcnow

Row = TypeVar("Row", bound=SQLModel)


def table_of(model: type[SQLModel]) -> Table:
    """The ``Table`` of a table class: SQLAlchemy's declarative mapping sets ``__table__``
    when the class is made, and neither SQLModel nor SQLAlchemy declares it for a type
    checker."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set at class creation
    return table


def stored_id(id: int | None) -> int:
    """The id of a row read from the database (a table's ``id: int | None`` is None only
    before the row is first flushed)."""
    if id is None:
        raise ValueError("the row has no id: it was never stored")
    return id


def construct(table: type[Row], **values: object) -> Row:
    """A new row of ``table`` from values already valid, every column given: built the way
    the ORM builds a row it loads, without SQLModel's validating ``__init__`` (about four
    times faster, for the matcher's hot path)."""
    missing = table_of(table).columns.keys() - values.keys()
    if missing:
        raise TypeError(f"{table.__name__}: no value for {sorted(missing)}")
    row = manager_of_class(table).new_instance()
    for name, value in values.items():
        set_attribute(row, name, value)
    return row


# The column helpers return Any, as SQLModel's Field does: a field declared
# ``updated_at: datetime = _utc(...)`` keeps its declared type for the type checker.


def _utc(nullable: bool) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


def _rupiah() -> Any:
    # Rupiah amounts pass 2**31 (Rp3 billion is a common ceiling).
    return Field(default=None, sa_column=Column(BigInteger, nullable=True))


def _json() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


def _stamp(nullable: bool = False) -> Any:
    """A UTC time set to now when the row is made (None when ``nullable``)."""
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(UTCDateTime(), nullable=nullable),
    )


class CooperativeRow(SQLModel, table=True):
    __tablename__ = "cooperative"

    cooperative_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200, index=True)  # the queue sorted by cooperative
    village_code: str = Field(max_length=13)
    regency_code: str = Field(max_length=5, index=True)
    member_count: int
    business_units: list[str] = _json()
    commodities: list[str] = _json()
    needs: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    financing_need_idr: int | None = _rupiah()
    updated_at: datetime = _utc(nullable=False)


class OfferRow(SQLModel, table=True):
    __tablename__ = "offer"

    partner_id: str = Field(primary_key=True, max_length=64)
    offer_id: str = Field(primary_key=True, max_length=64)
    partner_name: str = Field(max_length=200)
    partner_type: str = Field(max_length=20)
    offer_type: str = Field(max_length=20, index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    business_units: list[str] = _json()
    commodities: list[str] = _json()
    regions: list[str] = _json()
    min_members: int | None = None
    min_amount_idr: int | None = _rupiah()
    max_amount_idr: int | None = _rupiah()
    capacity: int | None = None
    valid_until: date | None = None
    updated_at: datetime = _utc(nullable=False)
    withdrawn_at: datetime | None = _utc(nullable=True)
    withdraw_reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.partner_id}/{self.offer_id}"


class OfferWithdrawalRow(SQLModel, table=True):
    """The latest withdrawal of an offer, kept even when it arrives before the offer itself."""

    __tablename__ = "offer_withdrawal"

    partner_id: str = Field(primary_key=True, max_length=64)
    offer_id: str = Field(primary_key=True, max_length=64)
    withdrawn_at: datetime = _utc(nullable=False)
    reason: str = ""


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    RETRACTED = "retracted"


_SUGGESTION_VERSION = Column("version", Integer, nullable=False, default=1)


class SuggestionRow(SQLModel, table=True):
    __tablename__ = "suggestion"
    __table_args__ = (
        # One row per pair: the id is derived from the pair (no second unique index, 0014).
        # The regency: the review counts an offer type's or a partner's pending suggestions
        # in a scope from the index alone (migration 0007).
        Index("ix_suggestion_offer_status", "partner_id", "offer_id", "status", "regency_code"),
        Index("ix_suggestion_cooperative_status", "cooperative_id", "status"),
        Index("ix_suggestion_province_status", "province_code", "status"),
        # The review queue pages by keyset in these orders (services/review/queries.py); the
        # village last: districts' filter choices and scopes from the index alone. It also
        # serves every query on (regency_code, status).
        Index("ix_suggestion_status_score", "status", "score", "suggestion_id"),
        Index("ix_suggestion_status_updated", "status", "updated_at", "suggestion_id"),
        # With the rest of an export's columns carried along (PostgreSQL): a province's
        # export is read and sorted from the index alone (migration 0009).
        Index(
            "ix_suggestion_regency_status_score",
            "regency_code",
            "status",
            "score",
            "suggestion_id",
            "village_code",
            postgresql_include=["created_at", "cooperative_id", "partner_id", "offer_id"],
        ),
    )

    __mapper_args__ = {"version_id_col": _SUGGESTION_VERSION, "version_id_generator": False}

    suggestion_id: str = Field(primary_key=True, max_length=40)
    partner_id: str = Field(max_length=64)
    offer_id: str = Field(max_length=64)
    cooperative_id: str = Field(max_length=64)
    regency_code: str = Field(max_length=5)
    province_code: str = Field(default="", max_length=2)
    village_code: str = Field(max_length=13)
    score: float
    rank: int  # within the offer's suggestions in the province
    # Which part of the rule put it there: "offer" (among the offer's best in the
    # province), "cooperative" (among the cooperative's best offers), or both.
    basis: list[str] = _json()
    explanation: list[dict[str, object]] = _json()
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: SuggestionStatus = Field(default=SuggestionStatus.PENDING, max_length=10)
    retract_reason: str | None = None
    # Bumped on every published change, so each publish has its own Nats-Msg-Id. Also the
    # ORM's version counter: a flush of a row that someone else changed meanwhile (e.g. a
    # coordinator's decision while the matcher re-ranks) fails instead of overwriting it.
    version: int = Field(default=1, sa_column=_SUGGESTION_VERSION)
    created_at: datetime = _utc(nullable=False)
    updated_at: datetime = _utc(nullable=False)


class DeadLetterRow(SQLModel, table=True):
    __tablename__ = "dead_letter"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=255, index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    error_type: str = Field(max_length=64, index=True)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    raw_encoding: str = Field(default="utf-8", max_length=10)
    # Where it came from (stream:sequence), so a redelivered refusal is kept once.
    source: str = Field(max_length=255, unique=True)
    msg_id: str | None = Field(default=None, max_length=255)
    received_at: datetime = _utc(nullable=False)


class OutboxRow(SQLModel, table=True):
    """A message to publish, written in the same transaction as the change it announces,
    and deleted once JetStream has acknowledged it: the table holds only what is still to
    be sent (migration 0013)."""

    __tablename__ = "outbox"
    # A process's relay reads its own rows (their origin) in id order; the sweep of rows
    # whose origin is gone walks the primary key.
    __table_args__ = (Index("ix_outbox_origin", "origin", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=255)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    msg_id: str = Field(max_length=255, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    # The process that wrote the row (``services.platform.outbox.ORIGIN``): its relay
    # publishes it; a row whose origin no live process holds is swept up by any relay.
    origin: int | None = Field(default=None)


class RejectedPairRow(SQLModel, table=True):
    """What the pair looked like when a coordinator rejected it: the canonical terms of
    each side (digests) and the score. The matcher suggests it again only after either
    side's terms change, the pair's eligibility lapses, or its score moves by at least the
    material change (``matcher.shortlist``)."""

    __tablename__ = "rejected_pair"

    suggestion_id: str = Field(primary_key=True, max_length=40)
    cooperative_fingerprint: str = Field(max_length=64)
    offer_fingerprint: str = Field(max_length=64)
    score: float = 0.0
    rejected_at: datetime = _utc(nullable=False)


# Review (services/review): coordinators, decisions and audit, logins.


class Role(StrEnum):
    BUSINESS_ASSISTANT = "business_assistant"  # villages or a district
    PMO = "pmo"  # a regency or a province
    ADMIN = "admin"  # everything

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.BUSINESS_ASSISTANT: "Pendamping Usaha",
    Role.PMO: "PMO",
    Role.ADMIN: "Admin",
}


class CoordinatorBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(default="", max_length=200)
    role: Role = Field(max_length=20)
    # Kemendagri region codes the coordinator works in; empty for an admin.
    scope: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True


class CoordinatorRow(CoordinatorBase, table=True):
    __tablename__ = "coordinator"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    created_at: datetime = _stamp()

    @property
    def sees_everything(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def may_reopen(self) -> bool:
        return self.role in (Role.PMO, Role.ADMIN)


class DecisionBase(SQLModel):
    decision: str = Field(max_length=10)  # approved | rejected (schemas.Decision)
    reason_code: str = Field(max_length=40)
    note: str = Field(default="", max_length=1000, sa_column_kwargs={"nullable": False})


class DecisionRow(DecisionBase, table=True):
    """One decision on a suggestion, as published on ``kopdes.match.decided``."""

    __tablename__ = "review_decision"
    __table_args__ = (Index("ix_review_decision_suggestion", "suggestion_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    suggestion_id: str = Field(max_length=40)
    # The suggestion's version after the decision: makes the event's Nats-Msg-Id.
    version: int
    coordinator_id: int = Field(foreign_key="coordinator.id")
    coordinator_username: str = Field(max_length=64)
    decided_at: datetime = _stamp()


class AuditRow(SQLModel, table=True):
    """Append-only: who did what to which suggestion (or account), when, before and after."""

    __tablename__ = "review_audit"
    __table_args__ = (Index("ix_review_audit_target", "target", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _stamp()
    actor: str = Field(max_length=64)
    action: str = Field(max_length=40)
    target: str = Field(max_length=80)
    before: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class ApiTokenRow(SQLModel, table=True):
    """A bearer token of an integration; only its SHA-256 is stored."""

    __tablename__ = "review_api_token"

    id: int | None = Field(default=None, primary_key=True)
    coordinator_id: int = Field(foreign_key="coordinator.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=100)
    created_at: datetime = _stamp()
    revoked_at: datetime | None = _stamp(nullable=True)


class LoginAttemptRow(SQLModel, table=True):
    """Failed logins, in the database so that the limit holds across processes and restarts."""

    __tablename__ = "review_login_failure"
    __table_args__ = (Index("ix_review_login_failure_key", "username", "ip", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    ip: str = Field(max_length=64)
    at: datetime = _stamp()


class LoginSessionRow(SQLModel, table=True):
    """A dashboard login: the cookie carries a random id, this table its SHA-256. Logging
    out deletes the row, so a copied or kept cookie no longer works."""

    __tablename__ = "review_login_session"

    id_hash: str = Field(max_length=64, primary_key=True)
    coordinator_id: int = Field(foreign_key="coordinator.id", index=True)
    created_at: datetime = _stamp()


# Notifications (services/notify).


class NotificationRow(SQLModel, table=True):
    """A notification as stored for the inbox; its id is derived from what it announces,
    so a redelivered or duplicate event finds the existing row and adds nothing."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_recipient", "recipient_type", "recipient_id", "created_at"),
    )

    notification_id: str = Field(primary_key=True, max_length=64)
    # cooperative, partner (contract), or coordinator (internal: recipient_id is a regency).
    recipient_type: str = Field(max_length=20)
    recipient_id: str = Field(max_length=64)
    suggestion_id: str = Field(max_length=40, index=True)
    # approved, offer_withdrawn, offer_expired, reminder
    kind: str = Field(max_length=20)
    title: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _utc(nullable=False)
    read_at: datetime | None = _utc(nullable=True)


class WebhookEndpointRow(SQLModel, table=True):
    __tablename__ = "webhook_endpoint"
    __table_args__ = (UniqueConstraint("recipient_type", "recipient_id", "url"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient_type: str = Field(max_length=20)
    recipient_id: str = Field(max_length=64, index=True)
    url: str = Field(max_length=2000)
    # Shown once at registration; needed in clear to sign every delivery.
    secret: str = Field(max_length=128)
    active: bool = True
    created_at: datetime = _utc(nullable=False)


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookDeliveryRow(SQLModel, table=True):
    """One notification to one endpoint: written with the notification, sent by the worker."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "endpoint_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(max_length=64)
    endpoint_id: int = Field(index=True)
    status: WebhookDeliveryStatus = Field(default=WebhookDeliveryStatus.PENDING, max_length=10)
    attempts: int = 0
    next_attempt_at: datetime = _utc(nullable=False)
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = _utc(nullable=False)
    delivered_at: datetime | None = _utc(nullable=True)


class ReminderRow(SQLModel, table=True):
    """A pending suggestion reminded for one period: each period reminds once, restarts too."""

    __tablename__ = "reminder"

    suggestion_id: str = Field(primary_key=True, max_length=40)
    period_index: int = Field(primary_key=True)
    regency_code: str = Field(max_length=5)
    notification_id: str = Field(max_length=64)
    created_at: datetime = _utc(nullable=False)
