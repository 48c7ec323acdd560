"""The outbox relay sends a chunk without waiting for each acknowledgement in turn: what was
acknowledged is marked published, what was not stays for the next flush, and nothing is
published twice; on a real JetStream the stream keeps the outbox's order."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import NoStreamResponseError
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.platform.outbox import OutboxRelay, enqueue_many
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
        query = select(OutboxRow.msg_id).where(col(OutboxRow.published_at).is_(None))
        return sorted(session.exec(query.order_by(col(OutboxRow.id))).all())


class FlakyBroker:
    """Acknowledges every publish but those of the msg ids in ``failing`` (once each)."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.attempts: list[str] = []
        self.stored: list[str] = []

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        self.attempts.append(msg_id)
        await asyncio.sleep(0)  # let the other publishes of the chunk start meanwhile
        if msg_id in self.failing:
            self.failing.discard(msg_id)
            raise TimeoutError(f"no ack for {msg_id}")
        self.stored.append(msg_id)


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

    async def publish(subject: str, payload: bytes, msg_id: str) -> None:
        await js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})

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
