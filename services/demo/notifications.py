"""The demo's notifications: a coordinator's approval reaches the cooperative.

Without ``--serve`` the demo approves the best suggestion itself, through the dashboard's
own decision function as the demo admin, and shows the cooperative's inbox and the signed
webhook delivery on a loopback receiver. With ``--serve`` it registers loopback webhooks
for the cooperatives with pending suggestions and prints every delivery as coordinators
approve in the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from schemas import Decision, Notification
from services.demo.loopback import Delivered, LoopbackReceiver
from services.notify.inbox import inbox
from services.notify.webhooks import register_endpoint
from services.pipeline.app import Pipeline
from services.review.decisions import decide
from services.storage.db import session_scope
from services.storage.models import (
    CoordinatorRow,
    SuggestionRow,
    SuggestionStatus,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
)

NOTE = "Pengurus mohon menyiapkan dokumen NIB dan proposal usaha minggu ini."
DEMO_ADMIN = "admin"  # services.review.accounts.DEMO_ACCOUNTS


def _best_pending(pipeline: Pipeline) -> SuggestionRow | None:
    with Session(pipeline.runtime.engine) as session:
        return session.exec(
            select(SuggestionRow)
            .where(SuggestionRow.status == SuggestionStatus.PENDING)
            .order_by(col(SuggestionRow.score).desc(), col(SuggestionRow.suggestion_id))
        ).first()


def _print_inbox(console: Console, pipeline: Pipeline, cooperative_id: str, data_dir: Path) -> bool:
    with Session(pipeline.runtime.engine) as session:
        rows = inbox(session, "cooperative", cooperative_id, limit=1)
    if not rows:
        return False
    console.print(
        f"\n[bold]Kotak masuk {cooperative_id}[/bold] "
        f"([cyan]kopdes-match inbox cooperative {cooperative_id} --data-dir {data_dir}[/cyan]):"
    )
    console.print(Text(rows[0].title, style="bold"))
    console.print(rows[0].body, highlight=False, markup=False)
    return True


async def show_notification(
    console: Console, pipeline: Pipeline, data_dir: Path, timeout: float = 30.0
) -> bool:
    """Approve the best pending suggestion and show what reaches the cooperative."""
    engine = pipeline.runtime.engine
    best = _best_pending(pipeline)
    with Session(engine) as session:
        admin = session.exec(
            select(CoordinatorRow).where(CoordinatorRow.username == DEMO_ADMIN)
        ).first()
    if best is None or admin is None:
        console.print("[dim]tidak ada saran untuk disetujui[/dim]")
        return False
    with LoopbackReceiver() as receiver:
        with session_scope(engine) as session:
            _, receiver.secret = register_endpoint(
                session,
                "cooperative",
                best.cooperative_id,
                receiver.url,
                allowed_hosts=pipeline.settings.webhook_hosts_allowed,
            )
        console.rule("[bold]Keputusan koordinator dan notifikasi[/bold]", align="left")
        console.print(
            f"Webhook koperasi {best.cooperative_id} terdaftar: {receiver.url}\n"
            f"Admin menyetujui saran {best.suggestion_id} "
            f"({best.partner_id}/{best.offer_id} → {best.cooperative_id}) seperti di dasbor",
            highlight=False,
        )
        decide(
            engine,
            admin,
            best.suggestion_id,
            Decision.APPROVED,
            "sesuai_kebutuhan",
            NOTE,
            best.version,
        )
        pipeline.runtime.relay.wake()
        deadline = time.monotonic() + timeout
        # Until the worker has also recorded the delivery: stopping the pipeline as soon
        # as the receiver has it would leave the row pending, to be sent again next run.
        while not (receiver.received and _delivered(engine)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    shown = _print_inbox(console, pipeline, best.cooperative_id, data_dir)
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
    return got.signature_valid and shown


def _delivered(engine: Engine) -> bool:
    with Session(engine) as session:
        query = select(WebhookDeliveryRow.id).where(
            WebhookDeliveryRow.status == WebhookDeliveryStatus.DELIVERED
        )
        return session.exec(query).first() is not None


@contextlib.contextmanager
def webhooks_while_serving(
    console: Console, pipeline: Pipeline, data_dir: Path
) -> Iterator[LoopbackReceiver]:
    """Loopback webhooks for every cooperative with a pending suggestion, printed live."""

    def show(got: Delivered) -> None:
        note = Notification.model_validate_json(got.body)
        console.print(
            f"  [bold]webhook[/bold] {note.recipient_type} {note.recipient_id}: {note.title} "
            f"[dim](tanda tangan {'sah' if got.signature_valid else 'TIDAK SAH'}; "
            f"kopdes-match inbox {note.recipient_type} {note.recipient_id} "
            f"--data-dir {data_dir})[/dim]",
            highlight=False,
        )

    with LoopbackReceiver(on_delivery=show) as receiver:
        with session_scope(pipeline.runtime.engine) as session:
            cooperatives = session.exec(
                select(SuggestionRow.cooperative_id)
                .where(SuggestionRow.status == SuggestionStatus.PENDING)
                .distinct()
            ).all()
            for cooperative_id in cooperatives:
                _, receiver.secrets[cooperative_id] = register_endpoint(
                    session,
                    "cooperative",
                    cooperative_id,
                    receiver.url,
                    allowed_hosts=pipeline.settings.webhook_hosts_allowed,
                )
        console.print(
            f"  webhook loopback {receiver.url} terdaftar untuk {len(cooperatives)} koperasi; "
            "setujui saran di dasbor untuk melihat notifikasinya di sini "
            "(dan di halaman Notifikasi)",
            highlight=False,
        )
        yield receiver
