"""Batch consumption with explicit acknowledgement, retries and dead letters.

Every consuming service hands a batch of JetStream messages to ``process_batch`` with
two functions: how to apply one message inside a transaction, and what to record when a
message is given up. The batch is applied in one transaction (fast on SQLite and
PostgreSQL alike), by an optional function that applies the whole batch at once if the
service has one; when that fails, each message is retried alone so that one poison
message cannot hold back the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.aio.msg import Msg
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from services.platform import observability
from services.platform.backoff import backoff_delay
from services.platform.log_throttle import ThrottledLog
from services.storage.db import begin_writing, session_scope
from services.storage.types import utcnow

log = logging.getLogger(__name__)
# A poison message is redelivered with its failure each time, and a flood of them would
# write the same line thousands of times: each kind of failure is logged once a minute.
THROTTLED = ThrottledLog(log)

MAX_RETRY_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class Delivery:
    subject: str
    data: bytes
    msg_id: str | None
    num_delivered: int
    source: str  # stream:sequence, unique per stored message
    received_at: datetime
    consumer: str = ""  # the durable consumer that delivered it, for metrics and logs
    num_pending: int = 0  # messages the consumer had not delivered yet, after this one

    @property
    def event_id(self) -> str:
        """The publisher's Nats-Msg-Id, else the stream position: what logs identify it by."""
        return self.msg_id or self.source

    def log_fields(self) -> dict[str, object]:
        return {
            "event_id": self.event_id,
            "subject": self.subject,
            "source": self.source,
            "consumer": self.consumer,
            "num_delivered": self.num_delivered,
        }

    @classmethod
    def of(cls, msg: Msg) -> Delivery:
        meta = msg.metadata
        return cls(
            subject=msg.subject,
            data=msg.data,
            msg_id=(msg.headers or {}).get("Nats-Msg-Id"),
            num_delivered=meta.num_delivered,
            source=f"{meta.stream}:{meta.sequence.stream}",
            received_at=utcnow(),
            consumer=meta.consumer or "",
            num_pending=meta.num_pending or 0,
        )


@dataclass(frozen=True, slots=True)
class Retry:
    delay: float
    # The database or the broker was away, not the message at fault: what comes after it
    # in the batch would likely fail the same way.
    transient: bool = False


@dataclass(frozen=True, slots=True)
class Terminate:
    """Stop redelivering: the message failed and even its dead letter could not be stored.

    It stays in its stream (for the stream's max age) and in the error log; retrying a
    message whose refusal cannot be written would only redeliver it forever.
    """


ACK = None
Outcome = Retry | Terminate | None

Apply = Callable[[Session, Delivery], None]
ApplyBatch = Callable[[Session, list[Delivery]], None]
GiveUp = Callable[[Session, Delivery, Exception], None]
Begin = Callable[[Session], None]
OpenSession = Callable[[], AbstractContextManager[Session]]


class Transient(Exception):
    """A handler cannot go on now for a reason outside the message: retry it later."""


def is_transient(exc: BaseException) -> bool:
    """Errors of the database's availability or of a concurrent writer, not of the message:
    retry without limit.

    OperationalError covers SQLite's ``database is locked`` (a WAL snapshot overtaken by
    another writer) and PostgreSQL's deadlocks and serialization failures; IntegrityError is
    a concurrent insert of the same key by another replica (unique constraints are the
    backstop behind the row locks); StaleDataError a row whose version moved under us.
    """
    if isinstance(exc, OperationalError | DisconnectionError | PoolTimeout | Transient):
        return True
    if isinstance(exc, StaleDataError | IntegrityError):  # a concurrent writer: re-read
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def process_batch(
    engine: Engine,
    deliveries: list[Delivery],
    apply: Apply,
    give_up: GiveUp,
    *,
    max_deliver: int,
    base_delay: float,
    begin: Begin = begin_writing,
    open_session: OpenSession | None = None,
    apply_batch: ApplyBatch | None = None,
) -> list[Outcome]:
    """Apply a batch; return per message ACK (None) or Retry(delay).

    ``begin`` opens each transaction before the first message is applied: by default as a
    writer (see ``begin_writing``), so that replicas sharing the consumer take turns.
    ``open_session`` gives each transaction's session (default: a new one per transaction).
    ``apply_batch``, if given, applies the whole batch in its transaction (it must have the
    effect of ``apply`` on each message in order); ``apply`` is then used only to retry the
    messages one by one after the batch failed.
    """
    started = time.perf_counter()
    opener: OpenSession = open_session or (lambda: session_scope(engine))
    try:
        return _process_batch(
            engine,
            deliveries,
            apply,
            give_up,
            max_deliver,
            base_delay,
            begin,
            opener,
            apply_batch,
        )
    finally:
        if deliveries:
            observability.HANDLER_SECONDS.labels(consumer=deliveries[0].consumer).observe(
                time.perf_counter() - started
            )


def _process_batch(
    engine: Engine,
    deliveries: list[Delivery],
    apply: Apply,
    give_up: GiveUp,
    max_deliver: int,
    base_delay: float,
    begin: Begin,
    opener: OpenSession,
    apply_batch: ApplyBatch | None,
) -> list[Outcome]:
    try:
        with opener() as session:
            begin(session)
            if apply_batch is not None:
                apply_batch(session, deliveries)
            else:
                for delivery in deliveries:
                    apply(session, delivery)
        return [ACK] * len(deliveries)
    except Exception as exc:
        if is_transient(exc):
            THROTTLED.log(
                logging.WARNING,
                (deliveries[0].consumer, "transient", type(exc).__name__),
                "database unavailable, batch of %d will be retried: %s",
                len(deliveries),
                exc,
            )
            return [
                Retry(backoff_delay(d.num_delivered, base_delay, MAX_RETRY_DELAY), True)
                for d in deliveries
            ]
        if len(deliveries) == 1:  # its own failure: no need to apply it again alone
            return [_failed(engine, deliveries[0], exc, give_up, max_deliver, base_delay)]
        THROTTLED.log(
            logging.WARNING,
            (deliveries[0].consumer, "batch failed", type(exc).__name__),
            "batch failed (%s); applying its %d messages one by one",
            exc,
            len(deliveries),
        )
    outcomes: list[Outcome] = []
    for delivery in deliveries:
        try:
            with opener() as session:
                begin(session)
                apply(session, delivery)
            outcomes.append(ACK)
        except Exception as exc:
            outcomes.append(_failed(engine, delivery, exc, give_up, max_deliver, base_delay))
    return outcomes


def _failed(
    engine: Engine,
    delivery: Delivery,
    exc: Exception,
    give_up: GiveUp,
    max_deliver: int,
    base_delay: float,
) -> Outcome:
    """Retry later, or give the message up when it has used its deliveries."""
    if is_transient(exc) or delivery.num_delivered < max_deliver:
        THROTTLED.log(
            logging.WARNING,
            (delivery.consumer, "failed", type(exc).__name__),
            "message %s failed on delivery %d: %r",
            delivery.source,
            delivery.num_delivered,
            exc,
            extra=delivery.log_fields(),
        )
        return Retry(
            backoff_delay(delivery.num_delivered, base_delay, MAX_RETRY_DELAY), is_transient(exc)
        )
    THROTTLED.log(
        logging.ERROR,
        (delivery.consumer, "given up", type(exc).__name__),
        "message %s given up after %d deliveries: %r",
        delivery.source,
        delivery.num_delivered,
        exc,
        extra=delivery.log_fields(),
    )
    try:
        with session_scope(engine) as session:
            give_up(session, delivery, exc)
    except Exception as failure:
        if is_transient(failure):
            return Retry(backoff_delay(delivery.num_delivered, base_delay, MAX_RETRY_DELAY), True)
        log.exception(
            "could not record message %s as given up; it is not redelivered",
            delivery.source,
            extra=delivery.log_fields(),
        )
        return Terminate()
    return ACK


async def settle(msgs: list[Msg], outcomes: list[Outcome]) -> None:
    for msg, outcome in zip(msgs, outcomes, strict=True):
        if outcome is None:
            await msg.ack()
        elif isinstance(outcome, Terminate):
            await msg.term()
        else:
            await msg.nak(delay=outcome.delay)
    # A service's batch mixes its consumers' messages: each is counted for its own.
    counts: dict[str, list[int]] = {}
    for msg, outcome in zip(msgs, outcomes, strict=True):
        acked_retried = counts.setdefault(msg.metadata.consumer or "", [0, 0])
        acked_retried[isinstance(outcome, Retry)] += 1
    for consumer, (acked, retried) in counts.items():
        observability.count_settled(consumer, acked, retried)


async def defer_decoding(message: Any, original: Any = None) -> list[Any]:
    """FastStream decoder for batch consumers that decode each message themselves.

    Returning no items lets the handler's parameter carry the payload model for the
    AsyncAPI document without FastStream validating (and failing) the whole batch; the
    handler reads ``message.raw_message`` and turns each bad message into a dead letter.
    """
    return []
