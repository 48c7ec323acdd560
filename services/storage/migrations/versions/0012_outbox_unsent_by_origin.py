"""A process's unsent outbox rows in their own index, in id order

Each process's relay reads its own rows (migration 0010):
``WHERE published_at IS NULL AND origin = :origin ORDER BY id LIMIT n``. With only the
unsent rows' ids indexed, PostgreSQL filtered on the origin; where its statistics had
not caught up with a backlog (autovacuum off, or behind a bulk load), it read every unsent
row and sorted them for each chunk: 410 ms a read behind a national load's backlog of
255,000 rows, against 3.5 ms with this index. The relay then fell further behind with
every chunk, and the load's end waited for it. The index on the ids alone stays for the
sweep of rows whose origin is gone.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 04:40:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_outbox_unsent_origin",
        "outbox",
        ["origin", "id"],
        postgresql_where=UNSENT,
        sqlite_where=UNSENT,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_unsent_origin", table_name="outbox")
