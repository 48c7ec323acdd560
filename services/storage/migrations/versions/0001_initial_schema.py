"""Initial schema: every table of ingest, matcher, outbox, review and notify

Revision ID: 0001
Revises:
Create Date: 2026-11-27 18:32:50.627782

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.storage.types import UTCDateTime

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cooperative",
        sa.Column("cooperative_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("village_code", sa.String(length=13), nullable=False),
        sa.Column("regency_code", sa.String(length=5), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("business_units", sa.JSON(), nullable=False),
        sa.Column("commodities", sa.JSON(), nullable=False),
        sa.Column("needs", sa.Text(), nullable=False),
        sa.Column("financing_need_idr", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("cooperative_id"),
    )
    with op.batch_alter_table("cooperative", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cooperative_regency_code"), ["regency_code"], unique=False
        )

    op.create_table(
        "coordinator",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column(
            "role", sa.Enum("BUSINESS_ASSISTANT", "PMO", "ADMIN", name="role"), nullable=False
        ),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("coordinator", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coordinator_username"), ["username"], unique=True)

    op.create_table(
        "dead_letter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("error_type", sa.String(length=64), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("raw_encoding", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("msg_id", sa.String(length=255), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source"),
    )
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letter_error_type"), ["error_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letter_subject"), ["subject"], unique=False)

    op.create_table(
        "notification",
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_type", sa.String(length=20), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("suggestion_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("notification_id"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notification_recipient",
            ["recipient_type", "recipient_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_notification_suggestion_id"), ["suggestion_id"], unique=False
        )

    op.create_table(
        "offer",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("partner_name", sa.String(length=200), nullable=False),
        sa.Column("partner_type", sa.String(length=20), nullable=False),
        sa.Column("offer_type", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("business_units", sa.JSON(), nullable=False),
        sa.Column("commodities", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("min_members", sa.Integer(), nullable=True),
        sa.Column("min_amount_idr", sa.BigInteger(), nullable=True),
        sa.Column("max_amount_idr", sa.BigInteger(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("withdraw_reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "offer_id"),
    )
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offer_offer_type"), ["offer_type"], unique=False)

    op.create_table(
        "offer_withdrawal",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "offer_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("msg_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("msg_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_published_at"), ["published_at"], unique=False)

    op.create_table(
        "rejected_pair",
        sa.Column("suggestion_id", sa.String(length=40), nullable=False),
        sa.Column("cooperative_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("offer_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rejected_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("suggestion_id"),
    )
    op.create_table(
        "reminder",
        sa.Column("suggestion_id", sa.String(length=40), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("regency_code", sa.String(length=5), nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("suggestion_id", "period_index"),
    )
    op.create_table(
        "review_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_audit", schema=None) as batch_op:
        batch_op.create_index("ix_review_audit_target", ["target", "id"], unique=False)

    op.create_table(
        "review_login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_login_failure", schema=None) as batch_op:
        batch_op.create_index("ix_review_login_failure_key", ["username", "ip", "at"], unique=False)

    op.create_table(
        "suggestion",
        sa.Column("suggestion_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("cooperative_id", sa.String(length=64), nullable=False),
        sa.Column("regency_code", sa.String(length=5), nullable=False),
        sa.Column("village_code", sa.String(length=13), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "APPROVED", "REJECTED", "RETRACTED", name="suggestionstatus"),
            nullable=False,
        ),
        sa.Column("retract_reason", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("suggestion_id"),
        sa.UniqueConstraint("partner_id", "offer_id", "cooperative_id"),
    )
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.create_index(
            "ix_suggestion_cooperative_status", ["cooperative_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_suggestion_offer_status", ["partner_id", "offer_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_suggestion_regency_status", ["regency_code", "status"], unique=False
        )

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "DELIVERED", "FAILED", name="webhookdeliverystatus"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id", "endpoint_id"),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_delivery_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_endpoint_id"), ["endpoint_id"], unique=False
        )

    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient_type", sa.String(length=20), nullable=False),
        sa.Column("recipient_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("recipient_type", "recipient_id", "url"),
    )
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoint_recipient_id"), ["recipient_id"], unique=False
        )

    op.create_table(
        "review_api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinator.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("review_api_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_review_api_token_coordinator_id"), ["coordinator_id"], unique=False
        )

    op.create_table(
        "review_decision",
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("coordinator_username", sa.String(length=64), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinator.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_decision_suggestion", ["suggestion_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_decision", schema=None) as batch_op:
        batch_op.drop_index("ix_review_decision_suggestion")

    op.drop_table("review_decision")
    with op.batch_alter_table("review_api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_api_token_coordinator_id"))

    op.drop_table("review_api_token")
    with op.batch_alter_table("webhook_endpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoint_recipient_id"))

    op.drop_table("webhook_endpoint")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_endpoint_id"))
        batch_op.drop_index("ix_webhook_delivery_due")

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("suggestion", schema=None) as batch_op:
        batch_op.drop_index("ix_suggestion_regency_status")
        batch_op.drop_index("ix_suggestion_offer_status")
        batch_op.drop_index("ix_suggestion_cooperative_status")

    op.drop_table("suggestion")
    with op.batch_alter_table("review_login_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_review_login_failure_key")

    op.drop_table("review_login_failure")
    with op.batch_alter_table("review_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_review_audit_target")

    op.drop_table("review_audit")
    op.drop_table("reminder")
    op.drop_table("rejected_pair")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_published_at"))

    op.drop_table("outbox")
    op.drop_table("offer_withdrawal")
    with op.batch_alter_table("offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_offer_type"))

    op.drop_table("offer")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_suggestion_id"))
        batch_op.drop_index("ix_notification_recipient")

    op.drop_table("notification")
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letter_subject"))
        batch_op.drop_index(batch_op.f("ix_dead_letter_error_type"))

    op.drop_table("dead_letter")
    with op.batch_alter_table("coordinator", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coordinator_username"))

    op.drop_table("coordinator")
    with op.batch_alter_table("cooperative", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cooperative_regency_code"))

    op.drop_table("cooperative")
    # PostgreSQL keeps the enum types that create_table made; drop them too, so that an
    # upgrade after this downgrade can create them again.
    bind = op.get_bind()
    for enum in ("webhookdeliverystatus", "suggestionstatus", "role"):
        sa.Enum(name=enum).drop(bind, checkfirst=True)
