"""Ingest service: profiles, offers and withdrawals in; stored rows and change events out.

Durable pull consumers ``ingest-cooperatives``, ``ingest-offers`` and ``ingest-withdrawals``
on the KOPDES_INPUT stream. Every input is either applied (newest ``updated_at`` wins) or
refused to ``kopdes.deadletter`` with its reason; the consumer keeps going either way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from pydantic import BaseModel
from sqlmodel import Session

from schemas import CooperativeProfile, DeadLetter, OfferWithdrawn, PartnerOffer, subjects
from services.ingest.intake import InputEvent, Refused, parse_input, raw_text
from services.ingest.store import apply_event, apply_events
from services.platform.consuming import Delivery, Outcome, defer_decoding, process_batch, settle
from services.platform.dead_letters import Refusal, record_dead_letters
from services.platform.log_throttle import ThrottledLog
from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.platform.topology import INPUT, consumer_config, jstream

log = logging.getLogger(__name__)
# A partner's flood of one mistake is one line a minute; each refusal is a dead letter.
REFUSALS_LOG = ThrottledLog(log)

BatchMessage = Annotated[NatsBatchMessage, Context("message")]


def dead_letter_for(delivery: Delivery, error_type: str, reason: str, limit: int) -> DeadLetter:
    raw, encoding, truncated = raw_text(delivery.data, limit)
    if truncated:
        reason += f" (raw input cut to its first {limit} bytes)"
    return DeadLetter(
        subject=delivery.subject,
        reason=reason,
        error_type=error_type,
        raw=raw,
        raw_encoding=encoding,
        received_at=delivery.received_at,
    )


class Ingest:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings

    def apply(self, session: Session, delivery: Delivery) -> None:
        """One message (the batch failed and its messages are retried one by one)."""
        event = self.accept(session, delivery)
        if event is not None:
            apply_event(session, event)

    def apply_batch(self, session: Session, deliveries: list[Delivery]) -> None:
        """A whole batch: the refusals dead-lettered together, the events applied together."""
        events: list[InputEvent] = []
        refusals: list[Refusal] = []
        for delivery in deliveries:
            try:
                events.append(self.parse(delivery))
            except Refused as refused:
                refusals.append(self.refusal(delivery, refused.error_type, refused.reason))
        record_dead_letters(session, refusals)
        apply_events(session, events)

    def parse(self, delivery: Delivery) -> InputEvent:
        return parse_input(delivery.subject, delivery.data, self.settings.max_payload_bytes)

    def accept(self, session: Session, delivery: Delivery) -> InputEvent | None:
        """The message's event, or None when it is refused (and dead-lettered)."""
        try:
            return self.parse(delivery)
        except Refused as refused:
            self.refuse(session, delivery, refused.error_type, refused.reason)
            return None

    def give_up(self, session: Session, delivery: Delivery, exc: Exception) -> None:
        reason = f"failed {delivery.num_delivered} times while being applied: {exc!r}"
        self.refuse(session, delivery, "handler_error", reason)

    def refuse(self, session: Session, delivery: Delivery, error_type: str, reason: str) -> None:
        record_dead_letters(session, [self.refusal(delivery, error_type, reason)])

    def refusal(self, delivery: Delivery, error_type: str, reason: str) -> Refusal:
        letter = dead_letter_for(delivery, error_type, reason, self.settings.max_payload_bytes)
        # Counted when the dead letter is published (observability.count_published): this
        # transaction may still roll back and be applied again.
        REFUSALS_LOG.log(
            logging.INFO,
            (delivery.consumer, error_type),
            "refused %s: %s",
            delivery.event_id,
            error_type,
            extra={**delivery.log_fields(), "error_type": error_type},
        )
        return letter, delivery.source, delivery.msg_id

    def process(self, deliveries: list[Delivery]) -> list[Outcome]:
        return process_batch(
            self.runtime.engine,
            deliveries,
            self.apply,
            self.give_up,
            max_deliver=self.settings.max_deliver,
            base_delay=self.settings.retry_delay_seconds,
            apply_batch=self.apply_batch,
        )

    async def consume(self, message: NatsBatchMessage) -> None:
        msgs = message.raw_message
        outcomes = await asyncio.to_thread(self.process, [Delivery.of(m) for m in msgs])
        await settle(msgs, outcomes)
        self.runtime.relay.wake()


def ingest_router(runtime: Runtime) -> NatsRouter:
    settings = runtime.settings
    ingest = Ingest(runtime)
    router = NatsRouter()
    # Profiles come in bulk; a partner waits for its offer's suggestions.
    bulk, urgent = settings.pull_timeout_seconds, settings.urgent_pull_timeout_seconds
    inputs: list[tuple[str, str, str, type[BaseModel], float]] = [
        (
            "ingest-cooperatives",
            subjects.COOPERATIVE_UPSERTED,
            "Cooperative profiles",
            CooperativeProfile,
            bulk,
        ),
        (
            "ingest-offers",
            subjects.OFFER_UPSERTED_PREFIX + "*",
            "Partner offers",
            PartnerOffer,
            urgent,
        ),
        (
            "ingest-withdrawals",
            subjects.OFFER_WITHDRAWN_PREFIX + "*",
            "Offer withdrawals",
            OfferWithdrawn,
            urgent,
        ),
    ]
    for durable, subject, title, model, pull_timeout in inputs:

        async def handle(body: Any, message: BatchMessage) -> None:
            await ingest.consume(message)

        # The payload model documents the channel in AsyncAPI (see defer_decoding).
        handle.__annotations__["body"] = list[model]  # type: ignore[valid-type]
        router.subscriber(
            subject,
            stream=jstream(INPUT),
            durable=durable,
            config=consumer_config(durable, settings),
            pull_sub=PullSub(settings.batch_size, timeout=pull_timeout, batch=True),
            ack_policy=AckPolicy.MANUAL,
            decoder=defer_decoding,
            title=f"{durable}:{subject}",
            description=title,
        )(handle)
    return router


def ingest_service(runtime: Runtime) -> ServiceParts:
    return ServiceParts("ingest", routers=[ingest_router(runtime)])
