"""The matcher service: the provinces this process owns, each a ``Shortlist`` in memory.

Per owned province, a durable consumer ``matcher-<province>`` delivers the changes on
``kopdes.internal.<province>.>`` as they are stored. A unit of work is applied to the
provinces' shortlists and what they announce is written, with its outbox messages, in one
transaction; then its messages are acknowledged. Nothing is kept across transactions but
the shortlists, which a failed transaction drops (the province is loaded again from the
store: the database stays the truth).

The transaction of one unit runs while the next unit is matched: matching is Python
work, writing mostly waiting for the database, and one after the other left the process
waiting for its statements a quarter to a third of the time. The two share nothing but the
shortlists' announcements, which a unit's writes carry as rows built before the next unit
is matched. When a transaction fails, the provinces of both units are loaded again and
both are applied afresh, one transaction each (and message by message if need be).

Ownership (``ownership.py``) decides which provinces; taking one over loads it whole and
recomputes it, so whatever its previous owner left half done is completed, and changes
it had not acknowledged are delivered again (a replay changes nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from matcher.shortlist import Rejection, Rule, Shortlist
from schemas import internal, suggestion_id
from schemas.internal import PairDecided
from services.matching import repository
from services.matching.ownership import LOOK_SECONDS, Ownership
from services.platform.consuming import ACK, Delivery, process_batch, settle
from services.platform.dead_letters import record_handler_failure
from services.platform.inbox import Inbox
from services.platform.observability import HANDLER_SECONDS
from services.platform.outbox import Message, collect
from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.platform.topology import INTERNAL
from services.storage.db import begin_writing

log = logging.getLogger(__name__)

# Profile changes per transaction, of one province. An offer arriving while profiles are
# applied waits for the unit under way: a whole batch's profiles (an edit rescores a
# cooperative against every offer covering its province) held it for hundreds of
# milliseconds, while a commit more per 50 profiles costs a few percent of the bulk load's
# throughput. One province per unit: a cooperative that enters an offer's best and is
# pushed out again by another of the same unit is never announced (in a bulk load, 50
# profiles of one province at a time announce a sixth fewer suggestions and retractions
# than 50 spread over the country, and the rule does a sixth less work).
BULK_UNIT = 50
# How long a stopping matcher waits for the transaction under way, to acknowledge it.
STOP_SECONDS = 10.0


class Matcher:
    def __init__(self, runtime: Runtime, today: Callable[[], date] = date.today) -> None:
        self.runtime = runtime
        self.settings = settings = runtime.settings
        self.today = today
        self.rule = Rule(
            per_province=settings.suggestions_per_province,
            per_cooperative=settings.offers_per_cooperative,
            min_score=settings.min_score,
            material_change=settings.material_score_change,
        )
        self.ownership = Ownership(
            runtime.engine,
            internal.provinces(),
            settings.matcher_province_list,
            on_connect=runtime.relay.hold,
        )
        self.shortlists: dict[str, Shortlist] = {}
        self._subscriptions: dict[str, Any] = {}
        # What the consumers delivered: offers and decisions before profiles (a partner or
        # a coordinator is waiting), otherwise in the order delivered.
        self._inbox = Inbox()
        self._reload: set[str] = set()  # provinces whose shortlist a failure left unsure
        self._writing: set[str] = set()  # provinces the open transaction changed
        # Every use of the ownership connection (transactions, locks) takes turns; so does
        # every change of the shortlists. Whoever needs both takes ``_state`` first.
        self._db = threading.Lock()
        self._state = threading.Lock()
        # The order units are matched in is the order they are written in: whatever
        # changes the shortlists besides the units (a new day, provinces taken) waits for
        # its turn and for the transaction under way.
        self._turn = asyncio.Lock()
        self._in_flight: asyncio.Future[list[Message]] | None = None
        self._lost = False
        self._announced = 0  # messages the batch's transactions wrote to the outbox
        # Unacknowledged changes per province's consumer (its max_ack_pending).
        self._ack_pending = max(20, settings.batch_size // 4)

    @property
    def js(self) -> JetStreamContext:
        stream: JetStreamContext = self.runtime.broker.config.connection_state.stream
        return stream

    # -- ownership ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.runtime.broker.connect()
        with contextlib.suppress(NotFoundError):  # the one durable of the earlier shape
            await self.js.delete_consumer(INTERNAL.name, "matcher")
        if self.ownership.shared and not self.ownership.assigned:
            # Be a member before taking anything, and give peers starting alongside one look
            # to be members too: otherwise the first to start takes every province, loads
            # them all, and gives half of them back moments later.
            await asyncio.to_thread(self._locked, self.ownership.connect)
            await asyncio.sleep(LOOK_SECONDS)
        await self.rebalance()

    async def rebalance(self) -> None:
        """Take the provinces due to this process, give up those due to others."""
        if self._lost:
            await self._drop(sorted(self.shortlists), release=False)
            self._lost = False
        gained, surplus = await asyncio.to_thread(self._locked, self.ownership.rebalance)
        if surplus:
            await self._drop(surplus, release=True)
        if gained:
            await self._sweep()
            await self._alone(self._load, gained)
            for province in gained:
                await self._subscribe(province)
            log.info("matcher owns %d provinces (took %s)", len(self.shortlists), gained)
            self.runtime.relay.wake()

    async def _sweep(self) -> None:
        """Before writing for provinces taken over: what their previous owner committed but
        did not publish goes out first (its origin died with its province locks), so
        subscribers see its announcements before this process's."""
        try:
            await self.runtime.relay.sweep(wait=True)
        except Exception:  # the broker is away: the relays' timers sweep them up later
            log.exception("matcher could not publish a previous owner's messages first")

    async def _drop(self, provinces: list[str], *, release: bool) -> None:
        for province in provinces:
            subscription = self._subscriptions.pop(province, None)
            if subscription is not None:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
            self.shortlists.pop(province, None)
            self._reload.discard(province)
        if release:  # to another process: worth a line in the log
            await asyncio.to_thread(self._locked, self.ownership.release, provinces)
            log.info("matcher gave up provinces %s", provinces)

    def _locked(self, work: Callable[..., Any], *args: Any) -> Any:
        with self._db:
            try:
                return work(*args)
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    self._connection_lost()
                raise

    def _connection_lost(self) -> None:
        log.error("matcher lost its database connection, and with it its provinces")
        self.ownership.lost()
        self._lost = True

    async def _alone(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work`` in its turn, once the transaction under way has ended."""
        async with self._turn:
            if self._in_flight is not None:
                await asyncio.wait([self._in_flight])
            return await asyncio.to_thread(self._exclusive, work, *args)

    def _exclusive(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work`` on the ownership connection, with the shortlists to itself."""
        with self._state:
            return self._locked(work, *args)

    def load(self, provinces: list[str]) -> None:
        """Own these provinces in-process, without consuming (benchmarks, tools)."""
        self.ownership.owned.update(provinces)
        self._exclusive(self._load, provinces)

    def _load(self, provinces: list[str]) -> None:
        shortlists = [Shortlist(p, self.rule, self.today()) for p in provinces]
        with self._transaction() as session:
            begin_writing(session)
            repository.load(session, shortlists)
            self._settle(session, shortlists)
        self.shortlists.update((s.province, s) for s in shortlists)

    async def _subscribe(self, province: str) -> None:
        config = ConsumerConfig(
            durable_name=f"matcher-{province}",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.ack_wait_seconds,
            max_deliver=self.settings.max_deliver_outage,
            # Few in flight per province: what waits in this process's inbox must be
            # processed within the ack wait, or the server delivers it again (38 provinces
            # x this many is at most a few seconds of work).
            max_ack_pending=self._ack_pending,
            filter_subject=internal.province_filter(province),
        )
        self._subscriptions[province] = await self.js.subscribe(
            internal.province_filter(province),
            stream=INTERNAL.name,
            durable=f"matcher-{province}",
            cb=self._deliver,
            manual_ack=True,
            config=config,
            pending_msgs_limit=-1,
        )

    # -- consuming ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Take what the consumers delivered, in batches; match each unit of work while the
        previous one's transaction runs."""
        writing: _Writing | None = None
        try:
            while True:
                if writing is not None and not self._inbox.waiting:
                    await self._finish(writing)  # acknowledge before waiting for more
                    writing = None
                # Everything delivered (at most ``_ack_pending`` per province), so that
                # each province's profiles make units of their own (``units_of_work``).
                limit = max(1, len(self._subscriptions)) * self._ack_pending
                msgs = await self._inbox.take(limit)
                for unit in in_turn(units_of_work(msgs), self._inbox):
                    work = await self._owned(unit)
                    if not work:
                        continue
                    async with self._turn:
                        matched = await asyncio.to_thread(self._match, work)
                        if writing is not None:
                            if not await self._finish(writing) and matched is not None:
                                # Matched on top of changes that were not written.
                                self._reload |= matched.provinces
                                matched = None
                            writing = None
                        if matched is None:
                            await self._apply_alone(work)
                        else:
                            writing = self._write(work, matched)
        finally:
            if writing is not None:  # stopping: acknowledge what was written (bounded)
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(self._finish(writing), STOP_SECONDS)
            await self._drop(sorted(self.shortlists), release=False)
            await asyncio.to_thread(self._locked, self.ownership.close)

    async def _owned(self, unit: list[Msg]) -> list[Msg]:
        """The unit's messages of provinces this process owns; those of provinces given
        up meanwhile go back, for their next owner."""
        work: list[Msg] = []
        for msg in unit:
            if self._owns(msg):
                work.append(msg)
            else:
                with contextlib.suppress(Exception):
                    await msg.nak()
        return work

    def _match(self, msgs: list[Msg]) -> _Matched | None:
        """Apply a unit to the shortlists, reading the changed rows on a connection of its
        own: the statements to write it, or None when it failed (its provinces are then
        loaded again, and the unit applied alone, where a failure is dealt with)."""
        started = time.perf_counter()
        provinces: set[str] = set()
        deliveries = [Delivery.of(m) for m in msgs]
        with self._state:
            try:
                with Session(self.runtime.engine) as reading:
                    writes = self._compute(reading, deliveries, provinces)
            except Exception:
                log.debug("matching a unit failed; it is applied alone", exc_info=True)
                self._reload |= provinces
                return None
        return _Matched(writes, provinces, deliveries[0].consumer, started)

    def _write(self, msgs: list[Msg], matched: _Matched) -> _Writing:
        """Start the unit's transaction; its announcements go out as soon as it commits,
        handed to the relay as written."""
        task = asyncio.ensure_future(asyncio.to_thread(self._locked, self._execute, matched))

        def written(done: asyncio.Future[list[Message]]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.runtime.relay.handoff(done.result())

        task.add_done_callback(written)
        self._in_flight = task
        return _Writing(msgs, task)

    def _execute(self, matched: _Matched) -> list[Message]:
        with self._transaction() as session:
            self._writing = set(matched.provinces)
            begin_writing(session)
            announced = collect(session)
            repository.execute(session, matched.writes)
        # Matched and written, as ``process_batch`` measures a batch applied.
        HANDLER_SECONDS.labels(consumer=matched.consumer).observe(
            time.perf_counter() - matched.started
        )
        return announced

    async def _finish(self, writing: _Writing) -> bool:
        """Wait for a unit's transaction and acknowledge its messages; if it failed, apply
        the unit alone. True if it was written as matched."""
        try:
            await writing.task
        except Exception:
            log.debug("writing a unit failed; it is applied alone", exc_info=True)
            await self._apply_alone(writing.msgs)
            return False
        await settle(writing.msgs, [ACK] * len(writing.msgs))
        return True

    async def _apply_alone(self, msgs: list[Msg]) -> None:
        """Match and write a unit in one transaction (message by message if it fails)."""
        self._announced = 0
        outcomes = await asyncio.to_thread(self._exclusive, self._process, msgs)
        await settle(msgs, outcomes)
        if self._announced:
            # Most profile updates announce nothing: a claim of no rows would cost two
            # statements and a thread hop each.
            self.runtime.relay.wake()

    async def _deliver(self, msg: Msg) -> None:
        self._inbox.put(msg, urgent=not _bulk(msg))

    def _owns(self, msg: Msg) -> bool:
        return internal.province_of_subject(msg.subject) in self.shortlists

    async def run_ownership(self) -> None:
        while True:
            await asyncio.sleep(LOOK_SECONDS)
            try:
                await self.rebalance()
            except Exception:
                log.exception("matcher could not look for provinces to own; will retry")

    async def run_expiry(self) -> None:
        while True:
            await asyncio.sleep(self.settings.expiry_check_seconds)
            try:
                await self._alone(self._new_day)
                self.runtime.relay.wake()
            except Exception:
                log.exception("expiry sweep failed; will retry")

    def _new_day(self) -> None:
        with self._transaction() as session:
            begin_writing(session)
            self._settle(session, list(self.shortlists.values()))

    def _process(self, msgs: list[Msg]) -> list[Any]:
        return self.process([Delivery.of(m) for m in msgs])

    def process(self, deliveries: list[Delivery]) -> list[Any]:
        """Apply a batch of changes in one transaction: per message ACK (None) or Retry."""
        return process_batch(
            self.runtime.engine,
            deliveries,
            lambda session, delivery: self._apply(session, [delivery]),
            lambda session, delivery, exc: record_handler_failure(
                session, delivery, exc, "matching"
            ),
            max_deliver=self.settings.max_deliver,
            base_delay=self.settings.retry_delay_seconds,
            open_session=self._transaction,
            apply_batch=self._apply,
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A transaction on the ownership connection; on failure the provinces it changed
        are loaded again before their next use."""
        session = Session(bind=self.ownership.connect(), expire_on_commit=False)
        self._writing = set()
        try:
            yield session
            session.commit()
        except BaseException:
            self._reload |= self._writing
            with contextlib.suppress(Exception):
                session.rollback()
            raise
        finally:
            session.close()

    def _apply(self, session: Session, deliveries: list[Delivery]) -> None:
        writes = self._compute(session, deliveries, self._writing)
        self._announced += repository.execute(session, writes)

    def _compute(
        self, session: Session, deliveries: list[Delivery], touched: set[str]
    ) -> repository.Writes:
        """Apply the changes to the shortlists (reading their rows through ``session``),
        adding each province changed to ``touched`` as it goes: what to write."""
        by_province: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_province.setdefault(internal.province_of_subject(delivery.subject), []).append(
                delivery
            )
        reload = sorted(self._reload & by_province.keys())
        if reload:
            touched.update(reload)
            fresh = [Shortlist(p, self.rule, self.today()) for p in reload]
            repository.load(session, fresh)
            self.shortlists.update((s.province, s) for s in fresh)
            self._reload.difference_update(reload)
        parsed = [
            (
                internal.province_of_subject(d.subject),
                d.subject.rsplit(".", 2)[-2],  # cooperative, offer or decision
                json.loads(d.data),
            )
            for d in deliveries
        ]
        cooperatives = repository.cooperatives(
            session, (c["cooperative_id"] for _, kind, c in parsed if kind == "cooperative")
        )
        offers = repository.offers(
            session, ((c["partner_id"], c["offer_id"]) for _, kind, c in parsed if kind == "offer")
        )
        changed: dict[str, Shortlist] = {}
        rejections: list[tuple[str, Rejection]] = []
        for province, kind, change in parsed:
            shortlist = changed[province] = self.shortlists[province]
            touched.add(province)
            if kind == "cooperative":
                cid = change["cooperative_id"]
                if cid in cooperatives:
                    shortlist.upsert_cooperative(cooperatives[cid])
                else:
                    shortlist.remove_cooperative(cid)
            elif kind == "offer":
                key = f"{change['partner_id']}/{change['offer_id']}"
                if key in offers:
                    shortlist.upsert_offer(offers[key])
                else:
                    shortlist.remove_offer(key)
            elif kind == "decision":
                rejection = self._decide(shortlist, PairDecided.model_validate(change))
                if rejection is not None:
                    rejections.append(rejection)
            else:
                raise ValueError(f"unexpected change on {province}: {kind!r}")
        return self._prepare(list(changed.values()), touched, rejections)

    def _decide(self, shortlist: Shortlist, decided: PairDecided) -> tuple[str, Rejection] | None:
        key = f"{decided.partner_id}/{decided.offer_id}"
        shortlist.set_approvals(key, decided.approved)
        if decided.province_code != shortlist.province:
            return None  # only the offer's approvals concern this province
        cid = decided.cooperative_id
        if decided.decision == "approved":
            shortlist.approved(key, cid)
        elif decided.decision == "rejected":
            rejection = shortlist.rejected(key, cid, decided.score)
            if rejection is not None:
                return decided.suggestion_id, rejection
        else:
            shortlist.reopened(key, cid, decided.score, decided.rank)
        return None

    def _settle(self, session: Session, shortlists: list[Shortlist]) -> None:
        """Settle whole provinces (loaded afresh, or a new day) and write what they announce."""
        self._announced += repository.execute(session, self._prepare(shortlists, self._writing, []))

    def _prepare(
        self,
        shortlists: list[Shortlist],
        touched: set[str],
        rejections: list[tuple[str, Rejection]],
    ) -> repository.Writes:
        today = self.today()
        changes = repository.Changes([], rejections, [])
        for shortlist in shortlists:
            touched.add(shortlist.province)
            shortlist.set_date(today)
            changes.events.extend((shortlist, event) for event in shortlist.settle())
            changes.lapsed.extend(
                suggestion_id(*repository.split_key(key), cid)
                for key, cid in shortlist.lapsed_rejections()
            )
        return repository.prepare(changes, today)


@dataclass(frozen=True, slots=True)
class _Matched:
    """A unit applied to the shortlists: what to write, and the provinces it changed."""

    writes: repository.Writes
    provinces: set[str]
    consumer: str  # of the unit's first message, for the handler's metrics
    started: float  # when matching began (perf_counter)


@dataclass(frozen=True, slots=True)
class _Writing:
    """A unit whose transaction is under way."""

    msgs: list[Msg]
    task: asyncio.Future[list[Message]]


def units_of_work(msgs: list[Msg]) -> list[list[Msg]]:
    """The batch as units of work (transactions). A partner or a coordinator waits for
    an offer's or a decision's province: each such province is a unit of its own, first,
    so that its suggestions are published while the next is matched. Profiles come in
    bulk: each province's in units of ``BULK_UNIT``, between which an offer or a decision
    that arrived meanwhile is taken first."""
    by_province: dict[str, list[Msg]] = {}
    for msg in msgs:
        by_province.setdefault(internal.province_of_subject(msg.subject), []).append(msg)
    urgent = [work for work in by_province.values() if not all(map(_bulk, work))]
    bulk = [work for work in by_province.values() if all(map(_bulk, work))]
    return [
        *urgent,
        *(work[i : i + BULK_UNIT] for work in bulk for i in range(0, len(work), BULK_UNIT)),
    ]


def in_turn(units: list[list[Msg]], inbox: Inbox) -> Iterator[list[Msg]]:
    """The units one at a time; when an offer or a decision reached the inbox while a unit
    was applied, it goes first: the units not yet applied go back to the inbox, behind it.
    Profiles, and the other provinces of an offer published before: a partner waiting for
    a first suggestion does not wait for each province of a national offer (38 units).
    Changes of profiles and offers are read from the store when applied, so their order
    does not matter; a decision's does (a rejection, then its reopening), so units that
    hold one are never sent back."""
    for n, unit in enumerate(units):
        rest = [m for later in units[n:] for m in later] if n and inbox.urgent_waiting else []
        if rest and not any(map(_decision, rest)):
            for msg in rest:
                inbox.put(msg, urgent=not _bulk(msg))
            return
        yield unit


def _decision(msg: Msg) -> bool:
    return msg.subject.endswith(".decision.changed")


def _bulk(msg: Msg) -> bool:
    """A profile change (they come in bulk), not an offer or a decision."""
    return msg.subject.endswith(".cooperative.changed")


def matcher_service(runtime: Runtime) -> ServiceParts:
    matcher = Matcher(runtime)
    return ServiceParts(
        "matcher",
        on_start=[matcher.start],
        background=[matcher.run, matcher.run_ownership, matcher.run_expiry],
        handle=matcher,
    )
