"""The outbox holds only what is still to be sent: a published row is deleted

The relay used to mark a published row (``published_at``). On PostgreSQL that UPDATE
wrote a new version of the whole row, its payload included, and new entries in its
indexes; the sent rows then stayed for ever. After a national load the outbox held
1.5 GB for a million messages, twice the suggestion table it announced, and its
pages pushed the suggestions out of the database's cache: retracting 118 suggestions took
70 ms, most of it reading their pages back and writing others out. A DELETE only marks
the row dead; vacuum reuses its space, so the table stays as small as the backlog. The
partial indexes of unsent rows become plain ones. Rows already published are deleted
here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 14:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.storage.types import UTCDateTime

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
    op.drop_index("ix_outbox_unsent_origin", table_name="outbox")
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    # SQLite (3.35 and newer) drops a column in place, as PostgreSQL does.
    op.drop_column("outbox", "published_at")
    op.create_index("ix_outbox_origin", "outbox", ["origin", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_origin", table_name="outbox")
    op.add_column("outbox", sa.Column("published_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_outbox_unsent", "outbox", ["id"], postgresql_where=UNSENT, sqlite_where=UNSENT
    )
    op.create_index(
        "ix_outbox_unsent_origin",
        "outbox",
        ["origin", "id"],
        postgresql_where=UNSENT,
        sqlite_where=UNSENT,
    )
