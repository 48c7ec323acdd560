"""Transactional outbox: what a change announces is written with the change, then relayed.

A handler adds ``OutboxRow``s in the transaction that stores its change; after the commit
the relay publishes them to JetStream with their deterministic ``Nats-Msg-Id``. A crash
between commit and publish leaves the rows unpublished and the next flush (at start or
on the timer) sends them; a crash after publish but before deleting them is absorbed by
JetStream's duplicate window. So each message is published once.

The relay sends a chunk of rows without waiting for each acknowledgement in turn (one
connection keeps them in order on the stream) and deletes the acknowledged ones at once:
the table holds only what is still to be sent (marking them instead rewrote each row and
kept it for ever: a national load's outbox outgrew the database's cache, migration 0013).
A publish is started, not awaited (``acks.AckedPublisher``): a request awaited per
message, each with its own timer and task, was half of the relay's cost (12 % of a loading
matcher's samples, 6 % since).

A writer that has its messages in hand hands them over after its commit (``collect``, then
``handoff``: the matcher, for every unit it writes; ingest, for every batch, through a
``Handover``): the relay publishes them from memory and deletes them
once acknowledged, with no claim reading back what the writer had just written. The table
stays the truth: a wake-up (a writer that did not hand its rows over), a failed publish,
or a quiet interval sends the relay back to claiming from it, so the stream keeps the order
of the commits and nothing committed is left behind.

Several processes (PostgreSQL): each process's relay publishes the rows its own process
wrote (their ``origin``), so no process waits for another's relay, whose event loop shares
its GIL with that process's own work. A process is alive while a connection of its holds
its origin's advisory lock (``hold``); rows of origins nobody holds (a process that died,
a short command, rows from before origins existed) are swept up, in order, by whichever
relay takes the sweep lock. A matcher holds its origin on the connection that holds its
provinces, so the two are released together when it dies, and it sweeps before taking a
province over: what the dead owner announced goes out before what the new owner does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    Table,
    delete,
    event,
    func,
    or_,
    text,
)
from sqlalchemy import select as select_core
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from services.platform.observability import count_published
from services.storage import bulk
from services.storage.db import ADVISORY_LOCKS, begin_writing, session_scope
from services.storage.models import OutboxRow, table_of
from services.storage.types import utcnow

log = logging.getLogger(__name__)
OUTBOX: Table = table_of(OutboxRow)

# This process's origin: the rows it writes carry it, and its relay publishes those.
ORIGIN = random.randrange(1, 2**31 - 1)
# Advisory lock key spaces (the first of two int4 keys; see services/matching/ownership.py).
ORIGIN_LOCKS = 0x6B70  # held (shared) while a process's relay publishes its origin's rows
CLAIM_LOCKS = 0x6B71  # relays of one origin (tests run several in one process) take turns
# How long a claim waits for another relay's (a sweep at a province takeover: for another
# relay's sweep to finish), and how soon a flush tries again.
LOCK_WAIT_MS = 2000
BUSY_SECONDS = 0.01

# Messages handed over and not yet published, at most: a relay further behind claims from
# the table (a national load's backlog held in memory took the matcher from 0.9 to 1.2 GiB).
HANDOFF_LIMIT = 2000
# Starts publishing (subject, payload, msg id) and returns what its acknowledgement sets.
Publish = Callable[[str, bytes, str], Awaitable["asyncio.Future[Any]"]]
# How long a chunk's acknowledgements may take (nats-py's own request timeout).
ACK_SECONDS = 5.0
Pending = Row[int | None, str, str, str]  # id, subject, payload, msg_id


class Message(NamedTuple):
    """An outbox row as its writer wrote it: what ``OutboxRelay.handoff`` publishes."""

    subject: str
    payload: str
    msg_id: str


def enqueue(session: Session, subject: str, payload: BaseModel, msg_id: str) -> None:
    session.info[_IN_TABLE] = True
    session.add(
        OutboxRow(subject=subject, payload=payload.model_dump_json(), msg_id=msg_id, origin=ORIGIN)
    )


def enqueue_many(
    session: Session,
    messages: Iterable[tuple[str, BaseModel | str, str]],
    *,
    origin: int | None = ORIGIN,
) -> None:
    """``enqueue`` for many (subject, payload, msg id) at once, in that order. In a session
    that ``collect``s, they are kept for the caller to hand over after the commit;
    otherwise the commit tells this process's relays that the table holds rows they were
    not handed.

    One Core INSERT executed for all rows: building an ORM object and flushing it per row
    cost more than the change it announces when ingest applies thousands of events a batch.
    ``origin``: another process's (or None, as before origins existed), in tests.
    """
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "subject": subject,
            # Pre-serialized where the caller writes the JSON itself (the matcher's hot path).
            "payload": payload if isinstance(payload, str) else payload.model_dump_json(),
            "msg_id": msg_id,
            "created_at": now,
            "origin": origin,
        }
        for subject, payload, msg_id in messages
    ]
    if rows:
        conn = session.connection()
        statement, params = bulk.insert(conn, OUTBOX, rows)
        conn.execute(statement, params)
    collected = session.info.get(_HANDOVER)
    if collected is not None:
        collected.extend(Message(r["subject"], r["payload"], r["msg_id"]) for r in rows)
    elif rows:
        session.info[_IN_TABLE] = True


def collect(session: Session) -> list[Message]:
    """The messages ``enqueue_many`` writes in this session's transaction, as it writes
    them: the caller hands them to ``OutboxRelay.handoff`` once it has committed."""
    collected: list[Message] = session.info.setdefault(_HANDOVER, [])
    return collected


# Keys in ``Session.info``: a session that ``collect``s keeps what ``enqueue_many`` wrote
# under the first; the second marks a transaction whose rows nobody hands over.
_HANDOVER = "kopdes_outbox_handover"
_IN_TABLE = "kopdes_outbox_in_table"
# This process's relays: a commit of rows nobody hands over sends them to the table.
_RELAYS: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    """Right after the commit, in the writer's thread: rows committed now must go out
    before any message handed over later (a wake-up, on the event loop, could come after
    one), so every relay of this process claims from the table next."""
    if session.info.pop(_IN_TABLE, False):
        for relay in list(_RELAYS):
            relay._dirty = True


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_IN_TABLE, None)


class Handover:
    """The messages a handler's transactions wrote (``session`` opens them), kept as each
    commits, for the relay once the batch is over (``give``). What a transaction opened
    elsewhere wrote meanwhile (a dead letter's, say) is in the table only: its commit
    sent the relay there, and ``give`` wakes it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.messages: list[Message] = []

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self._engine) as session:
            written = collect(session)
            yield session
        self.messages.extend(written)  # committed

    def give(self, relay: OutboxRelay) -> None:
        """On the event loop, once the batch's transactions are over."""
        relay.handoff(self.messages)


def unsent(session: Session) -> int:
    """Messages committed but not published yet (0: every announcement is out)."""
    return session.exec(select(func.count()).select_from(OutboxRow)).one()


def hold_origin(connection: Connection, origin: int = ORIGIN) -> None:
    """Mark ``origin`` alive for as long as ``connection`` lives (PostgreSQL)."""
    with connection.begin():
        connection.execute(
            text("SELECT pg_advisory_lock_shared(:space, :key)"),
            {"space": ORIGIN_LOCKS, "key": origin},
        )


def live_origins(connection: Connection) -> list[int]:
    """The origins some connection holds (their relays publish their rows)."""
    rows = connection.execute(
        text(
            "SELECT DISTINCT objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = :space AND objsubid = 2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"space": ORIGIN_LOCKS},
    ).scalars()
    return [int(key) for key in rows]


class OutboxRelay:
    def __init__(
        self, engine: Engine, publish: Publish, *, chunk: int = 500, origin: int = ORIGIN
    ) -> None:
        self._engine = engine
        self._publish = publish
        self._chunk = chunk
        self.origin = origin
        self._shared = engine.dialect.name == "postgresql"
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        # Messages this process committed and handed over (``handoff``), in commit order;
        # while nothing else waits in the table (not ``_dirty``), they are published from
        # memory instead of claimed back from it.
        self._handed: list[Message] = []
        self._dirty = True  # rows from before this relay started may wait
        _RELAYS.add(self)
        # The connection holding this origin alive: the relay's own while it runs, unless a
        # service hands it one (``hold``).
        self._holding = threading.Lock()
        self._own: Connection | None = None
        self._held_elsewhere = False

    # -- the origin alive ----------------------------------------------------------------------

    def hold(self, connection: Connection) -> None:
        """Hold this relay's origin on ``connection`` from now on (a matcher's ownership
        connection: its provinces and its origin are then released together)."""
        if not self._shared:
            return
        hold_origin(connection, self.origin)
        with self._holding:
            self._held_elsewhere = True
            own, self._own = self._own, None
        _close(own)

    def _hold_own(self) -> None:
        with self._holding:
            if not self._shared or self._held_elsewhere or self._own is not None:
                return
            connection = self._engine.connect()
            try:
                hold_origin(connection, self.origin)
            except BaseException:
                connection.close()
                raise
            self._own = connection

    def _let_go(self) -> None:
        with self._holding:
            own, self._own = self._own, None
        _close(own)

    # -- claims ----------------------------------------------------------------------------------

    def _claim(self) -> tuple[Session, list[Pending]] | None:
        """The oldest unpublished rows of this relay's origin, (id, subject, payload,
        msg_id), in a transaction the caller ends with ``_release``; None while another
        relay of this origin holds them.

        SQLite serves one process: every unsent row is its own, read without a lock (the
        write lock would hold the matcher's writes back while the chunk is published)."""
        session = Session(self._engine)
        try:
            conn = session.connection()
            if self._shared and not _locked_within(
                conn, ":space, :key", {"space": CLAIM_LOCKS, "key": self.origin}
            ):  # another relay of this origin publishes them
                session.close()
                return None
            if self._shared:
                # In id order from the origin's index, never a bitmap scan and a sort: a
                # queue's statistics are always behind it (the table was nearly empty when
                # last analyzed, and a bulk load's backlog is tens of thousands of rows,
                # which a sort per chunk read whole: 410 ms a chunk, 3.5 ms in order).
                conn.execute(text("SET LOCAL enable_bitmapscan = off"))
            rows = self._unsent(conn, OUTBOX.c.origin == self.origin if self._shared else None)
            if not self._shared:
                session.commit()  # the deletes take the write lock afresh (begin_writing)
            return session, rows
        except BaseException:
            session.close()
            raise

    def _claim_orphans(self, wait: bool) -> tuple[Session, list[Pending]] | None:
        """The oldest unpublished rows whose origin nobody holds; None while another relay
        sweeps (``wait``: for at most ``LOCK_WAIT_MS``)."""
        session = Session(self._engine)
        try:
            conn = session.connection()
            key = {"key": ADVISORY_LOCKS["outbox_relay"]}
            if not (
                _locked_within(conn, ":key", key)
                if wait
                else conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar()
            ):
                session.close()
                return None
            live = live_origins(conn)
            orphan = or_(OUTBOX.c.origin.is_(None), OUTBOX.c.origin.not_in(live))
            return session, self._unsent(conn, orphan)
        except BaseException:
            session.close()
            raise

    def _unsent(self, conn: Connection, which: ColumnElement[bool] | None) -> list[Pending]:
        return list(conn.execute(self._unsent_query(which)).all())

    def _unsent_query(self, which: ColumnElement[bool] | None) -> Select[int | None, str, str, str]:
        query = (
            select_core(
                col(OutboxRow.id),
                col(OutboxRow.subject),
                col(OutboxRow.payload),
                col(OutboxRow.msg_id),
            )
            .order_by(col(OutboxRow.id))
            .limit(self._chunk)
        )
        if which is not None:
            query = query.where(which)
        return query

    def _release(self, session: Session, msg_ids: list[str]) -> None:
        """Delete the published rows and end the claim's transaction.

        By msg id, not by id: SQLite gives a new row the id of a deleted one, and another
        relay (a second process on the file, as ``run ingest`` beside the matcher) may have
        deleted these rows since this one read them; deleting by id then took a row written
        since, never published."""
        try:
            if msg_ids:
                # On SQLite, through the writers' turnstile: the busy handler's back-off
                # would leave the relay (and every message behind this chunk) waiting for
                # seconds while the matcher takes the lock back to back.
                begin_writing(session)
                conn = session.connection()
                conn.execute(delete(OUTBOX).where(bulk.among(conn, OUTBOX.c.msg_id, msg_ids)))
            session.commit()
        finally:
            session.close()

    # -- publishing ------------------------------------------------------------------------------

    async def flush(self) -> int:
        """Publish this process's unpublished rows, oldest first. Returns how many were sent.

        When all of them were handed over, from memory; otherwise claimed from the table."""
        if self._handed and not self._dirty:
            return await self._send_handed()
        self._dirty = False  # a wake-up from now on asks for another claim
        self._handed.clear()  # committed, so the claims below find them
        sent = 0
        while True:
            drained = await self._drain(self._claim)
            if drained is not None:
                return sent + drained
            # Another relay of this origin (tests run several in one process) holds them;
            # try again for what it leaves (rows committed since).
            await asyncio.sleep(BUSY_SECONDS)

    async def sweep(self, *, wait: bool = False) -> int:
        """Publish the rows whose origin nobody holds, oldest first (PostgreSQL; SQLite's
        one relay publishes every row). ``wait``: for a sweep another relay is running,
        so that what it publishes is out before this returns."""
        if not self._shared:
            return 0
        return await self._drain(lambda: self._claim_orphans(wait)) or 0

    async def _drain(
        self, claim_rows: Callable[[], tuple[Session, list[Pending]] | None]
    ) -> int | None:
        """Publish what ``claim_rows`` claims until it claims nothing: how many were sent;
        None if it found them held by another relay before sending any."""
        sent = 0
        async with self._lock:
            while True:
                claim = await _claimed(claim_rows)
                if claim is None:
                    return sent or None
                session, rows = claim
                acked: list[str] = []  # the msg ids JetStream acknowledged
                try:
                    if rows:
                        await self._publish_chunk(rows, acked)
                finally:
                    # Whatever was acknowledged is deleted, even when a publish failed (or
                    # the flush was cancelled): the rest stays unpublished for the next.
                    await asyncio.to_thread(self._release, session, acked)
                    sent += len(acked)
                    if self._handed and acked:  # handed over meanwhile, and sent now
                        out = set(acked)
                        self._handed = [m for m in self._handed if m.msg_id not in out]
                # A short chunk was every row committed before the claim; rows committed
                # since come with a wake-up (their writer wakes the relay after its
                # commit), so another claim now would find nothing: a transaction of four
                # round trips per flush, half of an idle relay's work.
                if len(rows) < self._chunk:
                    return sent

    async def _publish_chunk(self, rows: Sequence[Pending | Message], acked: list[str]) -> None:
        """Publish the rows, adding each acknowledged msg id to ``acked``; raise the first error.

        The first row goes alone: if the broker is away, one publish fails instead of a
        whole chunk timing out, and nats-py sets up its reply subscription on the first
        publish, which publishes started meanwhile could overtake. The others are sent
        together: they leave in order on the one connection, so the stream keeps the order.
        """
        await self._settle_acks(rows[:1], acked)
        await self._settle_acks(rows[1:], acked)

    async def _settle_acks(self, rows: Sequence[Pending | Message], acked: list[str]) -> None:
        started: list[tuple[Pending | Message, asyncio.Future[Any]]] = []
        failure: BaseException | None = None
        try:
            for row in rows:
                started.append(
                    (row, await self._publish(row.subject, row.payload.encode(), row.msg_id))
                )
        except Exception as exc:  # the broker went away mid-chunk: settle what was started
            failure = exc
        await _acknowledged([future for _, future in started], ACK_SECONDS)
        for row, future in started:
            if not future.done():
                future.cancel()
                failure = failure or TimeoutError(f"no acknowledgement for {row.msg_id}")
            elif future.cancelled():  # by someone else: a failure, not this task's cancellation
                failure = failure or ConnectionError(f"publish of {row.msg_id} was cancelled")
            elif future.exception() is not None:
                failure = failure or future.exception()
            else:
                acked.append(row.msg_id)
                count_published(row.subject, row.payload)
        if failure is not None:
            raise failure

    async def _send_handed(self) -> int:
        """Publish the messages handed over, in order, and delete those acknowledged; stop
        when a wake-up says the table holds others (committed before the rest of these)."""
        sent = 0
        async with self._lock:
            while self._handed and not self._dirty:
                chunk = self._handed[: self._chunk]
                del self._handed[: self._chunk]
                acked: list[str] = []
                try:
                    try:
                        await self._publish_chunk(chunk, acked)
                    finally:
                        if acked:
                            await asyncio.to_thread(self._release, Session(self._engine), acked)
                            sent += len(acked)
                except BaseException:
                    self._dirty = True  # the rest is claimed from the table
                    raise
        return sent

    def wake(self) -> None:
        """Ask the background loop to flush now (after a commit): from the table."""
        self._dirty = True
        self._wake.set()

    def handoff(self, messages: list[Message]) -> None:
        """Publish these messages, which this process has just committed (``collect``
        kept them), from memory: reading back what the writer had in hand cost the relay
        a claim (four round trips before the first publish) and the database the
        payloads' reading, ~1 KB a suggestion. On the event loop, in commit order. With
        none, a wake-up if a commit left rows in the table meanwhile."""
        if not messages:
            if self._dirty:
                self._wake.set()
            return
        if len(self._handed) + len(messages) > HANDOFF_LIMIT:
            # Behind: the table holds the backlog, not this process's memory.
            self._handed.clear()
            self._dirty = True
        else:
            self._handed.extend(messages)
        self._wake.set()

    async def run(self, interval: float) -> None:
        """Flush on every wake-up, and at least every ``interval`` seconds; sweep up the
        rows of origins nobody holds every ``interval`` seconds (from the start: a previous
        run of this process had another origin)."""
        next_sweep = 0.0
        try:
            while True:
                try:
                    if self._shared and self._own is None and not self._held_elsewhere:
                        await asyncio.to_thread(self._hold_own)  # once, not every wake-up
                    await self.flush()
                    if time.monotonic() >= next_sweep:
                        next_sweep = time.monotonic() + interval
                        await self.sweep()
                except Exception:  # the broker or database is away: keep the rows, try again
                    log.exception("outbox flush failed; will retry")
                    self._dirty = True
                    await asyncio.sleep(interval)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=interval)
                except TimeoutError:  # the table itself now and then, woken or not
                    self._dirty = True
                self._wake.clear()
        finally:
            await asyncio.to_thread(self._let_go)


async def _acknowledged(futures: list[asyncio.Future[Any]], timeout: float) -> None:
    """Wait until every future is done, or ``timeout`` seconds have passed.

    Acknowledgements come back about in the order the messages were sent, so waiting for
    the last one outstanding is waiting for nearly all: ``asyncio.wait`` on a chunk of 500
    added and removed a callback on each future, 3 % of a loading matcher's samples."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = [future for future in futures if not future.done()]
    if pending:
        await asyncio.wait(pending[-1:], timeout=timeout)
        pending = [future for future in pending if not future.done()]
    if pending and deadline > loop.time():  # some came back after the last
        await asyncio.wait(pending, timeout=deadline - loop.time())


def _locked_within(conn: Connection, keys: str, params: dict[str, int]) -> bool:
    """Take a transaction's advisory lock (``keys``: its arguments), waiting at most
    ``LOCK_WAIT_MS``: a relay's thread must never wait on a lock for ever (it cannot be
    cancelled, and a stopping event loop waits for it). False if another transaction kept
    it that long. A free lock (the usual case) is taken in one round trip."""
    if conn.execute(text(f"SELECT pg_try_advisory_xact_lock({keys})"), params).scalar():
        return True
    conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'"))
    try:
        conn.execute(text(f"SELECT pg_advisory_xact_lock({keys})"), params)
    except OperationalError:
        return False
    return True


def _close(connection: Connection | None) -> None:
    """End the session itself (the database releases its locks with it), not return it to
    the pool still holding them."""
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.invalidate()
            connection.close()


async def _claimed(
    claim_rows: Callable[[], tuple[Session, list[Pending]] | None],
) -> tuple[Session, list[Pending]] | None:
    """``claim_rows()`` in a thread. Cancelled meanwhile (the service stops, the event loop
    closes), the claim still completes in its thread: whichever side comes second closes
    its session, so its locks are not held on by a transaction nobody will end (a DROP or
    the next claim would wait on it for ever)."""
    guard = threading.Lock()
    state: dict[str, Any] = {"abandoned": False, "claim": None}

    def work() -> tuple[Session, list[Pending]] | None:
        claim = claim_rows()
        with guard:
            if state["abandoned"]:
                _end(claim)
                return None
            state["claim"] = claim
        return claim

    try:
        return await asyncio.to_thread(work)
    except asyncio.CancelledError:
        with guard:
            state["abandoned"] = True
            _end(state["claim"])
        raise


def _end(claim: tuple[Session, list[Pending]] | None) -> None:
    if claim is not None:
        with contextlib.suppress(Exception):
            claim[0].close()
