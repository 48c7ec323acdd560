"""Tables and API models of the review: coordinators, decisions, audit log, tokens, logins.

Families as in the FastAPI full-stack template: ``...Base`` holds the shared fields,
``...Create`` what a caller sends, the table class what is stored, ``...Public`` what the
API returns.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from services.storage.types import UTCDateTime, utcnow


def _utc(nullable: bool = False) -> Any:
    # Any, as SQLModel's Field: ``at: datetime = _utc()`` keeps its declared type.
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_column=Column(UTCDateTime(), nullable=nullable),
    )


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


# -- coordinators --------------------------------------------------------------------------


class CoordinatorBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(default="", max_length=200)
    role: Role = Field(max_length=20)
    # Kemendagri region codes the coordinator works in; empty for an admin.
    scope: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True


class CoordinatorCreate(CoordinatorBase):
    password: str = Field(min_length=10, max_length=256)

    @field_validator("username")
    @classmethod
    def _plain_username(cls, value: str) -> str:
        value = value.strip().lower()
        if not value or not all(c.isalnum() or c in "._-" for c in value):
            raise ValueError("username: letters, digits, '.', '_' and '-' only")
        return value


class Coordinator(CoordinatorBase, table=True):
    __tablename__ = "coordinator"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    created_at: datetime = _utc()

    @property
    def sees_everything(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def may_reopen(self) -> bool:
        return self.role in (Role.PMO, Role.ADMIN)


class CoordinatorPublic(CoordinatorBase):
    id: int


# -- decisions and audit -------------------------------------------------------------------


class DecisionBase(SQLModel):
    decision: str = Field(max_length=10)  # approved | rejected (schemas.Decision)
    reason_code: str = Field(max_length=40)
    note: str = Field(default="", max_length=1000, sa_column_kwargs={"nullable": False})


class DecisionCreate(DecisionBase):
    # The suggestion version the coordinator saw: a second submit of the same form, or a
    # decision on a suggestion that changed meanwhile, is refused instead of applied twice.
    version: int


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
    decided_at: datetime = _utc()


class DecisionPublic(DecisionBase):
    suggestion_id: str
    version: int
    coordinator_username: str
    decided_at: datetime


class AuditRow(SQLModel, table=True):
    """Append-only: who did what to which suggestion (or account), when, before and after."""

    __tablename__ = "review_audit"
    __table_args__ = (Index("ix_review_audit_target", "target", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    actor: str = Field(max_length=64)
    action: str = Field(max_length=40)
    target: str = Field(max_length=80)
    before: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))


class AuditPublic(SQLModel):
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, object]
    after: dict[str, object]
    note: str


# -- authentication ------------------------------------------------------------------------


class ApiTokenRow(SQLModel, table=True):
    """A bearer token of an integration; only its SHA-256 is stored."""

    __tablename__ = "review_api_token"

    id: int | None = Field(default=None, primary_key=True)
    coordinator_id: int = Field(foreign_key="coordinator.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=100)
    created_at: datetime = _utc()
    revoked_at: datetime | None = _utc(nullable=True)


class LoginAttemptRow(SQLModel, table=True):
    """Failed logins, in the database so that the limit holds across processes and restarts."""

    __tablename__ = "review_login_failure"
    __table_args__ = (Index("ix_review_login_failure_key", "username", "ip", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    ip: str = Field(max_length=64)
    at: datetime = _utc()


class LoginSessionRow(SQLModel, table=True):
    """A dashboard login: the cookie carries a random id, this table its SHA-256. Logging
    out deletes the row, so a copied or kept cookie no longer works."""

    __tablename__ = "review_login_session"

    id_hash: str = Field(max_length=64, primary_key=True)
    coordinator_id: int = Field(foreign_key="coordinator.id", index=True)
    created_at: datetime = _utc()
