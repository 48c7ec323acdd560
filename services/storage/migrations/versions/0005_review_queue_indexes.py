"""Review queue indexes: keyset pages by score, by time, by regency, by cooperative name

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 02:40:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_suggestion_status_score", "suggestion", ["status", "score", "suggestion_id"]
    )
    op.create_index(
        "ix_suggestion_status_updated", "suggestion", ["status", "updated_at", "suggestion_id"]
    )
    op.create_index(
        "ix_suggestion_regency_status_score",
        "suggestion",
        ["regency_code", "status", "score", "suggestion_id"],
    )
    op.create_index("ix_cooperative_name", "cooperative", ["name"])


def downgrade() -> None:
    op.drop_index("ix_cooperative_name", table_name="cooperative")
    op.drop_index("ix_suggestion_regency_status_score", table_name="suggestion")
    op.drop_index("ix_suggestion_status_updated", table_name="suggestion")
    op.drop_index("ix_suggestion_status_score", table_name="suggestion")
