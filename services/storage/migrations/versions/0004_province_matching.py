"""Matching by province: suggestions carry their province and basis; rejections their score

The matcher keeps its state in memory per province and no longer needs the suggestion-set
versions (0002) nor the stale offers (0003).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 03:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suggestion") as batch:
        batch.add_column(
            sa.Column("province_code", sa.String(length=2), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("basis", sa.JSON(), nullable=False, server_default="[]"))
    op.execute("UPDATE suggestion SET province_code = substr(regency_code, 1, 2)")
    op.create_index("ix_suggestion_province_status", "suggestion", ["province_code", "status"])
    with op.batch_alter_table("rejected_pair") as batch:
        batch.add_column(sa.Column("score", sa.Float(), nullable=False, server_default="0"))
    op.drop_table("stale_offer")
    op.drop_table("suggestion_set")


def downgrade() -> None:
    op.create_table(
        "suggestion_set",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "offer_id"),
    )
    op.create_table(
        "stale_offer",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "offer_id"),
    )
    with op.batch_alter_table("rejected_pair") as batch:
        batch.drop_column("score")
    op.drop_index("ix_suggestion_province_status", table_name="suggestion")
    with op.batch_alter_table("suggestion") as batch:
        batch.drop_column("basis")
        batch.drop_column("province_code")
