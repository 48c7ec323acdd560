"""Room in the suggestion table's pages for updates that touch no index (PostgreSQL)

Most of the matcher's writes to a pending suggestion change only its rank or its basis,
which no index holds. PostgreSQL can then write the new version beside the old one in the
same page without touching any of the table's eight indexes (a HOT update), but only if
the page has room: at the default fill factor (100) pages are packed full, and every rank
change wrote a new entry in every index. At 80, inserts leave a fifth of each page free
for such updates. It applies to pages written from now on (a rewrite, such as
``VACUUM FULL``, applies it to the rest). SQLite has no fill factor.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 80


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE suggestion SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE suggestion RESET (fillfactor)")
