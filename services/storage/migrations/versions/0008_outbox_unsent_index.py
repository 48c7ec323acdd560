"""The outbox's unsent rows in their own index

The relay reads ``WHERE published_at IS NULL ORDER BY id LIMIT n``. Sent rows stay
behind, and after a national load there were a million of them: PostgreSQL walked the
primary key past them (0.7 s a read, every flush) rather than use the index on
``published_at``. A partial index of the unsent rows' ids answers the read at once and
stays as small as the backlog; the index on ``published_at`` served nothing else.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:20:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_unsent", "outbox", ["id"], postgresql_where=UNSENT, sqlite_where=UNSENT
    )
    op.drop_index("ix_outbox_published_at", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_published_at", "outbox", ["published_at"])
    op.drop_index("ix_outbox_unsent", table_name="outbox")
