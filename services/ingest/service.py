"""Ingest service: profiles, offers and withdrawals in; stored rows and change events out.

Durable pull consumers ``ingest-cooperatives``, ``ingest-offers`` and ``ingest-withdrawals``
on the KOPDES_INPUT stream feed one inbox (``platform/inbox.py``); one worker applies
what waits there in batches, offers and withdrawals first (a partner waits for them).
Every input is either applied (newest ``updated_at`` wins) or refused to
``kopdes.deadletter`` with its reason; the consumers keep going either way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Annotated, Any

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import NatsBroker, NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.js import JetStreamContext
from pydantic import BaseModel
from sqlmodel import Session

from schemas import CooperativeProfile, DeadLetter, OfferWithdrawn, PartnerOffer, subjects
from services.ingest.intake import InputEvent, Refused, parse_input, raw_text
from services.ingest.store import apply_event, apply_events
from services.platform.consuming import Delivery, Outcome, defer_decoding, process_batch, settle
from services.platform.dead_letters import Refusal, record_dead_letters
from services.platform.inbox import Inbox, finish, pull_into
from services.platform.log_throttle import ThrottledLog
from services.platform.outbox import Handover
from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.platform.topology import INPUT, consumer_config, jstream

log = logging.getLogger(__name__)
# A partner's flood of one mistake is one line a minute; each refusal is a dead letter.
REFUSALS_LOG = ThrottledLog(log)

BatchMessage = Annotated[NatsBatchMessage, Context("message")]
# How long a batch being applied may take to finish when the service stops.
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class Input:
    durable: str
    subject: str
    title: str
    model: type[BaseModel]
    urgent: bool  # a partner waits for its suggestions


INPUTS = (
    Input(
        "ingest-cooperatives",
        subjects.COOPERATIVE_UPSERTED,
        "Cooperative profiles",
        CooperativeProfile,
        urgent=False,
    ),
    Input(
        "ingest-offers", subjects.OFFER_UPSERTED_PREFIX + "*", "Partner offers", PartnerOffer, True
    ),
    Input(
        "ingest-withdrawals",
        subjects.OFFER_WITHDRAWN_PREFIX + "*",
        "Offer withdrawals",
        OfferWithdrawn,
        urgent=True,
    ),
)


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
        self.inbox = Inbox()

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

    def process(
        self, deliveries: list[Delivery], handover: Handover | None = None
    ) -> list[Outcome]:
        """Apply a batch; ``handover`` keeps the messages its transactions wrote."""
        return process_batch(
            self.runtime.engine,
            deliveries,
            self.apply,
            self.give_up,
            max_deliver=self.settings.max_deliver,
            base_delay=self.settings.retry_delay_seconds,
            open_session=handover.session if handover is not None else None,
            apply_batch=self.apply_batch,
        )

    @property
    def js(self) -> JetStreamContext:
        stream: JetStreamContext = self.runtime.broker.config.connection_state.stream
        return stream

    async def start(self) -> None:
        await self.runtime.broker.connect()

    def consumers(self) -> list[Any]:
        """One task per input consumer, feeding the inbox."""
        return [
            lambda spec=spec: pull_into(
                self.js,
                self.inbox,
                stream=INPUT.name,
                subject=spec.subject,
                config=consumer_config(spec.durable, self.settings),
                limit=self.settings.batch_size,
                urgent=spec.urgent,
            )
            for spec in INPUTS
        ]

    async def run(self) -> None:
        """Apply what the consumers delivered, a batch at a time."""
        while True:
            msgs = await self.inbox.take(self.settings.batch_size)
            await finish(asyncio.ensure_future(self._apply_batch(msgs)), STOP_SECONDS)

    async def _apply_batch(self, msgs: list[Any]) -> None:
        handover = Handover(self.runtime.engine)
        outcomes = await asyncio.to_thread(self.process, [Delivery.of(m) for m in msgs], handover)
        handover.give(self.runtime.relay)  # the changes go out first: a matcher waits for them
        await settle(msgs, outcomes)


def document_inputs(broker: NatsBroker) -> None:
    """The input channels in the AsyncAPI document, with their payloads: declared on a
    broker that is only documented, never started (the consumers are ``pull_into``)."""
    router = NatsRouter()
    for spec in INPUTS:

        async def handle(body: Any, message: BatchMessage) -> None:
            raise RuntimeError("documentation only")

        # The payload model documents the channel in AsyncAPI (see defer_decoding).
        # list[...] of a model held in a variable: a runtime alias, no annotation to check.
        handle.__annotations__["body"] = list[spec.model]  # type: ignore[name-defined]
        router.subscriber(
            spec.subject,
            stream=jstream(INPUT),
            durable=spec.durable,
            pull_sub=PullSub(batch=True),
            ack_policy=AckPolicy.MANUAL,
            decoder=defer_decoding,
            title=f"{spec.durable}:{spec.subject}",
            description=spec.title,
        )(handle)
    broker.include_router(router)


def ingest_service(runtime: Runtime) -> ServiceParts:
    ingest = Ingest(runtime)
    return ServiceParts(
        "ingest",
        on_start=[ingest.start],
        background=[ingest.run, *ingest.consumers()],
        handle=ingest,
        durables=[spec.durable for spec in INPUTS],
    )
