"""An export's columns in the regency/score index (PostgreSQL)

An export of a province's queue (5,000 of its 49,000 pending, best first) chose the rows in
``ix_suggestion_regency_status_score`` and then read each by its id: 5,000 lookups of a
text key, a third of the export's time. With the other columns an export reads (creation
time, cooperative, partner and offer) carried in the index (``INCLUDE``: not part of the
key, so every query it served is served as before), the rows are read and sorted from the
index alone; it grows from 60 MB to 89 MB at 500,000 pending. The included columns never
change after a suggestion is made, so the matcher's updates cost what they did. SQLite has
no ``INCLUDE``: the index stays as it was there.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 11:40:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ["regency_code", "status", "score", "suggestion_id", "village_code"]
INCLUDED = ["created_at", "cooperative_id", "partner_id", "offer_id"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_suggestion_regency_status_score", table_name="suggestion")
    op.create_index(
        "ix_suggestion_regency_status_score", "suggestion", KEY, postgresql_include=INCLUDED
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_suggestion_regency_status_score", table_name="suggestion")
    op.create_index("ix_suggestion_regency_status_score", "suggestion", KEY)
