"""One worker per service, fed by its consumers: batches of whatever is waiting, at once.

A batch pull that waits to fill itself (FastStream's batch subscriber keeps fetching until
the batch is full or its timeout passes) holds a lone offer back for that timeout, and a
shorter timeout only polls harder when idle. Here each consumer keeps the service's
``Inbox`` fed with what the server has, and waits for the next message without polling
when there is none; the worker takes everything waiting, up to the batch size. Idle, a
message is taken the moment it arrives; busy, batches fill while the previous one is
applied. Each message says how many more the server holds for its consumer
(``num_pending``): the next fetch asks for those, which the server hands over at once,
or, when none, for the next one, which returns the moment it arrives. Urgent messages
(an offer a partner waits for) are taken before bulk ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import ServiceUnavailableError

log = logging.getLogger(__name__)

# How long one empty wait for a next message lasts before it is asked for again.
IDLE_WAIT_SECONDS = 5.0
# How long to wait for messages the server said it holds (another process sharing the
# consumer may have taken them meanwhile).
ANSWER_SECONDS = 0.05
# After the connection failed: nats-py reconnects and re-creates the subscription.
RETRY_SECONDS = 1.0


class Inbox:
    """Messages delivered and not yet taken: urgent first, otherwise in arrival order."""

    def __init__(self) -> None:
        self._queue: asyncio.PriorityQueue[tuple[bool, int, Msg]] = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._taken = asyncio.Condition()
        self._urgent = 0  # urgent messages waiting

    @property
    def waiting(self) -> bool:
        return not self._queue.empty()

    @property
    def urgent_waiting(self) -> bool:
        return self._urgent > 0

    def put(self, msg: Msg, *, urgent: bool = False) -> None:
        self._urgent += urgent
        self._queue.put_nowait((not urgent, next(self._order), msg))

    async def take(self, limit: int) -> list[Msg]:
        """The next message (waiting for one), with whatever else waits, up to ``limit``."""
        items = [await self._queue.get()]
        while len(items) < limit and not self._queue.empty():
            items.append(self._queue.get_nowait())
        msgs = []
        for bulk, _, msg in items:
            self._urgent -= not bulk
            msgs.append(msg)
        async with self._taken:
            self._taken.notify_all()
        return msgs

    async def room_for(self, limit: int) -> None:
        """Wait until fewer than ``limit`` messages wait: a consumer fetches no further
        ahead than one batch, so what waits here is taken long before its ack wait."""
        async with self._taken:
            await self._taken.wait_for(lambda: self._queue.qsize() < limit)


async def pull_into(
    js: JetStreamContext,
    inbox: Inbox,
    *,
    stream: str,
    subject: str,
    config: ConsumerConfig,
    limit: int,
    urgent: bool = False,
) -> None:
    """Feed the inbox from the durable pull consumer ``config.durable_name`` (created if
    missing), for ever: what the server has at once, else the next message as it comes."""
    sub = await js.pull_subscribe(
        subject, durable=config.durable_name, stream=stream, config=config
    )
    try:
        await _feed(sub, inbox, config, limit, urgent)
    finally:
        # Unsubscribed here, as the task stops: left to the connection's drain at close,
        # a pull subscription cancelled mid-fetch fails it ("exception never retrieved").
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def _feed(
    sub: JetStreamContext.PullSubscription,
    inbox: Inbox,
    config: ConsumerConfig,
    limit: int,
    urgent: bool,
) -> None:
    waiting = 0  # messages the server holds for this consumer, as the last one said
    while True:
        await inbox.room_for(limit)
        try:
            if waiting:
                # They wait already: nats-py's first, no-wait request answers at once.
                msgs = await sub.fetch(min(limit, waiting), timeout=ANSWER_SECONDS)
            else:
                # Nothing waits: one message, returned the moment it arrives. (A larger
                # fetch would hold its first message until the rest came or time ran out.)
                msgs = await sub.fetch(1, timeout=IDLE_WAIT_SECONDS)
        except (TimeoutError, NatsTimeout):
            waiting = 0  # taken by another process meanwhile, or nothing came
            continue
        except (ConnectionClosedError, ServiceUnavailableError) as exc:
            log.warning("consumer %s cannot fetch (%s); retrying", config.durable_name, exc)
            waiting = 0
            await asyncio.sleep(RETRY_SECONDS)
            continue
        waiting = msgs[-1].metadata.num_pending or 0
        for msg in msgs:
            inbox.put(msg, urgent=urgent)


async def finish(work: asyncio.Future[None], timeout: float) -> None:
    """Await a batch's work; when the waiting task is cancelled (the service stops), let
    the batch complete and acknowledge first (bounded), so it is not applied twice."""
    try:
        await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(work, timeout)
        raise
