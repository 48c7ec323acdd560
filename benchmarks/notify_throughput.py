"""Benchmark: approvals per second through the notify service (real NATS, SQLite file).

    uv run python benchmarks/notify_throughput.py [N] [--webhook]

Seeds N approved suggestions, publishes N decisions, and measures the time until all 2N
notifications are committed and published on KOPDES_NOTIFY (and, with --webhook, until
the cooperatives' N webhook deliveries are answered by a loopback receiver).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats
from sqlalchemy import func, update
from sqlmodel import Session, SQLModel, select

from schemas import CooperativeProfile, PartnerOffer, subjects, suggestion_id
from services.demo.loopback import LoopbackReceiver
from services.ingest.convert import cooperative_row, offer_row
from services.notify.webhooks import register_endpoint
from services.pipeline.app import Pipeline
from services.platform.embedded_nats import EmbeddedNats
from services.platform.outbox import unsent
from services.platform.settings import Settings
from services.storage.db import make_engine, session_scope
from services.storage.models import (
    NotificationRow,
    SuggestionRow,
    SuggestionStatus,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
    WebhookEndpointRow,
)
from tests.support import builders
from tests.support.notify_steps import decision, dumps


def seed(url: str, n: int, hook: str | None) -> tuple[list[str], str]:
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    offer = PartnerOffer.model_validate(builders.offer())
    now = datetime.now(UTC)
    ids = []
    secret = ""
    with session_scope(engine) as session:
        session.add(offer_row(offer, None, ""))
        for i in range(n):
            coop = f"KDMP-bench-{i:06d}"
            session.add(
                cooperative_row(
                    CooperativeProfile.model_validate(builders.profile(cooperative_id=coop))
                )
            )
            sid = suggestion_id("bri", offer.offer_id, coop)
            ids.append(sid)
            session.add(
                SuggestionRow(
                    suggestion_id=sid,
                    partner_id="bri",
                    offer_id=offer.offer_id,
                    cooperative_id=coop,
                    regency_code="61.12",
                    village_code=builders.KUALA_DUA,
                    score=70,
                    rank=i + 1,
                    status=SuggestionStatus.APPROVED,
                    created_at=now,
                    updated_at=now,
                )
            )
            if hook:
                _, secret = register_endpoint(
                    session, "cooperative", coop, hook, allowed_hosts={"127.0.0.1"}
                )
        # One receiver stands for every cooperative's system: one secret for all.
        session.exec(update(WebhookEndpointRow).values(secret=secret))
    engine.dispose()
    return ids, secret


async def main(n: int, webhook: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, LoopbackReceiver() as receiver:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        ids, receiver.secret = seed(url, n, receiver.url if webhook else None)
        async with EmbeddedNats(Path(tmp) / "nats") as server:
            settings = Settings(
                nats_url=server.url,
                database_url=url,
                outbox_poll_seconds=0.2,
                webhook_poll_seconds=0.2,
                webhook_allowed_hosts="127.0.0.1",  # the loopback receiver
            )
            pipeline = Pipeline(settings, ["notify"])
            await pipeline.start()
            nc = await nats.connect(server.url)
            js = nc.jetstream()
            started = time.perf_counter()
            for sid in ids:
                await js.publish(subjects.MATCH_DECIDED, dumps(decision(sid)))
            published_at = None
            engine = pipeline.runtime.engine
            while True:
                with Session(engine) as session:
                    # Published: each notification stored, and its outbox row gone.
                    stored = session.exec(select(func.count()).select_from(NotificationRow)).one()
                    left = unsent(session)
                    delivered = session.exec(
                        select(func.count())
                        .select_from(WebhookDeliveryRow)
                        .where(WebhookDeliveryRow.status == WebhookDeliveryStatus.DELIVERED)
                    ).one()
                if stored >= 2 * n and not left and published_at is None:
                    published_at = time.perf_counter() - started
                if published_at is not None and (not webhook or delivered >= n):
                    break
                await asyncio.sleep(0.05)
            total = time.perf_counter() - started
            await nc.close()
            await pipeline.stop()
    print(
        f"{n} approvals → {2 * n} notifications published in {published_at:.2f} s "
        f"({n / published_at:.0f} approvals/s)"
    )
    if webhook:
        print(
            f"{n} webhook deliveries answered in {total:.2f} s ({n / total:.0f}/s), "
            f"{len(receiver.received)} distinct received, "
            f"all signatures valid: {all(d.signature_valid for d in receiver.received)}"
        )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(int(args[0]) if args else 2000, "--webhook" in sys.argv))
