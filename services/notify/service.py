"""Notify service: approved matches become notifications to the cooperative and the partner.

Consumes ``kopdes.match.decided`` (stream KOPDES_MATCH, durable ``notify``). For an
approval it records one notification per recipient, its outbox message (published on
``kopdes.notify.cooperative.<id>`` / ``kopdes.notify.partner.<id>``) and its webhook
deliveries in one transaction; a reopened approval ("Kemitraan dibatalkan") the same way.
Rejections notify nobody outside. Background tasks: the
webhook worker, and a sweep for reminders and for approved offers that closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from pydantic import ValidationError
from sqlmodel import Session

from schemas import DeadLetter, Decision, MatchDecision, Notification, RecipientType, subjects
from services.notify import messages
from services.notify.events import NOTIFY_COORDINATOR, CoordinatorReminder
from services.notify.reminders import Sweeper
from services.notify.store import (
    Kind,
    approval_announced,
    notification_id,
    record_notification,
)
from services.notify.webhooks import WebhookWorker
from services.platform.consuming import Delivery, defer_decoding, process_batch, settle
from services.platform.dead_letters import record_dead_letter, record_handler_failure
from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.platform.topology import MATCH, consumer_config, jstream
from services.storage.models import CooperativeRow, OfferRow, SuggestionRow
from services.storage.types import utcnow

log = logging.getLogger(__name__)

BatchMessage = Annotated[NatsBatchMessage, Context("message")]
DURABLE = "notify"


class Refused(Exception):
    """A decision that can never be applied: dead-lettered at once, with the reason."""


class Notifier:
    def __init__(self, runtime: Runtime, now: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.now = now
        self.webhooks = WebhookWorker(runtime.engine, runtime.settings, now=now)
        self.sweeper = Sweeper(runtime.engine, runtime.settings, now=now)

    def apply(self, session: Session, delivery: Delivery) -> None:
        try:
            decision = MatchDecision.model_validate_json(delivery.data)
            self.decided(session, decision)
        except (ValidationError, Refused) as exc:
            reason = (
                str(exc)
                if isinstance(exc, Refused)
                else "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
                )
            )
            self._dead_letter(session, delivery, reason, type(exc).__name__)

    def decided(self, session: Session, decision: MatchDecision) -> int:
        """Record the notifications of one decision; returns how many are new."""
        if decision.decision == Decision.REJECTED:
            return 0  # a rejection stays between the coordinators
        suggestion = session.get(SuggestionRow, decision.suggestion_id)
        if suggestion is None:
            raise Refused(f"suggestion_id: unknown suggestion {decision.suggestion_id!r}")
        offer = session.get(OfferRow, (suggestion.partner_id, suggestion.offer_id))
        cooperative = session.get(CooperativeRow, suggestion.cooperative_id)
        if offer is None or cooperative is None:
            raise Refused(
                f"suggestion {decision.suggestion_id!r} refers to an offer or cooperative "
                "that is not stored"
            )
        # One round of the pair: the suggestion's version the coordinator decided on (the
        # decision may carry it; else the stored one, which approval freezes).
        version = decision.suggestion_version or suggestion.version
        if decision.decision == Decision.APPROVED:
            kind = Kind.APPROVED
            compose = (messages.approved_for_cooperative, messages.approved_for_partner)
        else:
            # Reopened: only an approval the cooperative and the partner were told of is
            # taken back in their inboxes; a reopened rejection was never announced.
            if not approval_announced(session, suggestion.suggestion_id):
                return 0
            kind = Kind.CANCELLED
            compose = (messages.cancelled_for_cooperative, messages.cancelled_for_partner)
        now = self.now()
        created = 0
        for recipient_type, recipient_id, text in (
            (RecipientType.COOPERATIVE, suggestion.cooperative_id, compose[0]),
            (RecipientType.PARTNER, suggestion.partner_id, compose[1]),
        ):
            row = record_notification(
                session,
                notification_id=notification_id(
                    kind, suggestion.suggestion_id, version, recipient_type
                ),
                recipient_type=recipient_type,
                recipient_id=recipient_id,
                suggestion_id=suggestion.suggestion_id,
                kind=kind,
                text=text(suggestion, offer, cooperative, decision.note),
                now=now,
            )
            created += row is not None
        return created

    def _dead_letter(self, session: Session, delivery: Delivery, reason: str, kind: str) -> None:
        letter = DeadLetter(
            subject=delivery.subject,
            reason=reason,
            error_type="invalid_decision" if kind == "ValidationError" else "refused",
            raw=delivery.data.decode("utf-8", "replace"),
            received_at=delivery.received_at,
        )
        record_dead_letter(session, letter, delivery.source, delivery.msg_id)

    def give_up(self, session: Session, delivery: Delivery, exc: Exception) -> None:
        record_handler_failure(session, delivery, exc, "notification")

    def process(self, deliveries: list[Delivery]) -> list[Any]:
        return process_batch(
            self.runtime.engine,
            deliveries,
            self.apply,
            self.give_up,
            max_deliver=self.settings.max_deliver,
            base_delay=self.settings.retry_delay_seconds,
        )

    async def consume(self, message: NatsBatchMessage) -> None:
        msgs = message.raw_message
        outcomes = await asyncio.to_thread(self.process, [Delivery.of(m) for m in msgs])
        await settle(msgs, outcomes)
        self.runtime.relay.wake()
        self.webhooks.wake()

    async def run_sweeps(self) -> None:
        # First sweep shortly after start (not at once: the consumers start first).
        await asyncio.sleep(min(5.0, self.settings.notify_sweep_seconds))
        while True:
            try:
                if await asyncio.to_thread(self.sweeper.sweep):
                    self.runtime.relay.wake()
                    self.webhooks.wake()
            except Exception:
                log.exception("notification sweep failed; will retry")
            await asyncio.sleep(self.settings.notify_sweep_seconds)

    def today(self) -> date:
        return self.now().date()


def notify_router(notifier: Notifier) -> NatsRouter:
    settings = notifier.settings
    router = NatsRouter()

    @router.subscriber(
        subjects.MATCH_DECIDED,
        stream=jstream(MATCH),
        durable=DURABLE,
        config=consumer_config(DURABLE, settings),
        pull_sub=PullSub(settings.batch_size, timeout=settings.pull_timeout_seconds, batch=True),
        ack_policy=AckPolicy.MANUAL,
        decoder=defer_decoding,
        title="notify:kopdes.match.decided",
        description=(
            "Coordinators' decisions; approvals and reopened approvals notify the "
            "cooperative and the partner"
        ),
    )
    async def handle(body: list[MatchDecision], message: BatchMessage) -> None:
        await notifier.consume(message)

    return router


def _document_outputs(runtime: Runtime) -> None:
    # Published through the outbox relay; declared so the AsyncAPI document lists them.
    for subject, schema, text in (
        (
            subjects.NOTIFY_COOPERATIVE,
            Notification,
            "A notification to a cooperative (an approved match, an approval taken back, "
            "an approved offer closed)",
        ),
        (
            subjects.NOTIFY_PARTNER,
            Notification,
            "A notification to a partner (an approved match, an approval taken back)",
        ),
        (
            NOTIFY_COORDINATOR,
            CoordinatorReminder,
            "Internal: suggestions of a regency waiting for a decision too long",
        ),
    ):
        runtime.broker.publisher(subject, schema=schema, title=subject, description=text)


def notify_service(runtime: Runtime) -> ServiceParts:
    notifier = Notifier(runtime)
    _document_outputs(runtime)
    return ServiceParts(
        "notify",
        routers=[notify_router(notifier)],
        background=[notifier.webhooks.run, notifier.run_sweeps],
        handle=notifier,
    )
