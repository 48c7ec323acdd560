"""The JetStream topology, declared once: streams, durable consumers and the broker factory.

Streams are created or updated idempotently at start (``ensure_streams``), so every service
can start first. Consumers are durable pull consumers named after their service, with
explicit acknowledgement and a bounded number of deliveries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from faststream.nats import JStream, NatsBroker
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from schemas import subjects
from services.platform.settings import Settings

DAY = 24 * 3600.0
MIB = 1024 * 1024


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str
    max_age_days: float
    max_gib: float
    max_msg_size: int = MIB


INPUT = StreamSpec(
    "KOPDES_INPUT",
    (
        subjects.COOPERATIVE_UPSERTED,
        subjects.OFFER_UPSERTED_PREFIX + "*",
        subjects.OFFER_WITHDRAWN_PREFIX + "*",
    ),
    "Cooperative profiles and partner offers, as published by Simkopdes and partners",
    max_age_days=30,
    max_gib=10,
)
INTERNAL = StreamSpec(
    "KOPDES_INTERNAL",
    ("kopdes.internal.>",),
    "Changes stored by ingest, for the matcher",
    max_age_days=7,
    max_gib=2,
)
MATCH = StreamSpec(
    "KOPDES_MATCH",
    ("kopdes.match.>",),
    "Match suggestions, retractions and coordinators' decisions",
    max_age_days=90,
    max_gib=10,
)
NOTIFY = StreamSpec(
    "KOPDES_NOTIFY",
    ("kopdes.notify.>",),
    "Notifications to cooperatives and partners",
    max_age_days=90,
    max_gib=5,
)
DEADLETTER = StreamSpec(
    "KOPDES_DEADLETTER",
    (subjects.DEADLETTER,),
    "Every input the service could not accept, with the reason",
    max_age_days=90,
    max_gib=2,
    max_msg_size=2 * MIB,
)
STREAMS = (INPUT, INTERNAL, MATCH, NOTIFY, DEADLETTER)


def stream_config(spec: StreamSpec, settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=spec.max_age_days * DAY,
        max_bytes=int(spec.max_gib * 1024 * MIB),
        max_msg_size=spec.max_msg_size,
        discard=DiscardPolicy.OLD,
        duplicate_window=settings.duplicate_window_seconds,
        num_replicas=settings.stream_replicas,
    )


async def ensure_streams(js: JetStreamContext, settings: Settings) -> None:
    """Create every stream, or bring an existing one to the declared configuration."""
    for spec in STREAMS:
        config = stream_config(spec, settings)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            try:
                await js.add_stream(config)
                continue
            except NatsError:
                # Another process created it in between: fall through to update.
                pass
        await js.update_stream(config)


def jstream(spec: StreamSpec) -> JStream:
    # Declared by ensure_streams, not by FastStream, so that the limits live in one place.
    return JStream(spec.name, subjects=list(spec.subjects), declare=False)


def consumer_config(durable: str, settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_seconds,
        # Handler failures are bounded by settings.max_deliver in code (then dead-lettered);
        # this bound only stops retries through a very long database outage.
        max_deliver=settings.max_deliver_outage,
        max_ack_pending=max(1000, settings.batch_size * 5),
    )


def make_broker(settings: Settings, **kwargs: Any) -> NatsBroker:
    """The one broker factory every service and tool uses."""
    return NatsBroker(
        settings.nats_servers,
        name="kopdes-match",
        # Reconnect forever: nats-py re-creates the subscriptions on the new connection, and
        # FastStream's pull loop takes the failed fetches meanwhile as empty batches, so
        # the durable pull consumers resume by themselves after a server restart
        # (tests/e2e/test_nats_restart.py).
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        graceful_timeout=30.0,
        # Per-message "Received/Processed" lines are for debugging, not for operators.
        log_level=logging.DEBUG,
        logger=logging.getLogger("services.broker"),
        **kwargs,
    )


async def consumers_backlog(js: JetStreamContext, streams: tuple[StreamSpec, ...] = STREAMS) -> int:
    """Messages the service's durable consumers have not finished with (not delivered yet,
    or delivered and not acknowledged): 0 once the pipeline has caught up."""
    waiting = 0
    for spec in streams:
        try:
            consumers = await js.consumers_info(spec.name)
        except NotFoundError:
            continue
        for info in consumers:
            if info.config.durable_name:  # not a reader's ordered consumer
                # nats-py types the counts optional; the server always sends them.
                waiting += (
                    (info.num_pending or 0)
                    + (info.num_ack_pending or 0)
                    + (info.num_redelivered or 0)
                )
    return waiting
