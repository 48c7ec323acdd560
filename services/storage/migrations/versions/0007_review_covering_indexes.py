"""Review counts and choices from the suggestion indexes alone, one index fewer

The review dashboard counts a scope's pending suggestions of an offer type or a partner,
and groups a scope's pending suggestions by district for its filter choices. At 500,000
pending both read the table's rows (0.9 s for a province's "Pembiayaan" count, 1.6 s for
the admin's choices). With the regency in the offer index and the village in the regency
index they are answered from the indexes (80 ms, 360 ms). ``ix_suggestion_regency_status``
was a prefix of ``ix_suggestion_regency_status_score``, which serves every query it
served: dropped, so the matcher's writes keep as many indexes to update as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 05:45:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_suggestion_regency_status", table_name="suggestion")
    op.drop_index("ix_suggestion_offer_status", table_name="suggestion")
    op.create_index(
        "ix_suggestion_offer_status",
        "suggestion",
        ["partner_id", "offer_id", "status", "regency_code"],
    )
    op.drop_index("ix_suggestion_regency_status_score", table_name="suggestion")
    op.create_index(
        "ix_suggestion_regency_status_score",
        "suggestion",
        ["regency_code", "status", "score", "suggestion_id", "village_code"],
    )


def downgrade() -> None:
    op.drop_index("ix_suggestion_regency_status_score", table_name="suggestion")
    op.create_index(
        "ix_suggestion_regency_status_score",
        "suggestion",
        ["regency_code", "status", "score", "suggestion_id"],
    )
    op.drop_index("ix_suggestion_offer_status", table_name="suggestion")
    op.create_index(
        "ix_suggestion_offer_status", "suggestion", ["partner_id", "offer_id", "status"]
    )
    op.create_index("ix_suggestion_regency_status", "suggestion", ["regency_code", "status"])
