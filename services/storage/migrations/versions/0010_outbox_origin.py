"""The process that wrote each outbox row

Each process's relay publishes the rows its own process wrote (PostgreSQL): relays of
several processes had taken turns over every unsent row, so one process's suggestions
waited for another process's relay. Rows of no live process (and those written before
this column, NULL) are swept up by any relay. No index: the relay reads the few unsent
rows through ``ix_outbox_unsent`` and filters them by origin.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 11:20:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("origin", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("origin")
