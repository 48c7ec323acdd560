"""Transactional outbox: what a change announces is written with the change, then relayed.

A handler adds ``OutboxRow``s in the transaction that stores its change; after the commit
the relay publishes them to JetStream with their deterministic ``Nats-Msg-Id``. A crash
between commit and publish leaves the rows unpublished and the next flush (at start or
on the timer) sends them; a crash after publish but before marking them is absorbed by
JetStream's duplicate window. So each message is published once.

The relay sends a chunk of rows without waiting for each acknowledgement in turn (one
connection keeps them in order on the stream) and marks the acknowledged ones at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from pydantic import BaseModel
from sqlalchemy import Engine, Row, Table, func, text, update
from sqlalchemy import select as select_core
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from services.platform.observability import count_published
from services.storage import bulk
from services.storage.db import ADVISORY_LOCKS, begin_writing
from services.storage.models import OutboxRow, table_of
from services.storage.types import utcnow

log = logging.getLogger(__name__)
OUTBOX: Table = table_of(OutboxRow)

# How long a relay waits for another process's relay to finish its chunk (it is handed
# the lock the moment the other commits), and how soon it tries again after that.
LOCK_WAIT_MS = 2000
BUSY_SECONDS = 0.01

Publish = Callable[[str, bytes, str], Awaitable[None]]
Pending = Row[int | None, str, str, str]  # id, subject, payload, msg_id


def enqueue(session: Session, subject: str, payload: BaseModel, msg_id: str) -> None:
    session.add(OutboxRow(subject=subject, payload=payload.model_dump_json(), msg_id=msg_id))


def enqueue_many(session: Session, messages: Iterable[tuple[str, BaseModel | str, str]]) -> None:
    """``enqueue`` for many (subject, payload, msg id) at once, in that order.

    One Core INSERT executed for all rows: building an ORM object and flushing it per row
    cost more than the change it announces when ingest applies thousands of events a batch.
    """
    now = utcnow()
    rows = [
        {
            "subject": subject,
            # Pre-serialized where the caller writes the JSON itself (the matcher's hot path).
            "payload": payload if isinstance(payload, str) else payload.model_dump_json(),
            "msg_id": msg_id,
            "created_at": now,
        }
        for subject, payload, msg_id in messages
    ]
    if rows:
        conn = session.connection()
        statement, params = bulk.insert(conn, OUTBOX, rows)
        conn.execute(statement, params)


def unsent(session: Session) -> int:
    """Messages committed but not published yet (0: every announcement is out)."""
    query = select(func.count()).select_from(OutboxRow).where(col(OutboxRow.published_at).is_(None))
    return session.exec(query).one()


class OutboxRelay:
    def __init__(self, engine: Engine, publish: Publish, *, chunk: int = 500) -> None:
        self._engine = engine
        self._publish = publish
        self._chunk = chunk
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def _claim(self) -> tuple[Session, list[Pending]] | None:
        """The oldest unpublished rows, (id, subject, payload, msg_id), in a transaction the
        caller ends with ``_release``; None while another process's relay holds them.

        PostgreSQL: every process runs a relay, and each would publish every process's rows
        (JetStream drops the copies, but each costs a publish in both processes) and mark
        them in a different order (deadlocks). So one relay at a time holds the unsent rows,
        through an advisory lock kept to ``_release``: the next one reads what is left, and
        the stream receives them in order. Waited for a bounded time, not polled: a
        relay must not hold a thread on another for ever. SQLite serves one process: a
        read, no lock (the write lock would hold the matcher's writes back while the chunk
        is published)."""
        session = Session(self._engine)
        try:
            conn = session.connection()
            shared = conn.dialect.name == "postgresql"
            if shared:
                conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'"))
                try:
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": ADVISORY_LOCKS["outbox_relay"]},
                    )
                except OperationalError:  # still held: that relay publishes ours too
                    session.close()
                    return None
            query = (
                select_core(
                    col(OutboxRow.id),
                    col(OutboxRow.subject),
                    col(OutboxRow.payload),
                    col(OutboxRow.msg_id),
                )
                .where(col(OutboxRow.published_at).is_(None))
                .order_by(col(OutboxRow.id))
                .limit(self._chunk)
            )
            rows = list(session.connection().execute(query).all())
            if not shared:
                session.commit()  # the marks take the write lock afresh (begin_writing)
            return session, rows
        except BaseException:
            session.close()
            raise

    def _release(self, session: Session, ids: list[int]) -> None:
        """Mark the published rows and end the claim's transaction."""
        try:
            if ids:
                # On SQLite, through the writers' turnstile: the busy handler's back-off
                # would leave the relay (and every message behind this chunk) waiting for
                # seconds while the matcher takes the lock back to back.
                begin_writing(session)
                conn = session.connection()
                conn.execute(
                    update(OUTBOX)
                    .where(bulk.among(conn, OUTBOX.c.id, ids))
                    .values(published_at=utcnow())
                )
            session.commit()
        finally:
            session.close()

    async def flush(self) -> int:
        """Publish everything not yet published, oldest first. Returns how many were sent."""
        sent = 0
        async with self._lock:
            while True:
                claim = await _claimed(asyncio.ensure_future(asyncio.to_thread(self._claim)))
                if claim is None:
                    # Another process's relay is still publishing the unsent rows, ours
                    # among them; try again for what it leaves (rows committed since).
                    await asyncio.sleep(BUSY_SECONDS)
                    continue
                session, rows = claim
                acked: list[int] = []
                try:
                    if rows:
                        await self._publish_chunk(rows, acked)
                finally:
                    # Whatever was acknowledged is marked, even when a publish failed (or
                    # the flush was cancelled): the rest stays unpublished for the next.
                    await asyncio.to_thread(self._release, session, acked)
                    sent += len(acked)
                if not rows:
                    return sent

    async def _publish_chunk(self, rows: list[Pending], acked: list[int]) -> None:
        """Publish the rows, adding each acknowledged id to ``acked``; raise the first error.

        The first row goes alone: if the broker is away, one publish fails instead of a
        whole chunk timing out, and nats-py sets up its reply subscription on the first
        request, which requests started meanwhile could overtake. The others are sent
        together: they leave in order on the one connection, so the stream keeps the order.
        """

        async def send(row: Pending) -> None:
            await self._publish(row.subject, row.payload.encode(), row.msg_id)
            acked.append(row.id)
            count_published(row.subject, row.payload)

        await send(rows[0])
        results = await asyncio.gather(*(send(row) for row in rows[1:]), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def wake(self) -> None:
        """Ask the background loop to flush now (after a commit)."""
        self._wake.set()

    async def run(self, interval: float) -> None:
        """Flush on every wake-up, and at least every ``interval`` seconds."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the broker or database is away: keep the rows, try again
                log.exception("outbox flush failed; will retry")
                await asyncio.sleep(interval)


async def _claimed(
    claim: asyncio.Future[tuple[Session, list[Pending]] | None],
) -> tuple[Session, list[Pending]] | None:
    """The claim's result. Cancelled while the claim runs in its thread (the service
    stops), the claim still completes there: its session is closed when it does, so its
    lock is not held on by a session nobody will release."""
    try:
        return await asyncio.shield(claim)
    except asyncio.CancelledError:

        def close(done: asyncio.Future[tuple[Session, list[Pending]] | None]) -> None:
            if not done.cancelled() and done.exception() is None:
                result = done.result()
                if result is not None:
                    result[0].close()

        claim.add_done_callback(close)
        raise
