"""The demo's last act: a coordinator approves the best suggestion, the cooperative is told.

Registers a webhook for the cooperative on a loopback receiver, approves the suggestion
the way the review dashboard does (status, version and the ``kopdes.match.decided`` event
in one transaction), then shows the cooperative's inbox and the signed webhook delivery.
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console
from sqlalchemy import update
from sqlmodel import Session, col, select

from schemas import Decision, MatchDecision, Notification, subjects
from services.app import Pipeline
from services.notify.inbox import inbox
from services.notify.loopback import LoopbackReceiver
from services.notify.webhooks import register_endpoint
from services.outbox import enqueue
from services.storage.db import session_scope
from services.storage.models import SuggestionRow, SuggestionStatus
from services.storage.types import utcnow

NOTE = "Pengurus mohon menyiapkan dokumen NIB dan proposal usaha minggu ini."


def approve(pipeline: Pipeline, row: SuggestionRow, note: str) -> None:
    """What the dashboard's approve button does (services/review/decisions.py)."""
    now = utcnow()
    with session_scope(pipeline.runtime.engine) as session:
        changed = session.exec(  # type: ignore[call-overload]
            update(SuggestionRow)
            .where(
                col(SuggestionRow.suggestion_id) == row.suggestion_id,
                col(SuggestionRow.status) == SuggestionStatus.PENDING,
                col(SuggestionRow.version) == row.version,
            )
            .values(status=SuggestionStatus.APPROVED, version=row.version + 1, updated_at=now)
        )
        if changed.rowcount != 1:
            raise RuntimeError(f"suggestion {row.suggestion_id} changed meanwhile")
        event = MatchDecision(
            suggestion_id=row.suggestion_id,
            decision=Decision.APPROVED,
            reason_code="cocok",
            note=note,
            coordinator_id="demo-pmo",
            decided_at=now,
            suggestion_version=row.version + 1,
        )
        enqueue(
            session,
            subjects.MATCH_DECIDED,
            event,
            f"{row.suggestion_id}:decided:{row.version + 1}",
        )
    pipeline.runtime.relay.wake()


async def show_notification(console: Console, pipeline: Pipeline, timeout: float = 30.0) -> bool:
    """Approve the best pending suggestion and show what reaches the cooperative."""
    engine = pipeline.runtime.engine
    with Session(engine) as session:
        best = session.exec(
            select(SuggestionRow)
            .where(SuggestionRow.status == SuggestionStatus.PENDING)
            .order_by(col(SuggestionRow.score).desc(), col(SuggestionRow.suggestion_id))
        ).first()
    if best is None:
        console.print("[dim]tidak ada saran untuk disetujui[/dim]")
        return False
    with LoopbackReceiver() as receiver:
        with session_scope(engine) as session:
            _, receiver.secret = register_endpoint(
                session, "cooperative", best.cooperative_id, receiver.url
            )
        console.rule("[bold]Keputusan koordinator dan notifikasi[/bold]", align="left")
        console.print(
            f"Webhook koperasi {best.cooperative_id} terdaftar: {receiver.url}\n"
            f"Koordinator menyetujui saran {best.suggestion_id} "
            f"({best.partner_id}/{best.offer_id} → {best.cooperative_id})",
            highlight=False,
        )
        approve(pipeline, best, NOTE)
        deadline = time.monotonic() + timeout
        while not receiver.received and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    with Session(engine) as session:
        rows = inbox(session, "cooperative", best.cooperative_id, limit=1)
    if rows:
        console.print(
            f"\n[bold]Kotak masuk {best.cooperative_id}[/bold] "
            f"([cyan]kopdes-match inbox cooperative {best.cooperative_id}[/cyan]):"
        )
        console.print(f"[bold]{rows[0].title}[/bold]", highlight=False)
        console.print(rows[0].body, highlight=False, markup=False)
    if not receiver.received:
        console.print(f"[red]webhook belum diterima dalam {timeout:.0f} detik[/red]")
        return False
    got = receiver.received[0]
    note = Notification.model_validate_json(got.body)
    console.print(
        f"\nWebhook diterima di loopback: notifikasi {note.notification_id}, "
        f"tanda tangan {'sah' if got.signature_valid else 'TIDAK SAH'}.",
        highlight=False,
    )
    return got.signature_valid and bool(rows)
