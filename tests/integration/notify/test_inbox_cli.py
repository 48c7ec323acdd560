"""Inbox queries and the ``webhook`` / ``inbox`` commands on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select
from typer.testing import CliRunner

from schemas import RecipientType
from services.cli import app
from services.notify import inbox
from services.notify.messages import Text
from services.notify.store import Kind, notification_id, record_notification
from services.storage.db import session_scope
from services.storage.models import (
    SuggestionStatus,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
)
from tests.integration.notify.test_reminders import seed
from tests.support import builders

runner = CliRunner()
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def notify(session, suggestion: str, coop: str, n: int) -> str:
    nid = notification_id("test", suggestion, n)
    record_notification(
        session,
        notification_id=nid,
        recipient_type=RecipientType.COOPERATIVE,
        recipient_id=coop,
        suggestion_id=suggestion,
        kind=Kind.APPROVED,
        text=Text(f"Judul {n}", f"Isi {n}"),
        now=T0 + timedelta(minutes=n),
    )
    return nid


def test_inbox_lists_newest_first_marks_read_and_respects_scope(engine):
    with session_scope(engine) as session:
        a = seed(session, "KDMP-a", builders.KUALA_DUA, SuggestionStatus.APPROVED)
        b = seed(session, "KDMP-b", builders.SAMBAS_VILLAGE, SuggestionStatus.APPROVED)
        first = notify(session, a, "KDMP-a", 1)
        second = notify(session, a, "KDMP-a", 2)
        notify(session, b, "KDMP-b", 3)
    with session_scope(engine) as session:
        rows = inbox.inbox(session, "cooperative", "KDMP-a")
        assert [r.notification_id for r in rows] == [second, first]
        assert inbox.unread_count(session, "cooperative", "KDMP-a") == 2
        inbox.mark(session, first, read=True, now=T0)
    with session_scope(engine) as session:
        unread = inbox.inbox(session, "cooperative", "KDMP-a", unread_only=True)
        assert [r.notification_id for r in unread] == [second]
        # A coordinator of Kubu Raya (61.12) sees KDMP-a's inbox, not Sambas' (61.01) ...
        assert len(inbox.inbox(session, "cooperative", "KDMP-a", scope=["61.12"])) == 2
        assert inbox.inbox(session, "cooperative", "KDMP-b", scope=["61.12"]) == []
        assert len(inbox.inbox(session, "cooperative", "KDMP-b", scope=["61"])) == 1
        assert len(inbox.inbox(session, "cooperative", "KDMP-a", scope=["61.12.01"])) == 2
        # ... and cannot mark Sambas' notifications either.
        sambas = inbox.inbox(session, "cooperative", "KDMP-b")[0].notification_id
        try:
            inbox.mark(session, sambas, read=True, now=T0, scope=["61.12"])
            raise AssertionError("marked a notification out of scope")
        except inbox.NotFound:
            pass
        inbox.mark(session, first, read=False, now=T0)
        assert inbox.unread_count(session, "cooperative", "KDMP-a") == 2
        try:
            inbox.inbox(session, "bank", "bri")
            raise AssertionError("accepted an unknown recipient type")
        except inbox.InboxError as exc:
            assert "cooperative, partner, coordinator" in str(exc)


def test_webhook_and_inbox_commands(engine, database_url):
    db = ["--database-url", database_url]
    add = [
        "webhook",
        "add",
        "--recipient-type",
        "cooperative",
        "--recipient-id",
        "KDMP-a",
        "--url",
        "http://127.0.0.1:9/hook",
        *db,
    ]
    refused = runner.invoke(app, add)
    assert refused.exit_code == 2 and "alamat internal" in refused.output
    # The operator's setting allows the loopback host.
    added = runner.invoke(app, add, env={"KOPDES_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"})
    assert added.exit_code == 0, added.output
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    bad = runner.invoke(
        app,
        ["webhook", "add", "--recipient-type", "bank", "--recipient-id", "x", "--url", "x", *db],
    )
    assert bad.exit_code == 2 and "recipient_type" in bad.output
    listed = runner.invoke(app, ["webhook", "list", *db])
    assert "cooperative KDMP-a" in listed.output and "127.0.0.1:9" in listed.output
    assert secret not in listed.output, "the secret is shown once, at registration"

    with session_scope(engine) as session:
        a = seed(session, "KDMP-a", builders.KUALA_DUA, SuggestionStatus.APPROVED)
        nid = notify(session, a, "KDMP-a", 1)
    with session_scope(engine) as session:
        [delivery] = session.exec(select(WebhookDeliveryRow)).all()
        assert delivery.notification_id == nid, "the endpoint gets a delivery"
        delivery.status, delivery.attempts = WebhookDeliveryStatus.FAILED, 8
        delivery.last_error = "HTTP 500: boom"
        delivery_id = delivery.id

    failed = runner.invoke(app, ["webhook", "deliveries", "--failed", *db])
    assert "HTTP 500: boom" in failed.output
    retried = runner.invoke(app, ["webhook", "retry", str(delivery_id), *db])
    assert retried.exit_code == 0, retried.output
    with Session(engine) as session:
        row = session.get(WebhookDeliveryRow, delivery_id)
        assert row is not None and row.status == WebhookDeliveryStatus.PENDING
        assert row.attempts == 0
    again = runner.invoke(app, ["webhook", "retry", str(delivery_id), *db])
    assert again.exit_code == 2 and "hanya yang gagal" in again.output

    shown = runner.invoke(app, ["inbox", "cooperative", "KDMP-a", "--mark-read", *db])
    assert shown.exit_code == 0, shown.output
    assert "1 belum dibaca" in shown.output and "Judul 1" in shown.output
    after = runner.invoke(app, ["inbox", "cooperative", "KDMP-a", "--unread", *db])
    assert "0 belum dibaca" in after.output and "tidak ada notifikasi" in after.output
