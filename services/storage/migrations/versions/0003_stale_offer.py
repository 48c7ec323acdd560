"""Stale offers: sets the matcher recomputes once it has caught up with a backlog

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:40:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stale_offer",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "offer_id"),
    )


def downgrade() -> None:
    op.drop_table("stale_offer")
