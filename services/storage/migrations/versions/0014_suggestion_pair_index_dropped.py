"""The suggestion table loses its unique (partner, offer, cooperative) index

A suggestion's id is derived from its pair (``schemas.suggestion_id``), so the primary key
already holds one row per pair; the second unique index held the same rows again, served no
query (cooperatives are found through ``ix_suggestion_cooperative_status``, offers through
``ix_suggestion_offer_status``), and was one more entry written for every suggestion the
matcher inserts or retracts (a retraction changes the status, which other indexes hold,
so it writes a new entry in every index). 25 MB of a national load's indexes. In a
national load's table (640,000 rows), 20,000 suggestions inserted in 635-811 ms without it
against 754-1,017 ms with it (three runs each); retracting 20,000 took the same (3.0-3.7 s).
SQLite keeps such a constraint in the table's definition: batch mode copies the table
without it (the name is the one PostgreSQL gave it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 20:45:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "suggestion_partner_id_offer_id_cooperative_id_key"
PAIR = ["partner_id", "offer_id", "cooperative_id"]
# Names SQLite's unnamed constraint as PostgreSQL named it, so that batch mode can drop it.
CONVENTION = {"uq": "%(table_name)s_%(column_0_N_name)s_key"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(NAME, "suggestion", type_="unique")
    elif not op.get_context().as_sql:
        with op.batch_alter_table("suggestion", naming_convention=CONVENTION) as batch:
            batch.drop_constraint(NAME, type_="unique")
    # A SQLite script (``migrate --sql``) keeps it: batch mode reads the table it copies from
    # the database, which a script has not, and the index is only redundant, not wrong.


def downgrade() -> None:
    with op.batch_alter_table("suggestion") as batch:
        batch.create_unique_constraint(NAME, PAIR)
