"""Matcher service: scores changed cooperatives and offers and keeps suggestions current.

Consumes ``kopdes.internal.>`` (durable ``matcher``) and publishes ``kopdes.match.suggested``
and ``kopdes.match.retracted`` through the outbox. Holds the candidate index in memory,
loaded from the database at start and updated from the stored row on every change.

Several replicas may share the durable consumer; each then gets only some of the changes.
So that every replica's index stays whole, each also follows the whole stream with its own
ordered consumer (``IndexFollower``) that only refreshes index entries from the stored rows.
Reconciling takes turns across replicas (one lock, see ``Matchmaker.begin``), and a replica
brings its index up to the stream's end after taking it: whatever another replica
reconciled before is then in its index, so the result is the one a single process gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import event
from sqlmodel import Session, col, select

from matcher import MatchIndex
from matcher.eligibility import is_expired
from schemas import RetractReason, subjects
from services.consuming import (
    Delivery,
    Retry,
    Transient,
    defer_decoding,
    process_batch,
    settle,
)
from services.convert import cooperative_from_row, offer_from_row
from services.ingest_store import CooperativeChanged, OfferChanged, record_handler_failure
from services.ledger import SuggestionLedger
from services.runtime import Runtime
from services.service import ServiceParts
from services.storage.db import begin_writing
from services.storage.models import CooperativeRow, OfferRow, StaleOfferRow
from services.suggestions import Reconciler, pending_offer_keys
from services.topology import INTERNAL, consumer_config, jstream

log = logging.getLogger(__name__)

BatchMessage = Annotated[NatsBatchMessage, Context("message")]

# How long a replica waits for its follower to reach the stream's end before it gives the
# batch back (to be retried) rather than reconcile with an index that misses changes.
CATCH_UP_SECONDS = 20.0
# How long a replica holding the turn waits for the stream's end. Short: on SQLite the turn
# is the write lock, and a writer blocking the event loop on it (a test's or the demo's own
# write) would hold up the answer; giving the turn back and retrying breaks that tie.
STREAM_END_SECONDS = 5.0
# How often an idle replica applies the changes its follower queued.
FOLLOWER_IDLE_SECONDS = 1.0
# How often a replica looks for stale offers to recompute when it knows of none.
RELEASE_IDLE_SECONDS = 1.0
# After a batch that found a backlog waiting, the next batch is due at once: stale offers
# are recomputed only when none came for this long (or a batch found no backlog).
HOLD_GRACE_SECONDS = 1.0
# Touches per offer above which recomputing it once beats placing it at every touch:
# a recomputation costs about as much as eight placements (bench_stages, national set).
HOLD_TOUCHES = 8
# Offer changes reconciled early whose delivery went to another replica are never
# discarded: past this many, forget them all (their deliveries then reconcile again).
EARLY_LIMIT = 10_000


class IndexFollower:
    """Every change on ``kopdes.internal.>``, from this replica's own ordered consumer.

    The NATS callback only queues the change; it is applied to the index under the
    matchmaker's lock (before each batch, and now and then when idle), from the stored row.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._queue: list[tuple[str, bytes]] = []
        self._seen = 0  # stream sequence of the last change queued
        self._subscription: Any = None
        # Offer changes seen, by stream sequence: the matcher reconciles them before its
        # durable consumer delivers them (see Matchmaker.run_offers).
        self._offers: list[tuple[int, bytes]] = []
        self.offers_seen = asyncio.Event()

    async def start(self, js: JetStreamContext, after: int) -> None:
        """Follow every change stored after stream sequence ``after``."""
        self._seen = after
        self._subscription = await js.subscribe(
            "kopdes.internal.>",
            stream=INTERNAL.name,
            cb=self._received,
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after + 1
            ),
        )

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _received(self, msg: Msg) -> None:
        with self._changed:
            self._queue.append((msg.subject, msg.data))
            self._seen = max(self._seen, msg.metadata.sequence.stream)
            if msg.subject == subjects.OFFER_CHANGED:
                self._offers.append((msg.metadata.sequence.stream, msg.data))
                self.offers_seen.set()
            self._changed.notify_all()

    def wait_for(self, sequence: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._seen >= sequence, timeout)

    def take(self) -> list[tuple[str, bytes]]:
        with self._changed:
            queued, self._queue = self._queue, []
            return queued

    def take_offers(self) -> list[tuple[int, bytes]]:
        """The offer changes seen since last asked: (stream sequence, change)."""
        with self._changed:
            seen, self._offers = self._offers, []
            return seen


class Matchmaker:
    def __init__(self, runtime: Runtime, today: Callable[[], date] = date.today) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.today = today
        self.index = MatchIndex()
        # The index is not thread-safe; batches and the expiry sweep take turns.
        self._lock = threading.Lock()
        self.follower = IndexFollower()
        self._loop: asyncio.AbstractEventLoop | None = None
        # The suggestion rows, kept across batches; its transactions are the matcher's.
        self.ledger = SuggestionLedger(runtime.engine, self.settings)
        self._batch: list[tuple[str, bytes]] = []  # the changes being reconciled
        # Behind a backlog: the batch being reconciled holds placements back (see
        # Reconciler.hold), and recomputing stale offers waits until this monotonic time.
        self.holding = False
        self.behind_until = 0.0
        self.hold_grace_seconds = HOLD_GRACE_SECONDS
        # Offers a cooperative change concerns, on average (see _behind): dozens while a
        # bulk load fills empty sets, a few in the steady state.
        self.touches = 1.0
        # Seconds a profile change takes to reconcile, on average, when not behind: sizes
        # the transactions a batch is split into (see consume).
        self.seconds_per_change = 0.001
        # Stream sequences of offer changes reconciled before their delivery (run_offers),
        # and the highest sequence a batch has brought (those are reconciled with it).
        self._early: set[int] = set()
        self._delivered_through = 0

    @property
    def js(self) -> JetStreamContext:
        return self.runtime.broker.config.connection_state.stream

    async def start(self) -> None:
        """Follow the changes from the stream's end, then load: no change falls between, as
        a change is stored before it is published."""
        self._loop = asyncio.get_running_loop()
        await self.runtime.broker.connect()  # before the pipeline starts consuming
        last = (await self.js.stream_info(INTERNAL.name)).state.last_seq
        await self.follower.start(self.js, last)
        await asyncio.to_thread(self.load)

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

    def begin(self, session: Session) -> None:
        """Open a reconciling transaction: take the replicas' turn, then catch the index up.

        The turn (SQLite's write lock, a PostgreSQL advisory lock) makes reconciliations of
        all replicas run one after another. Every change another replica reconciled before
        was on the stream by then, so once the follower has reached the stream's end, this
        index holds it (read from the rows within this transaction, so never older).
        """
        begin_writing(session, lock="matcher")
        if session is self.ledger.session:
            self.ledger.sync(session)
        # The batch's own changes: their rows are read once, in one query, here.
        changes = list(self._batch)
        if self._loop is not None:  # started: follow what other replicas announced too
            try:
                info = asyncio.run_coroutine_threadsafe(
                    self.js.stream_info(INTERNAL.name), self._loop
                ).result(STREAM_END_SECONDS)
            except Exception as exc:  # NATS away or slow: the change is not at fault
                raise Transient(f"stream end of {INTERNAL.name} unknown: {exc!r}") from exc
            if not self.follower.wait_for(info.state.last_seq, CATCH_UP_SECONDS):
                raise Transient(f"index follower behind stream sequence {info.state.last_seq}")
            changes = self.follower.take() + changes
        self.refresh(session, changes)

    def refresh(self, session: Session, changes: list[tuple[str, bytes]]) -> None:
        """Bring the index entries of these changes up to their stored rows (idempotent).

        The rows read are kept for the transaction (``session.info["fresh"]``): a batch's
        own changes are among them, and their index entries need no second update.
        """
        fresh: dict[object, object] = session.info.setdefault("fresh", {})
        cooperative_ids: set[str] = set()
        offer_keys: set[tuple[str, str]] = set()
        for subject, data in changes:
            try:
                change = json.loads(data)
                if subject == subjects.COOPERATIVE_CHANGED:
                    cooperative_ids.add(change["cooperative_id"])
                elif subject == subjects.OFFER_CHANGED:
                    offer_keys.add((change["partner_id"], change["offer_id"]))
            except (ValueError, KeyError, TypeError):
                log.warning("index follower skipped an unreadable change on %s", subject)
        ids = sorted(cooperative_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(CooperativeRow).where(col(CooperativeRow.cooperative_id).in_(chunk))
            for row in session.exec(query):
                self.index.upsert_cooperative(cooperative_from_row(row))
                fresh[row.cooperative_id] = row
        for partner_id, offer_id in sorted(offer_keys):
            offer_row = session.get(OfferRow, (partner_id, offer_id))
            if offer_row is None:
                continue
            fresh[(partner_id, offer_id)] = offer_row
            offer = offer_from_row(offer_row)
            if offer.withdrawn:
                self.index.remove_offer(offer.key)
            else:
                self.index.upsert_offer(offer)

    def catch_up(self) -> None:
        """Apply what the follower queued while this replica had no batch to reconcile."""
        with self._lock:
            changes = self.follower.take()
            if changes:
                with Session(self.runtime.engine) as session:
                    self.refresh(session, changes)

    def reconciler(self, session: Session) -> Reconciler:
        """One per transaction, so that its per-offer books are shared across a batch."""
        if "reconciler" not in session.info:
            books = self.ledger if session is self.ledger.session else None
            reconciler = Reconciler(
                session, self.settings, self.index, self.today(), books, hold=self.holding
            )
            # One listener per session, not per transaction: the ledger's session lives
            # across transactions, and listeners are not removed once they have fired.
            if not event.contains(session, "before_commit", _finish_reconciler):
                event.listen(session, "before_commit", _finish_reconciler)
            session.info["reconciler"] = reconciler
        return session.info["reconciler"]

    def apply(self, session: Session, delivery: Delivery) -> None:
        change = json.loads(delivery.data)
        if delivery.subject == subjects.COOPERATIVE_CHANGED:
            self.cooperative_changed(session, change["cooperative_id"])
        elif delivery.subject == subjects.OFFER_CHANGED:
            sequence = _sequence(delivery)
            if sequence in self._early:
                self._early.discard(sequence)  # reconciled when first seen, as it is now
                return
            self.offer_changed(session, change["partner_id"], change["offer_id"])
        else:
            raise ValueError(f"unexpected subject {delivery.subject!r}")

    def cooperative_changed(self, session: Session, cooperative_id: str) -> None:
        if cooperative_id not in session.info.get("fresh", {}):  # else refresh just did
            row = session.get(CooperativeRow, cooperative_id)
            if row is None:
                return
            self.index.upsert_cooperative(cooperative_from_row(row))
        touched = self.reconciler(session).cooperative(cooperative_id)
        if not self.holding:  # a moving average over the last few hundred changes
            self.touches += (touched - self.touches) / 256

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
        record_handler_failure(session, delivery, exc, "matching")

    def process(self, deliveries: list[Delivery], waiting: int | None = None) -> list[Any]:
        """Reconcile a batch in one transaction. ``waiting``: changes still on the stream
        after it (default: as the last delivery says)."""
        if waiting is None:
            waiting = deliveries[-1].num_pending
        with self._lock:
            self._batch = [(d.subject, d.data) for d in deliveries]
            self.holding = self._behind(waiting)
            self.behind_until = time.monotonic() + self.hold_grace_seconds if self.holding else 0.0
            try:
                return process_batch(
                    self.runtime.engine,
                    deliveries,
                    self.apply,
                    self.give_up,
                    max_deliver=self.settings.max_deliver,
                    base_delay=self.settings.retry_delay_seconds,
                    begin=self.begin,
                    open_session=self.ledger.transaction,
                )
            finally:
                self._batch = []
                self.holding = False

    def _behind(self, waiting: int) -> bool:
        """Holding back pays when the waiting changes would touch each offer several
        times (HOLD_TOUCHES): each is then recomputed once instead of re-placed per touch.
        A bulk load filling empty sets touches dozens of offers per change; a short
        backlog in the steady state touches few, mostly different ones."""
        if waiting <= self.settings.hold_backlog:
            return False
        return waiting * self.touches > HOLD_TOUCHES * max(1, self.index.offer_count)

    def reconcile_early(self, seen: list[tuple[int, bytes]]) -> int:
        """Reconcile offer changes the follower saw before the durable delivers them (it
        may be busy behind profile changes); returns how many offers."""
        keys: dict[tuple[str, str], list[int]] = {}
        for sequence, data in seen:
            if sequence <= self._delivered_through:
                continue  # a batch brought it: reconciled there
            try:
                change = json.loads(data)
                keys.setdefault((change["partner_id"], change["offer_id"]), []).append(sequence)
            except (ValueError, KeyError, TypeError):
                continue  # its delivery dead-letters it
        if not keys:
            return 0
        with self._lock, self.ledger.transaction() as session:
            self.begin(session)
            for partner_id, offer_id in sorted(keys):
                self.offer_changed(session, partner_id, offer_id)
        if len(self._early) > EARLY_LIMIT:  # delivered to another replica: never discarded
            self._early.clear()
        self._early.update(sequence for sequences in keys.values() for sequence in sequences)
        return len(keys)

    def release(self) -> int:
        """One turn recomputing offers held back while behind; returns how many."""
        if time.monotonic() < self.behind_until or self.ledger.known_fresh:
            return 0
        with Session(self.runtime.engine) as session:  # a read, not the turn: SQLite's
            if session.exec(select(StaleOfferRow.offer_id).limit(1)).first() is None:
                return 0  # write lock is ingest's too
        with self._lock, self.ledger.transaction() as session:
            self.begin(session)
            deadline = time.monotonic() + self.settings.matcher_turn_seconds
            return self.reconciler(session).release(deadline)

    def expire(self) -> int:
        """Retract the pending suggestions of offers whose validity date has passed."""
        today = self.today()
        expired = 0
        with self._lock, self.ledger.transaction() as session:
            self.begin(session)
            reconciler = self.reconciler(session)
            for partner_id, offer_id in pending_offer_keys(session):
                offer = self.index.offer(f"{partner_id}/{offer_id}")
                if offer is not None and is_expired(offer, today):
                    reconciler.offer(partner_id, offer_id, RetractReason.OFFER_EXPIRED)
                    expired += 1
        return expired

    async def consume(self, message: NatsBatchMessage) -> None:
        msgs = message.raw_message
        deliveries = [Delivery.of(m) for m in msgs]
        waiting = deliveries[-1].num_pending
        # Offers first, in their own transaction, published at once: a partner waits for
        # its offer's suggestions, while profile updates in the background can wait a
        # batch. Each change is reconciled against the whole index either way.
        offers = [i for i, d in enumerate(deliveries) if d.subject == subjects.OFFER_CHANGED]
        others = [i for i, d in enumerate(deliveries) if d.subject != subjects.OFFER_CHANGED]
        outcomes: list[Any] = [None] * len(deliveries)
        self._delivered_through = max(
            self._delivered_through, *(_sequence(d) or 0 for d in deliveries)
        )
        part = offers
        while part or others:
            if not part:  # the next transaction of profile changes
                await self._offers_first()
                size = self._turn_size(waiting + len(others))
                part, others = others[:size], others[size:]
            left = waiting + len(others)
            started = time.perf_counter()
            done = await asyncio.to_thread(self.process, [deliveries[i] for i in part], left)
            if part is not offers and left <= self.settings.hold_backlog:
                spent = (time.perf_counter() - started) / len(part)
                self.seconds_per_change += (spent - self.seconds_per_change) / 8
            for i, outcome in zip(part, done, strict=True):
                outcomes[i] = outcome
            self.runtime.relay.wake()
            away = [o for o in done if isinstance(o, Retry) and o.transient]
            if away and others:
                # The database or the stream is away: the rest waits too, not tried now
                # (each try may wait seconds for it). A failing message is not that.
                for i in others:
                    outcomes[i] = away[0]
                others = []
            part = []
        await settle(msgs, outcomes)

    async def _offers_first(self) -> None:
        """The offer changes the follower saw and no batch took: reconciled now (between
        two transactions of a batch's profile changes, or as soon as seen)."""
        seen = self.follower.take_offers()
        if not seen:
            return
        try:
            if await asyncio.to_thread(self.reconcile_early, seen):
                self.runtime.relay.wake()
        except Exception as exc:  # the offer's delivery reconciles it then
            log.warning("could not reconcile %d offer changes early: %r", len(seen), exc)

    def _turn_size(self, waiting: int) -> int:
        """Profile changes in one transaction: about ``matcher_turn_seconds`` of work, so that
        other writers (on SQLite, ingest with a new offer) wait no longer for the turn.
        Behind a backlog (a bulk load), the whole batch: a transaction places each offer's
        candidates once, where short ones would write and announce every passing best."""
        if waiting > self.settings.hold_backlog:
            return waiting
        per_change = max(self.seconds_per_change, 1e-6)
        return max(1, int(self.settings.matcher_turn_seconds / per_change))

    async def run_expiry(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(self.expire):
                    self.runtime.relay.wake()
            except Exception:
                log.exception("expiry sweep failed; will retry")
            await asyncio.sleep(self.settings.expiry_check_seconds)

    async def run_release(self) -> None:
        while True:
            released = 0
            try:
                released = await asyncio.to_thread(self.release)
            except Exception:
                log.exception("recomputing stale offers failed; will retry")
            if released:
                self.runtime.relay.wake()
            # Back to back while there are more, so that suggestions follow a bulk load soon;
            # batches still get their turns in between (the lock).
            await asyncio.sleep(0 if released else RELEASE_IDLE_SECONDS)

    async def run_offers(self) -> None:
        """Offer changes as soon as the follower sees them: a partner waits for its offer's
        suggestions, and the durable's pull would add up to its pull wait, or the rest of a
        batch of profile changes."""
        while True:
            await self.follower.offers_seen.wait()
            self.follower.offers_seen.clear()
            await self._offers_first()

    async def run_follower(self) -> None:
        try:
            while True:
                await asyncio.sleep(FOLLOWER_IDLE_SECONDS)
                try:
                    await asyncio.to_thread(self.catch_up)
                except Exception:
                    log.exception("index catch-up failed; will retry")
        finally:
            await self.follower.stop()


def _finish_reconciler(session: Session) -> None:
    """Before a commit: the transaction's reconciler places its candidates and records
    what it wrote."""
    reconciler = session.info.pop("reconciler", None)
    if reconciler is not None:
        reconciler.finish()


def _sequence(delivery: Delivery) -> int | None:
    """The change's sequence on KOPDES_INTERNAL, as its follower saw it."""
    stream, _, sequence = delivery.source.rpartition(":")
    return int(sequence) if stream == INTERNAL.name and sequence.isdigit() else None


def matcher_router(matchmaker: Matchmaker) -> NatsRouter:
    settings = matchmaker.settings
    router = NatsRouter()

    @router.subscriber(
        "kopdes.internal.>",
        stream=jstream(INTERNAL),
        durable="matcher",
        config=consumer_config("matcher", settings),
        pull_sub=PullSub(
            settings.batch_size, timeout=settings.urgent_pull_timeout_seconds, batch=True
        ),
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

    return ServiceParts(
        "matcher",
        routers=[matcher_router(matchmaker)],
        on_start=[matchmaker.start],
        background=[
            matchmaker.run_expiry,
            matchmaker.run_follower,
            matchmaker.run_release,
            matchmaker.run_offers,
        ],
        handle=matchmaker,
    )
