"""Matcher service: scores changed cooperatives and offers and keeps suggestions current.

Consumes ``kopdes.internal.>`` (durable ``matcher``) and publishes ``kopdes.match.suggested``
and ``kopdes.match.retracted`` through the outbox. Holds the candidate index in memory,
loaded from the database at start and updated from the stored row on every change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from sqlmodel import Session, col, select

from matcher import MatchIndex
from matcher.eligibility import is_expired
from schemas import DeadLetter, RetractReason, subjects
from services.consuming import Delivery, defer_decoding, process_batch, settle
from services.convert import cooperative_from_row, offer_from_row
from services.ingest_store import CooperativeChanged, OfferChanged, record_dead_letter
from services.runtime import Runtime
from services.service import ServiceParts
from services.storage.db import session_scope
from services.storage.models import CooperativeRow, OfferRow
from services.suggestions import Reconciler, pending_offer_keys
from services.topology import INTERNAL, consumer_config, jstream

log = logging.getLogger(__name__)

BatchMessage = Annotated[NatsBatchMessage, Context("message")]


class Matchmaker:
    def __init__(self, runtime: Runtime, today: Callable[[], date] = date.today) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.today = today
        self.index = MatchIndex()
        # The index is not thread-safe; batches and the expiry sweep take turns.
        self._lock = threading.Lock()

    def load(self) -> None:
        with Session(self.runtime.engine) as session, self._lock:
            for row in session.exec(select(CooperativeRow)):
                self.index.upsert_cooperative(cooperative_from_row(row))
            for row in session.exec(select(OfferRow).where(col(OfferRow.withdrawn_at).is_(None))):
                self.index.upsert_offer(offer_from_row(row))
        log.info(
            "matcher index loaded: %d cooperatives, %d offers",
            self.index.cooperative_count,
            self.index.offer_count,
        )

    def reconciler(self, session: Session) -> Reconciler:
        """One per transaction, so that its per-offer books are shared across a batch."""
        if "reconciler" not in session.info:
            session.info["reconciler"] = Reconciler(
                session, self.settings, self.index, self.today()
            )
        return session.info["reconciler"]

    def apply(self, session: Session, delivery: Delivery) -> None:
        change = json.loads(delivery.data)
        if delivery.subject == subjects.COOPERATIVE_CHANGED:
            self.cooperative_changed(session, change["cooperative_id"])
        elif delivery.subject == subjects.OFFER_CHANGED:
            self.offer_changed(session, change["partner_id"], change["offer_id"])
        else:
            raise ValueError(f"unexpected subject {delivery.subject!r}")

    def cooperative_changed(self, session: Session, cooperative_id: str) -> None:
        row = session.get(CooperativeRow, cooperative_id)
        if row is None:
            return
        self.index.upsert_cooperative(cooperative_from_row(row))
        self.reconciler(session).cooperative(cooperative_id)

    def offer_changed(self, session: Session, partner_id: str, offer_id: str) -> None:
        row = session.get(OfferRow, (partner_id, offer_id))
        if row is None:
            return
        offer = offer_from_row(row)
        closed: RetractReason | None = None
        if offer.withdrawn:
            self.index.remove_offer(offer.key)
            closed = RetractReason.OFFER_WITHDRAWN
        else:
            self.index.upsert_offer(offer)
            if is_expired(offer, self.today()):
                closed = RetractReason.OFFER_EXPIRED
        self.reconciler(session).offer(partner_id, offer_id, closed)

    def give_up(self, session: Session, delivery: Delivery, exc: Exception) -> None:
        letter = DeadLetter(
            subject=delivery.subject,
            reason=f"matching failed {delivery.num_delivered} times: {exc!r}",
            error_type="handler_error",
            raw=delivery.data.decode("utf-8", "replace"),
            received_at=delivery.received_at,
        )
        record_dead_letter(session, letter, delivery.source, delivery.msg_id)

    def process(self, deliveries: list[Delivery]) -> list[Any]:
        with self._lock:
            return process_batch(
                self.runtime.engine,
                deliveries,
                self.apply,
                self.give_up,
                max_deliver=self.settings.max_deliver,
                base_delay=self.settings.retry_delay_seconds,
            )

    def expire(self) -> int:
        """Retract the pending suggestions of offers whose validity date has passed."""
        today = self.today()
        expired = 0
        with self._lock, session_scope(self.runtime.engine) as session:
            reconciler = Reconciler(session, self.settings, self.index, today)
            for partner_id, offer_id in pending_offer_keys(session):
                offer = self.index.offer(f"{partner_id}/{offer_id}")
                if offer is not None and is_expired(offer, today):
                    reconciler.offer(partner_id, offer_id, RetractReason.OFFER_EXPIRED)
                    expired += 1
        return expired

    async def consume(self, message: NatsBatchMessage) -> None:
        msgs = message.raw_message
        outcomes = await asyncio.to_thread(self.process, [Delivery.of(m) for m in msgs])
        await settle(msgs, outcomes)
        self.runtime.relay.wake()

    async def run_expiry(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(self.expire):
                    self.runtime.relay.wake()
            except Exception:
                log.exception("expiry sweep failed; will retry")
            await asyncio.sleep(self.settings.expiry_check_seconds)


def matcher_router(matchmaker: Matchmaker) -> NatsRouter:
    settings = matchmaker.settings
    router = NatsRouter()

    @router.subscriber(
        "kopdes.internal.>",
        stream=jstream(INTERNAL),
        durable="matcher",
        config=consumer_config("matcher", settings),
        pull_sub=PullSub(settings.batch_size, timeout=settings.pull_timeout_seconds, batch=True),
        ack_policy=AckPolicy.MANUAL,
        decoder=defer_decoding,
        title="matcher:kopdes.internal.>",
        description="Stored cooperatives and offers that changed",
    )
    async def handle(body: list[CooperativeChanged | OfferChanged], message: BatchMessage) -> None:
        await matchmaker.consume(message)

    return router


def matcher_service(runtime: Runtime) -> ServiceParts:
    matchmaker = Matchmaker(runtime)

    async def load() -> None:
        await asyncio.to_thread(matchmaker.load)

    return ServiceParts(
        "matcher",
        routers=[matcher_router(matchmaker)],
        on_start=[load],
        background=[matchmaker.run_expiry],
        handle=matchmaker,
    )
