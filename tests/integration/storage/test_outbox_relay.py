"""The outbox relay sends a chunk without waiting for each acknowledgement in turn: what was
acknowledged is deleted, what was not stays for the next flush, and nothing is published
twice; on a real JetStream the stream keeps the outbox's order. Messages handed over after
their commit are sent from memory, behind whatever the table held first."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NoStreamResponseError
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from services.platform import outbox
from services.platform.acks import AckedPublisher
from services.platform.outbox import Handover, Message, OutboxRelay, collect, enqueue_many
from services.storage.db import session_scope
from services.storage.models import OutboxRow


class Note(BaseModel):
    n: int


def fill(engine: Engine, subjects: list[str]) -> list[str]:
    """One outbox row per subject, in order; returns their msg ids."""
    ids = [f"note-{n}" for n in range(len(subjects))]
    with session_scope(engine) as session:
        enqueue_many(
            session, [(s, Note(n=n), m) for n, (s, m) in enumerate(zip(subjects, ids, strict=True))]
        )
    return ids


def unpublished(engine: Engine) -> list[str]:
    with Session(engine) as session:
        query = select(OutboxRow.msg_id)  # a published row is deleted
        return sorted(session.exec(query.order_by(col(OutboxRow.id))).all())


class FlakyBroker:
    """Acknowledges every publish but those of the msg ids in ``failing`` (once each), a
    moment after it was sent (the other publishes of the chunk start meanwhile)."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.attempts: list[str] = []
        self.stored: list[str] = []

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> asyncio.Future[Any]:
        self.attempts.append(msg_id)
        acknowledged: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def answer() -> None:
            if msg_id in self.failing:
                self.failing.discard(msg_id)
                acknowledged.set_exception(TimeoutError(f"no ack for {msg_id}"))
            else:
                self.stored.append(msg_id)
                acknowledged.set_result(None)

        asyncio.get_running_loop().call_soon(answer)
        return acknowledged


async def test_a_failed_publish_mid_chunk_is_sent_again_and_nothing_twice(engine):
    ids = fill(engine, ["t.a"] * 7)
    broker = FlakyBroker({ids[2], ids[5]})
    relay = OutboxRelay(engine, broker.publish)

    with pytest.raises(TimeoutError):
        await relay.flush()
    assert unpublished(engine) == sorted([ids[2], ids[5]])  # the acknowledged ones are marked
    assert await relay.flush() == 2
    assert unpublished(engine) == []
    assert await relay.flush() == 0

    assert Counter(broker.stored) == Counter(ids)  # each once
    assert Counter(broker.attempts) == Counter([*ids, ids[2], ids[5]])


class SilentBroker(FlakyBroker):
    """Never answers the publishes of the msg ids in ``silent``."""

    def __init__(self, silent: set[str]) -> None:
        super().__init__(set())
        self.silent = silent
        self.unanswered: list[asyncio.Future[Any]] = []

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> asyncio.Future[Any]:
        if msg_id not in self.silent:
            return await super().publish(subject, payload, msg_id)
        self.attempts.append(msg_id)
        self.unanswered.append(asyncio.get_running_loop().create_future())
        return self.unanswered[-1]


async def test_an_acknowledgement_that_never_comes_times_out_and_the_rest_is_marked(
    engine, monkeypatch
):
    monkeypatch.setattr(outbox, "ACK_SECONDS", 0.2)
    ids = fill(engine, ["t.a"] * 6)
    broker = SilentBroker({ids[3]})
    relay = OutboxRelay(engine, broker.publish)

    with pytest.raises(TimeoutError, match=ids[3]):
        await asyncio.wait_for(relay.flush(), timeout=5)
    assert unpublished(engine) == [ids[3]]
    assert all(f.cancelled() for f in broker.unanswered)  # nothing left waiting for it
    broker.silent.clear()
    assert await relay.flush() == 1
    assert Counter(broker.stored) == Counter(ids)


async def test_a_broker_that_is_away_gets_one_publish_not_a_chunk(engine):
    ids = fill(engine, ["t.a"] * 5)
    broker = FlakyBroker({ids[0]})
    relay = OutboxRelay(engine, broker.publish)

    with pytest.raises(TimeoutError):
        await relay.flush()
    assert broker.attempts == [ids[0]]
    assert unpublished(engine) == sorted(ids)
    assert await relay.flush() == 5
    assert broker.stored == ids  # in order, as nothing overtakes the first of a chunk


async def test_a_real_stream_gets_the_outbox_in_order_once(engine, nats_client):
    js = nats_client.jetstream()
    await js.add_stream(StreamConfig(name="RELAYED", subjects=["relayed.>"]))
    publisher = AckedPublisher(nats_client)

    async def publish(subject: str, payload: bytes, msg_id: str) -> asyncio.Future[Any]:
        return await publisher.publish(subject, payload, {"Nats-Msg-Id": msg_id})

    # Three chunks, and one row whose subject no stream takes: it alone fails.
    subjects = ["relayed.a"] * 1200
    subjects[700] = "elsewhere.a"
    ids = fill(engine, subjects)
    relay = OutboxRelay(engine, publish, chunk=500)
    with pytest.raises(NoStreamResponseError):
        await relay.flush()
    assert unpublished(engine) == sorted([ids[700], *ids[1000:]])  # stopped after chunk 2

    await js.add_stream(StreamConfig(name="ELSEWHERE", subjects=["elsewhere.>"]))
    assert await relay.flush() == 201
    assert unpublished(engine) == []

    relayed = await js.stream_info("RELAYED")
    got = [
        (await js.get_msg("RELAYED", seq)).headers["Nats-Msg-Id"]
        for seq in range(1, relayed.state.last_seq + 1)
    ]
    assert got == [m for m, s in zip(ids, subjects, strict=True) if s == "relayed.a"]
    assert (await js.get_msg("ELSEWHERE", 1)).headers["Nats-Msg-Id"] == ids[700]


async def test_relays_of_several_processes_publish_each_row_once_in_order(engine):
    # Every process runs a relay over the one outbox; each would publish the others' rows
    # too, and mark them in its own order. Four relays at once (each its own connection,
    # as its own process would) publish every row once, in the outbox's order.
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serves one process, and so one relay")
    ids = fill(engine, ["t.a"] * 1300)
    broker = FlakyBroker(set())
    relays = [OutboxRelay(engine, broker.publish, chunk=200) for _ in range(4)]

    sent = await asyncio.gather(*(relay.flush() for relay in relays))

    assert sum(sent) == len(ids)
    assert unpublished(engine) == []
    assert broker.stored == ids


def fill_from(engine: Engine, origin: int | None, tag: str, n: int) -> list[str]:
    """``n`` outbox rows written by the process ``origin`` (None: before origins existed)."""
    ids = [f"{tag}-{i}" for i in range(n)]
    with session_scope(engine) as session:
        enqueue_many(session, [("t.a", Note(n=i), m) for i, m in enumerate(ids)], origin=origin)
    return ids


async def test_each_process_publishes_its_own_rows_and_the_dead_ones_are_swept_up(engine):
    # Two live processes (each holds its origin on a connection of its own) and rows of a
    # process that died and of none (written before origins): a relay publishes its own,
    # never a live peer's; the sweep takes the others, in order, and a peer's once it dies.
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serves one process, and so one relay")
    mine, theirs, dead = 101, 102, 103
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish, origin=mine)
    peer = OutboxRelay(engine, broker.publish, origin=theirs)
    mine_conn, theirs_conn = engine.connect(), engine.connect()
    try:
        relay.hold(mine_conn)
        peer.hold(theirs_conn)
        legacy = fill_from(engine, None, "legacy", 2)
        own = fill_from(engine, mine, "own", 3)
        peers = fill_from(engine, theirs, "peer", 3)
        orphans = fill_from(engine, dead, "dead", 2)

        assert await relay.flush() == 3
        assert broker.stored == own
        assert await relay.sweep() == 4
        assert broker.stored == [*own, *legacy, *orphans]
        assert unpublished(engine) == sorted(peers)  # the live peer's, for its own relay

        theirs_conn.invalidate()  # the peer dies before its relay published them
        assert await relay.sweep(wait=True) == 3
        assert broker.stored == [*own, *legacy, *orphans, *peers]
        assert unpublished(engine) == []
    finally:
        mine_conn.close()
        theirs_conn.close()


async def test_one_process_on_sqlite_publishes_every_row_whatever_wrote_it(engine):
    # A short command (coordinator add, a decision in the dashboard's process) writes rows
    # with its own origin; SQLite serves one process, whose relay publishes them all.
    if engine.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL, a process's relay publishes its own rows")
    rows = [*fill_from(engine, 7, "command", 2), *fill_from(engine, None, "legacy", 1)]
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish, origin=8)
    assert await relay.flush() == 3
    assert await relay.sweep() == 0
    assert broker.stored == rows


async def test_a_flush_cancelled_mid_claim_leaves_no_transaction_behind(engine, monkeypatch):
    # A stopping service cancels its relay while a claim runs in its thread. The claim's
    # transaction must still end: left open it would hold the claim lock, and the table,
    # for ever (the next claim waits on it; a DROP at the next test's reset hung).
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's claim holds no transaction open")
    ids = fill(engine, ["t.a"] * 3)
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish)
    claim = relay._claim

    def slow_claim() -> Any:
        time.sleep(0.3)
        return claim()

    monkeypatch.setattr(relay, "_claim", slow_claim)

    def stop_mid_claim() -> None:
        async def service() -> None:
            flushing = asyncio.create_task(relay.flush())
            await asyncio.sleep(0.05)
            assert not flushing.done()

        # As a service's loop closes: every task still running is cancelled, the claim's
        # thread completes after.
        asyncio.run(service())

    await asyncio.to_thread(stop_mid_claim)
    await asyncio.sleep(0.6)  # the claim has completed in its thread meanwhile

    with engine.connect() as conn:
        open_transactions = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%'"
            )
        ).scalar()
    assert open_transactions == 0
    again = OutboxRelay(engine, broker.publish)
    assert await asyncio.wait_for(again.flush(), timeout=1.5) == 3
    assert broker.stored == ids


def test_a_relay_reads_its_own_unsent_rows_from_their_index_behind_a_backlog(engine):
    # Behind a bulk load, a process's backlog grows faster than PostgreSQL's statistics
    # (autovacuum off, or not yet round): the read of a chunk of its own rows must still
    # take them in id order from an index, not read and sort the whole backlog each time.
    if engine.dialect.name != "postgresql":
        pytest.skip("on PostgreSQL, a process's relay reads its own rows by origin")
    mine = 101
    with engine.begin() as conn:
        conn.execute(text("ANALYZE outbox"))  # statistics of an empty outbox
    fill_from(engine, mine, "mine", 20_000)
    fill_from(engine, 102, "theirs", 2_000)
    relay = OutboxRelay(engine, FlakyBroker(set()).publish, origin=mine, chunk=500)
    query = relay._unsent_query(outbox.OUTBOX.c.origin == mine)
    claim = relay._claim()  # the plan in the claim's own transaction (its settings)
    assert claim is not None
    session, _ = claim
    try:
        conn = session.connection()
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))
    finally:
        session.close()
    assert "ix_outbox_origin" in plan, plan
    assert "Sort" not in plan, plan


async def test_a_flush_ends_with_its_first_short_chunk(engine, monkeypatch):
    """A chunk shorter than the relay's chunk was every row committed before its claim
    (rows committed later come with a wake-up): the flush ends there, without claiming
    again; full chunks are followed by another claim until one comes back short."""
    claims: list[int] = []
    real = OutboxRelay._claim

    def counted(self: OutboxRelay) -> Any:
        claim = real(self)
        if claim is not None:
            claims.append(len(claim[1]))
        return claim

    monkeypatch.setattr(OutboxRelay, "_claim", counted)
    fill(engine, ["t.a"] * 5)
    broker = FlakyBroker(set())
    assert await OutboxRelay(engine, broker.publish, chunk=500).flush() == 5
    assert claims == [5]

    claims.clear()
    with session_scope(engine) as session:
        enqueue_many(session, [("t.b", Note(n=n), f"more-{n}") for n in range(4)])
    assert await OutboxRelay(engine, broker.publish, chunk=2).flush() == 4
    assert claims == [2, 2, 0]
    assert unpublished(engine) == []


async def test_a_chunk_waits_for_acknowledgements_in_any_order_and_no_longer_than_its_timeout():
    """Acknowledgements usually come back in order (the relay waits for the last one), but
    one that comes back later is waited for too; one that never comes back is given up on
    at the timeout."""
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[Any]] = [loop.create_future() for _ in range(5)]
    for n, future in enumerate(futures):  # the last first, the first last
        loop.call_later(0.01 * (5 - n), future.set_result, n)
    await outbox._acknowledged(futures, 5.0)
    assert all(f.done() for f in futures)

    futures = [loop.create_future() for _ in range(3)]
    futures[2].set_result(2)
    loop.call_later(0.01, futures[1].set_result, 1)  # futures[0] never acknowledged
    started = time.monotonic()
    await outbox._acknowledged(futures, 0.3)
    assert 0.25 < time.monotonic() - started < 2
    assert [f.done() for f in futures] == [False, True, True]


def test_a_relay_deletes_only_the_rows_it_published_even_when_their_ids_came_back(engine):
    """Another relay (a second process on the SQLite file) publishes and deletes the rows
    this one read; SQLite gives the next row written the same id. This relay's delete
    after its publish must leave that new, unpublished row alone."""
    fill(engine, ["t.old"])
    relay = OutboxRelay(engine, FlakyBroker(set()).publish)
    claim = relay._claim()
    assert claim is not None
    session, rows = claim
    if engine.dialect.name == "postgresql":
        session.commit()  # the claim's lock: the other relay takes its turn
    with session_scope(engine) as other:  # the other relay's delete
        other.connection().execute(text("DELETE FROM outbox"))
    with session_scope(engine) as other:  # on SQLite, the id of the row just deleted
        enqueue_many(other, [("t.new", Note(n=1), "note-new")])
    relay._release(session, [row.msg_id for row in rows])
    with Session(engine) as check:
        assert check.exec(select(OutboxRow.subject)).all() == ["t.new"]


def commit(
    engine: Engine, subjects: list[str], start: int = 0, *, handed_over: bool = True
) -> list[Message]:
    """One outbox row per subject, committed, as ``collect`` keeps them (``handed_over``:
    collected, for ``handoff``; otherwise in the table alone)."""
    messages = [
        Message(s, Note(n=n).model_dump_json(), f"note-{n}") for n, s in enumerate(subjects, start)
    ]
    with session_scope(engine) as session:
        if handed_over:
            collect(session)
        enqueue_many(session, messages)
    return messages


def counted_claims(relay: OutboxRelay, monkeypatch: Any) -> list[int]:
    """A list that grows by one at each claim the relay makes from the table."""
    claims: list[int] = []
    claim = relay._claim

    def counted() -> Any:
        claims.append(1)
        return claim()

    monkeypatch.setattr(relay, "_claim", counted)
    return claims


async def test_messages_handed_over_are_published_from_memory_in_order_and_deleted(
    engine, monkeypatch
):
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish)
    before = commit(engine, ["t.a"] * 3)  # committed before the relay knew of them
    assert await relay.flush() == 3  # read from the table
    claims = counted_claims(relay, monkeypatch)

    handed = commit(engine, ["t.a", "t.b", "t.a", "t.c"], start=3)
    relay.handoff(handed)
    assert await relay.flush() == 4

    assert claims == []  # not read back from the table
    assert broker.stored == [m.msg_id for m in before + handed]
    assert unpublished(engine) == []


@pytest.mark.parametrize("wakes", [True, False], ids=["waking", "silent"])
async def test_a_row_committed_without_a_handoff_goes_out_before_those_handed_after_it(
    engine, wakes
):
    """A writer whose rows are in the table alone (it wakes the relay, or not yet, or
    never: a decision committed while a batch is handed over) comes between two that hand
    theirs over: the stream keeps the order of the commits."""
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish)
    assert await relay.flush() == 0
    early = commit(engine, ["t.a"] * 2)
    relay.handoff(early)
    woken = commit(engine, ["t.b"], start=2, handed_over=False)
    if wakes:
        relay.wake()
    late = commit(engine, ["t.a"], start=3)
    relay.handoff(late)

    assert await relay.flush() == 4
    assert broker.stored == [m.msg_id for m in early + woken + late]
    assert await relay.flush() == 0
    assert unpublished(engine) == []


async def test_a_handed_message_whose_publish_fails_is_claimed_from_the_table_later(engine):
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish)
    assert await relay.flush() == 0
    handed = commit(engine, ["t.a"] * 3)
    broker.failing.add(handed[1].msg_id)
    relay.handoff(handed)

    with pytest.raises(TimeoutError):
        await relay.flush()
    assert unpublished(engine) == [handed[1].msg_id]  # the acknowledged ones are deleted
    assert await relay.flush() == 1
    assert Counter(broker.stored) == Counter(m.msg_id for m in handed)  # each once
    assert unpublished(engine) == []


async def test_a_relay_behind_keeps_its_backlog_in_the_table_and_sends_each_message_once(
    engine, monkeypatch
):
    """More handed over than the relay keeps in memory: it claims them from the table; and
    a message handed over while a claim is sent is not sent again from memory."""
    monkeypatch.setattr(outbox, "HANDOFF_LIMIT", 5)
    broker = FlakyBroker(set())
    late: list[Message] = []
    armed = False

    async def publish(subject: str, payload: bytes, msg_id: str) -> asyncio.Future[Any]:
        if armed and not late:  # a unit committed while the relay sends its first chunk
            late.extend(commit(engine, ["t.b"] * 2, start=6))
            relay.handoff(late)
        return await broker.publish(subject, payload, msg_id)

    relay = OutboxRelay(engine, publish, chunk=3)
    assert await relay.flush() == 0
    batches = [commit(engine, ["t.a"] * 2, start=n) for n in range(0, 6, 2)]
    for batch in batches:
        relay.handoff(batch)
    assert relay._handed == []  # the third batch passed the limit: all in the table

    armed = True
    assert await relay.flush() == 8  # the later claims found them too
    assert await relay.flush() == 0
    expected = [m.msg_id for batch in [*batches, late] for m in batch]
    assert broker.stored == expected  # in order, each once
    assert unpublished(engine) == []


async def test_a_handover_gives_the_relay_what_its_transactions_committed(engine, monkeypatch):
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish)
    assert await relay.flush() == 0
    claims = counted_claims(relay, monkeypatch)

    handover = Handover(engine)
    for n in range(2):  # a batch retried message by message: two transactions
        with handover.session() as session:
            enqueue_many(session, [("t.a", Note(n=n), f"note-{n}")])
    handover.give(relay)
    assert await relay.flush() == 2
    assert claims == []  # from memory
    assert broker.stored == ["note-0", "note-1"]
    assert unpublished(engine) == []


async def test_a_handover_with_a_failed_transaction_sends_the_relay_to_the_table(engine):
    """What failed is not published; what another transaction wrote meanwhile (a dead
    letter, in a session of its own) is, with what the handover's committed."""
    broker = FlakyBroker(set())
    relay = OutboxRelay(engine, broker.publish)
    assert await relay.flush() == 0
    handover = Handover(engine)
    with handover.session() as session:
        enqueue_many(session, [("t.a", Note(n=0), "note-0")])
    with pytest.raises(RuntimeError), handover.session() as session:
        enqueue_many(session, [("t.a", Note(n=1), "note-1")])
        raise RuntimeError("the batch failed")
    elsewhere = commit(engine, ["t.dead"], start=2, handed_over=False)
    handover.give(relay)

    assert await relay.flush() == 2
    assert broker.stored == ["note-0", elsewhere[0].msg_id]
    assert unpublished(engine) == []
