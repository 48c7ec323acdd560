"""Dashboard logins kept on the server, so that logging out ends them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 02:20:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.storage.types import UTCDateTime

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_login_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["coordinator_id"], ["coordinator.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("review_login_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_login_session_coordinator_id"), ["coordinator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_login_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_login_session_coordinator_id"))
    op.drop_table("review_login_session")
