"""Suggestion set versions: lets the matcher keep suggestion rows in memory

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:10:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suggestion_set",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "offer_id"),
    )


def downgrade() -> None:
    op.drop_table("suggestion_set")
