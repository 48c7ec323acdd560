"""API models of the review: what a caller sends (``...Create``) and what the API returns
(``...Public``), built on the tables' shared fields (``...Base`` in
``services/storage/models.py``), as in the FastAPI full-stack template.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from services.storage.models import CoordinatorBase, DecisionBase


class CoordinatorCreate(CoordinatorBase):
    password: str = Field(min_length=10, max_length=256)

    @field_validator("username")
    @classmethod
    def _plain_username(cls, value: str) -> str:
        value = value.strip().lower()
        if not value or not all(c.isalnum() or c in "._-" for c in value):
            raise ValueError("username: letters, digits, '.', '_' and '-' only")
        return value


class CoordinatorPublic(CoordinatorBase):
    id: int


class DecisionCreate(DecisionBase):
    # The suggestion version the coordinator saw: a second submit of the same form, or a
    # decision on a suggestion that changed meanwhile, is refused instead of applied twice.
    version: int


class DecisionPublic(DecisionBase):
    suggestion_id: str
    version: int
    coordinator_username: str
    decided_at: datetime


class AuditPublic(SQLModel):
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, object]
    after: dict[str, object]
    note: str
