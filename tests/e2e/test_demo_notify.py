"""The demo ends with an approval that reaches the cooperative's inbox and its webhook."""

from __future__ import annotations

from sqlmodel import Session, select
from typer.testing import CliRunner

from services.cli import app
from services.storage.db import make_engine
from services.storage.models import (
    NotificationRow,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
)

runner = CliRunner()


def test_demo_approves_and_delivers_the_notification_to_a_loopback_webhook(tmp_path):
    data = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--limit", "60", "--top", "1", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    assert "Admin menyetujui saran" in result.output
    assert "Kotak masuk KDMP-" in result.output and "Kemitraan disetujui" in result.output
    assert "tanda tangan sah" in result.output

    engine = make_engine(f"sqlite:///{data / 'kopdes.db'}")
    with Session(engine) as session:
        notes = session.exec(select(NotificationRow)).all()
        [delivery] = session.exec(select(WebhookDeliveryRow)).all()
    engine.dispose()
    assert sorted(n.recipient_type for n in notes) == ["cooperative", "partner"]
    assert delivery.status == WebhookDeliveryStatus.DELIVERED and delivery.attempts == 1

    [coop] = [n.recipient_id for n in notes if n.recipient_type == "cooperative"]
    shown = runner.invoke(app, ["inbox", "cooperative", coop, "--data-dir", str(data)])
    assert shown.exit_code == 0 and "1 belum dibaca" in shown.output
