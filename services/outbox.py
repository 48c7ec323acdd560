"""Transactional outbox: what a change announces is written with the change, then relayed.

A handler adds ``OutboxRow``s in the transaction that stores its change; after the commit
the relay publishes them to JetStream with their deterministic ``Nats-Msg-Id``. A crash
between commit and publish leaves the rows unpublished and the next flush (at start or
on the timer) sends them; a crash after publish but before marking them is absorbed by
JetStream's duplicate window. So each message is published once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from pydantic import BaseModel
from sqlalchemy import Engine, insert, update
from sqlmodel import Session, col, select

from services.observability import count_published
from services.storage.models import OutboxRow
from services.storage.types import utcnow

log = logging.getLogger(__name__)

Publish = Callable[[str, bytes, str], Awaitable[None]]


def enqueue(session: Session, subject: str, payload: BaseModel, msg_id: str) -> None:
    session.add(OutboxRow(subject=subject, payload=payload.model_dump_json(), msg_id=msg_id))


def enqueue_many(session: Session, messages: Iterable[tuple[str, BaseModel, str]]) -> None:
    """``enqueue`` for many (subject, payload, msg id) at once, in that order.

    One Core INSERT executed for all rows: building an ORM object and flushing it per row
    cost more than the change it announces when ingest applies thousands of events a batch.
    """
    now = utcnow()
    rows = [
        {
            "subject": subject,
            "payload": payload.model_dump_json(),
            "msg_id": msg_id,
            "created_at": now,
        }
        for subject, payload, msg_id in messages
    ]
    if rows:
        session.connection().execute(insert(OutboxRow.__table__), rows)  # type: ignore[attr-defined]


class OutboxRelay:
    def __init__(self, engine: Engine, publish: Publish, *, chunk: int = 500) -> None:
        self._engine = engine
        self._publish = publish
        self._chunk = chunk
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def _pending(self) -> list[OutboxRow]:
        with Session(self._engine) as session:
            query = (
                select(OutboxRow)
                .where(col(OutboxRow.published_at).is_(None))
                .order_by(col(OutboxRow.id))
                .limit(self._chunk)
            )
            return list(session.exec(query).all())

    def _mark_published(self, ids: list[int]) -> None:
        with Session(self._engine) as session:
            session.exec(  # type: ignore[call-overload]
                update(OutboxRow).where(col(OutboxRow.id).in_(ids)).values(published_at=utcnow())
            )
            session.commit()

    async def flush(self) -> int:
        """Publish everything not yet published, oldest first. Returns how many were sent."""
        sent = 0
        async with self._lock:
            while rows := await asyncio.to_thread(self._pending):
                done: list[int] = []
                try:
                    for row in rows:
                        await self._publish(row.subject, row.payload.encode(), row.msg_id)
                        done.append(row.id)  # type: ignore[arg-type]
                        count_published(row.subject, row.payload)
                finally:
                    if done:
                        await asyncio.to_thread(self._mark_published, done)
                        sent += len(done)
        return sent

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
