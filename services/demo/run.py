"""The self-contained demo: embedded NATS, SQLite, Kalimantan Barat, best suggestions printed.

Publishes one cooperative per village of Kalimantan Barat and about 30 partner offers the
way Simkopdes and the partners would, waits for the pipeline to take them all in, and prints
each offer's best cooperatives with the reasons.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

import nats
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import ColumnElement, func
from sqlmodel import Session, SQLModel, select

from schemas import ExplanationComponent
from schemas.regions import region_table
from services.demo.loopback import LOOPBACK
from services.demo.notifications import show_notification, webhooks_while_serving
from services.demo.synthetic import kalbar_demo
from services.pipeline.app import Pipeline
from services.platform.embedded_nats import EmbeddedNats
from services.platform.outbox import unsent as work_left
from services.platform.publishing import encode_event
from services.platform.settings import Settings
from services.platform.topology import INTERNAL, consumers_backlog
from services.review.accounts import ensure_demo_coordinators
from services.review.service import dashboard_url
from services.storage.models import (
    CooperativeRow,
    DeadLetterRow,
    OfferRow,
    SuggestionRow,
    SuggestionStatus,
)

PUBLISH_WINDOW = 200


def _count(session: Session, model: type[SQLModel], *where: ColumnElement[bool]) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _matcher_done(js: nats.js.JetStreamContext) -> tuple[int, int]:
    """(changes matched, changes stored) on the internal stream."""
    try:
        stream = await js.stream_info(INTERNAL.name)
    except NotFoundError:
        return 0, 1
    total = stream.state.messages
    return total - await consumers_backlog(js, (INTERNAL,)), total


async def wait_for_pipeline(
    pipeline: Pipeline, nc: NatsClient, expected: int, progress: Progress
) -> None:
    engine = pipeline.runtime.engine
    js = nc.jetstream()
    stored = progress.add_task("Ingest: profiles and offers stored", total=expected)
    matched = progress.add_task("Matching: changes scored", total=None)
    while True:
        with Session(engine) as session:
            rows = _count(session, CooperativeRow) + _count(session, OfferRow)
            refused = _count(session, DeadLetterRow)
            unfinished = work_left(session)
        done, total = await _matcher_done(js)
        progress.update(stored, completed=rows + refused)
        progress.update(matched, completed=done, total=max(total, 1))
        if rows + refused >= expected and done >= total and unfinished == 0:
            return
        await asyncio.sleep(0.2)


def print_suggestions(console: Console, pipeline: Pipeline, top: int) -> int:
    regions = region_table()
    with Session(pipeline.runtime.engine) as session:
        offers = session.exec(
            select(OfferRow).order_by(OfferRow.partner_id, OfferRow.offer_id)
        ).all()
        pending = session.exec(
            select(SuggestionRow).where(SuggestionRow.status == SuggestionStatus.PENDING)
        ).all()
        names = dict(session.exec(select(CooperativeRow.cooperative_id, CooperativeRow.name)).all())
    by_offer: dict[tuple[str, str], list[SuggestionRow]] = defaultdict(list)
    for row in pending:
        by_offer[(row.partner_id, row.offer_id)].append(row)
    for offer in offers:
        rows = sorted(by_offer[(offer.partner_id, offer.offer_id)], key=lambda r: r.rank)
        where = ", ".join(regions.name(c).removeprefix("Kabupaten ") for c in offer.regions)
        console.rule(
            f"[bold]{offer.partner_name}[/bold] · {offer.title} "
            f"[dim]({offer.offer_type}; {where or 'seluruh Indonesia'}; "
            f"{len(rows)} saran)[/dim]",
            align="left",
        )
        if not rows:
            console.print("  [dim]tidak ada koperasi yang memenuhi syarat[/dim]")
            continue
        for row in rows[:top]:
            place = regions.describe(row.village_code).rsplit(", ", 1)[0]
            console.print(
                f"  [bold]{row.rank}.[/bold] {names.get(row.cooperative_id, row.cooperative_id)}"
                f" [dim]({place})[/dim]  skor [bold]{row.score:.0f}[/bold]"
            )
            if row.summary:
                console.print(f"     {row.summary}", highlight=False)
            parts = [ExplanationComponent.model_validate(c) for c in row.explanation]
            reasons = " · ".join(
                f"{c.name} {c.score:.0f}: {c.detail}" for c in parts if c.detail and c.score > 0
            )
            console.print(f"     [dim]{reasons}[/dim]", highlight=False)
    return len(pending)


def print_dashboard(console: Console, pipeline: Pipeline, data_dir: Path, *, serving: bool) -> None:
    """The review dashboard's address and the demo's logins (fresh passwords each run)."""
    logins = ensure_demo_coordinators(pipeline.runtime.engine)
    review = pipeline.parts.get("review")
    if review is not None and review.handle is None:
        console.print(
            f"\n[bold]Dasbor tinjauan[/bold] tidak berjalan: port {pipeline.settings.web_port} "
            "sudah dipakai (atur KOPDES_WEB_PORT)."
        )
        return
    console.print(f"\n[bold]Dasbor tinjauan[/bold]: {dashboard_url(pipeline.settings)}")
    for username, password, role, scope in logins:
        where = ", ".join(region_table().describe(code) for code in scope) or "semua wilayah"
        console.print(
            f"  masuk sebagai [cyan]{username}[/cyan] / [cyan]{password}[/cyan]  "
            f"({role.label}, {where})",
            highlight=False,
        )
    if not serving:
        console.print(
            f"  buka dengan [cyan]kopdes-match run --data-dir {data_dir}[/cyan] "
            "(atau jalankan demo dengan --serve)"
        )


async def run_demo(
    console: Console,
    *,
    data_dir: Path,
    limit: int | None,
    top: int,
    fresh: bool,
    serve_until: Callable[[], Awaitable[None]] | None = None,
    notify: bool = True,
) -> None:
    if fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cooperatives, offers = kalbar_demo(limit=limit)
    events = [encode_event(e) for e in (*cooperatives, *offers)]
    console.print(
        f"[bold]kopdes-match demo[/bold]: {len(cooperatives)} koperasi desa di Kalimantan Barat, "
        f"{len(offers)} penawaran mitra; data in {data_dir}"
    )
    async with EmbeddedNats(data_dir / "nats", log_file=data_dir / "nats-server.log") as server:
        # The demo's webhook receiver listens on loopback, which webhooks may not reach
        # unless allowed.
        settings = Settings(nats_url=server.url, data_dir=data_dir, webhook_allowed_hosts=LOOPBACK)
        pipeline = Pipeline(settings)
        await pipeline.start()
        try:
            nc = await nats.connect(server.url, name="kopdes-match-demo")
            js = nc.jetstream()
            with _progress(console) as progress:
                sending = progress.add_task("Publishing profiles and offers", total=len(events))
                # Many publishes in flight at once: waiting for each ack in turn is what
                # made publishing the slowest step.
                for start in range(0, len(events), PUBLISH_WINDOW):
                    chunk = events[start : start + PUBLISH_WINDOW]
                    await asyncio.gather(
                        *(js.publish(s, d, headers={"Nats-Msg-Id": m}) for s, d, m in chunk)
                    )
                    progress.advance(sending, len(chunk))
                await wait_for_pipeline(pipeline, nc, len(events), progress)
            await nc.close()
            suggestions = print_suggestions(console, pipeline, top)
            print_dashboard(console, pipeline, data_dir, serving=serve_until is not None)
            approved = notify and serve_until is None
            if approved and await show_notification(console, pipeline, data_dir):
                suggestions -= 1  # the one approved
            if serve_until is not None:
                console.print("  dasbor berjalan; Ctrl-C untuk berhenti")
                serving = time.perf_counter()
                with webhooks_while_serving(console, pipeline, data_dir):
                    await serve_until()
                started += time.perf_counter() - serving  # the time served is not the demo's
        finally:
            await pipeline.stop()
    elapsed = time.perf_counter() - started
    console.print(
        f"\n[bold]{suggestions}[/bold] saran menunggu keputusan koordinator; "
        f"selesai dalam {elapsed:.1f} s. Lihat penolakan input: "
        f"[cyan]kopdes-match deadletters --data-dir {data_dir}[/cyan]"
    )
