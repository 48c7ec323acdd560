"""Ingest applies a batch with a few set-based statements: the result is the one of applying
its messages one at a time (newest ``updated_at`` wins, replays and older versions change
and announce nothing, withdrawals keep their rules), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from schemas import internal, subjects
from services.ingest.service import Ingest
from services.platform.consuming import ACK, Delivery
from services.platform.settings import Settings
from services.storage.models import CooperativeRow, DeadLetterRow, OfferRow, OutboxRow
from services.storage.types import utcnow
from tests.support import builders

COOPS = subjects.COOPERATIVE_UPSERTED
OFFERS = subjects.offer_upserted("bri")
WITHDRAWALS = subjects.offer_withdrawn("bri")


class FakeRuntime:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings


def ingest_for(engine: Engine, database_url: str) -> Ingest:
    # A Runtime's engine and settings are all Ingest uses of it.
    return Ingest(FakeRuntime(engine, Settings(database_url=database_url)))  # type: ignore[arg-type]


class Messages:
    """Deliveries with stream positions that go on counting across batches."""

    def __init__(self) -> None:
        self.sequence = 0

    def __call__(self, *messages: tuple[str, dict[str, Any] | bytes]) -> list[Delivery]:
        deliveries = []
        for subject, body in messages:
            self.sequence += 1
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            deliveries.append(Delivery(subject, data, None, 1, f"S:{self.sequence}", utcnow()))
        return deliveries


def apply_as_replicas(
    ingest: Ingest, messages: Sequence[tuple[str, dict[str, Any] | bytes]], *, batch: int
) -> None:
    """Four 'replicas' (threads with their own connections) apply ``messages`` at once,
    each shuffled its own way and cut into batches of ``batch``, each batch retried (as
    a redelivery would be) until it is acknowledged."""
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def replica(seed: int) -> None:
        mine = list(messages)
        random.Random(seed).shuffle(mine)
        numbered = Messages()
        numbered.sequence = (seed + 1) * 1000
        batches = [numbered(*mine[i : i + batch]) for i in range(0, len(mine), batch)]
        start.wait()
        for deliveries in batches:
            for attempt in range(1, 50):
                retried = [
                    Delivery(d.subject, d.data, d.msg_id, attempt, d.source, d.received_at)
                    for d in deliveries
                ]
                if ingest.process(retried) == [ACK] * len(deliveries):
                    break
            else:
                errors.append(AssertionError(f"replica {seed} never applied a batch"))

    threads = [threading.Thread(target=replica, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors


def announced(engine: Engine) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) of the outbox, in the order it is relayed."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
        return [(row.subject, row.msg_id) for row in rows]


def coop(cooperative_id: str, updated_at: str, **changes: Any) -> tuple[str, dict[str, Any]]:
    return COOPS, builders.profile(cooperative_id=cooperative_id, updated_at=updated_at, **changes)


def test_a_batch_stores_the_newest_version_and_announces_it_once(engine, database_url):
    ingest = ingest_for(engine, database_url)
    messages = Messages()
    assert ingest.process(messages(coop("a", "2026-11-01T08:00:00+07:00", member_count=2))) == [ACK]
    batch = messages(
        coop("a", "2026-11-01T09:00:00+07:00", member_count=3),
        coop("a", "2026-11-01T07:00:00+07:00", member_count=1),  # older than the stored one
        coop("b", "2026-11-01T08:00:00+07:00", member_count=10),
        coop("a", "2026-11-01T08:00:00+07:00", member_count=2),  # a replay of the stored one
        # The same instant as the newest, in another offset: not newer, so ignored.
        coop("a", "2026-11-01T02:00:00Z", member_count=99),
    )
    assert ingest.process(batch) == [ACK] * len(batch)

    with Session(engine) as session:
        stored = {c.cooperative_id: c for c in session.exec(select(CooperativeRow))}
    assert stored["a"].member_count == 3
    assert stored["a"].updated_at == datetime(2026, 11, 1, 2, tzinfo=UTC)
    assert stored["b"].member_count == 10
    assert stored["a"].regency_code == "61.12"
    changed = internal.cooperative_changed("61")
    assert announced(engine) == [
        (changed, "cooperative:a:2026-11-01T08:00:00+07:00"),
        (changed, "cooperative:a:2026-11-01T09:00:00+07:00"),
        (changed, "cooperative:b:2026-11-01T08:00:00+07:00"),
    ]
    with Session(engine) as session:
        payloads = [
            json.loads(row.payload)
            for row in session.exec(select(OutboxRow).order_by(col(OutboxRow.id)))
        ]
    assert payloads[1] == {"cooperative_id": "a", "updated_at": "2026-11-01T09:00:00+07:00"}

    # The whole batch again (a redelivery): nothing changes, nothing more is announced.
    before = announced(engine)
    again = [Delivery(d.subject, d.data, d.msg_id, 2, d.source, d.received_at) for d in batch]
    assert ingest.process(again) == [ACK] * len(batch)
    assert announced(engine) == before
    with Session(engine) as session:
        row = session.get(CooperativeRow, "a")
        assert row is not None and row.member_count == 3


def test_a_bad_message_in_a_batch_is_dead_lettered_and_the_others_applied(engine, database_url):
    ingest = ingest_for(engine, database_url)
    batch = Messages()(
        coop("a", "2026-11-01T08:00:00+07:00"),
        (COOPS, b'{"cooperative_id": '),
        (COOPS, builders.profile(cooperative_id="c", village_code="99.99.99.9999")),
        coop("b", "2026-11-01T08:00:00+07:00"),
    )
    assert ingest.process(batch) == [ACK] * 4

    with Session(engine) as session:
        stored = {c.cooperative_id for c in session.exec(select(CooperativeRow))}
        letters = session.exec(select(DeadLetterRow).order_by(col(DeadLetterRow.source))).all()
    assert stored == {"a", "b"}
    assert [(letter.source, letter.error_type) for letter in letters] == [
        ("S:2", "invalid_json"),
        ("S:3", "validation_error"),
    ]
    assert "village_code" in letters[1].reason
    assert sorted(announced(engine)) == [
        (subjects.DEADLETTER, "deadletter:S:2"),
        (subjects.DEADLETTER, "deadletter:S:3"),
        (internal.cooperative_changed("61"), "cooperative:a:2026-11-01T08:00:00+07:00"),
        (internal.cooperative_changed("61"), "cooperative:b:2026-11-01T08:00:00+07:00"),
    ]


def test_offer_and_withdrawal_rules_hold_within_one_batch(engine, database_url):
    ingest = ingest_for(engine, database_url)
    messages = Messages()
    replayed: list[tuple[str, dict[str, Any] | bytes]] = [
        # Withdrawn before it arrives: the offer, older than the withdrawal, is stored withdrawn.
        (WITHDRAWALS, builders.withdrawal(offer_id="x", withdrawn_at="2026-11-02T08:00:00+07:00")),
        (OFFERS, builders.offer(offer_id="x", updated_at="2026-11-01T08:00:00+07:00")),
        # Withdrawn, then re-published after the withdrawal: it revives.
        (OFFERS, builders.offer(offer_id="y", updated_at="2026-11-01T08:00:00+07:00")),
        (WITHDRAWALS, builders.withdrawal(offer_id="y", withdrawn_at="2026-11-02T08:00:00+07:00")),
        (OFFERS, builders.offer(offer_id="y", updated_at="2026-11-03T08:00:00+07:00")),
        # An older version after it: ignored.
        (OFFERS, builders.offer(offer_id="y", updated_at="2026-11-02T09:00:00+07:00")),
        # A withdrawal at the very instant of the version (in another offset) covers it,
        # whether it comes before or after.
        (WITHDRAWALS, builders.withdrawal(offer_id="z", withdrawn_at="2026-11-01T01:00:00Z")),
        (OFFERS, builders.offer(offer_id="z", updated_at="2026-11-01T08:00:00+07:00")),
        (OFFERS, builders.offer(offer_id="w", updated_at="2026-11-01T08:00:00+07:00")),
        (WITHDRAWALS, builders.withdrawal(offer_id="w", withdrawn_at="2026-11-01T01:00:00Z")),
    ]
    batch = messages(*replayed)
    assert ingest.process(batch) == [ACK] * len(batch)

    with Session(engine) as session:
        x = session.get(OfferRow, ("bri", "x"))
        y = session.get(OfferRow, ("bri", "y"))
        rows = session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
    assert x is not None and x.withdrawn_at == datetime(2026, 11, 2, 1, tzinfo=UTC)
    assert x.withdraw_reason == "kuota habis"
    assert y is not None and y.withdrawn_at is None and y.withdraw_reason == ""
    assert y.updated_at == datetime(2026, 11, 3, 1, tzinfo=UTC)
    assert [(row.msg_id, json.loads(row.payload)["withdrawn"]) for row in rows] == [
        ("offer:bri/x:upserted:2026-11-01T08:00:00+07:00:61", True),
        ("offer:bri/y:upserted:2026-11-01T08:00:00+07:00:61", False),
        ("offer:bri/y:withdrawn:2026-11-02T08:00:00+07:00:61", True),
        ("offer:bri/y:upserted:2026-11-03T08:00:00+07:00:61", False),
        ("offer:bri/z:upserted:2026-11-01T08:00:00+07:00:61", True),
        ("offer:bri/w:upserted:2026-11-01T08:00:00+07:00:61", False),
        ("offer:bri/w:withdrawn:2026-11-01T01:00:00+00:00:61", True),
    ]
    # The withdrawal announces the offer's updated_at as stored (UTC).
    assert json.loads(rows[2].payload)["updated_at"] == "2026-11-01T01:00:00Z"

    # Replayed, alone or together: nothing more is stored or announced.
    before = snapshot(engine)
    assert ingest.process(messages(*replayed)) == [ACK] * len(batch)
    for message in replayed:
        assert ingest.process(messages(message)) == [ACK]
    assert snapshot(engine) == before


def random_messages(seed: int, count: int) -> list[tuple[str, dict[str, Any] | bytes]]:
    """Versions of a few cooperatives and offers, withdrawals, and some refusals, in times
    that often collide and in several offsets."""
    rnd = random.Random(seed)
    zones = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=8))]
    start = datetime(2026, 11, 1, tzinfo=UTC)

    def at() -> str:
        return (
            (start + timedelta(hours=rnd.randrange(40))).astimezone(rnd.choice(zones)).isoformat()
        )

    messages: list[tuple[str, dict[str, Any] | bytes]] = []
    for _ in range(count):
        kind = rnd.random()
        if kind < 0.45:
            messages.append(coop(f"c{rnd.randrange(15)}", at(), member_count=rnd.randrange(500)))
        elif kind < 0.7:
            offer = builders.offer(
                offer_id=f"o{rnd.randrange(8)}", capacity=rnd.randrange(50), updated_at=at()
            )
            messages.append((OFFERS, offer))
        elif kind < 0.95:
            withdrawal = builders.withdrawal(
                offer_id=f"o{rnd.randrange(8)}", reason=f"r{rnd.randrange(9)}", withdrawn_at=at()
            )
            messages.append((WITHDRAWALS, withdrawal))
        else:
            messages.append((COOPS, b"not json"))
    return messages


def snapshot(engine: Engine) -> dict[str, Any]:
    tables = {
        "cooperative": "cooperative_id",
        "offer": "partner_id, offer_id",
        "offer_withdrawal": "partner_id, offer_id",
    }
    with engine.connect() as conn:
        found: dict[str, Any] = {
            name: [tuple(row) for row in conn.execute(text(f"SELECT * FROM {name} ORDER BY {key}"))]
            for name, key in tables.items()
        }
        found["dead_letter"] = list(
            conn.execute(text("SELECT source, error_type FROM dead_letter ORDER BY source"))
        )
        found["outbox"] = [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT subject, payload, msg_id FROM outbox WHERE subject <> :dl ORDER BY id"
                ),
                {"dl": subjects.DEADLETTER},
            )
        ]
    return found


def clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("cooperative", "offer", "offer_withdrawal", "dead_letter", "outbox"):
            conn.execute(text(f"DELETE FROM {table}"))


def test_batches_end_as_one_message_at_a_time_does(engine, database_url):
    """Random interleavings: batches store the same rows and announce the same offer changes
    as the messages applied one at a time; of several versions of a cooperative in one batch
    only the newest is announced, so its announcements are some of those, the last the same."""
    ingest = ingest_for(engine, database_url)
    for seed in range(3):
        messages = random_messages(seed, 300)
        rnd = random.Random(seed)
        clear(engine)
        singles = Messages()
        for message in messages:
            assert ingest.process(singles(message)) == [ACK]
        one_by_one = snapshot(engine)

        clear(engine)
        batched = Messages()
        position = 0
        while position < len(messages):
            size = rnd.randint(1, 40)
            batch = batched(*messages[position : position + size])
            assert ingest.process(batch) == [ACK] * len(batch)
            position += size
        together = snapshot(engine)

        for table in ("cooperative", "offer", "offer_withdrawal", "dead_letter"):
            assert together[table] == one_by_one[table], (seed, table)

        def offers(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
            return [row for row in rows if row[0] == internal.offer_changed("61")]

        def cooperatives(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
            return [row for row in rows if row[0] == internal.cooperative_changed("61")]

        assert offers(together["outbox"]) == offers(one_by_one["outbox"])
        remaining = iter(cooperatives(one_by_one["outbox"]))
        assert all(row in remaining for row in cooperatives(together["outbox"]))

        def last(rows: list[tuple[str, str, str]]) -> dict[str, str]:
            return {json.loads(row[1])["cooperative_id"]: row[2] for row in cooperatives(rows)}

        assert last(together["outbox"]) == last(one_by_one["outbox"])


def test_replicas_applying_overlapping_batches_end_with_the_newest(engine, database_url):
    """Four 'replicas' (threads with their own connections) apply at once batches of the
    same cooperatives' versions in different orders, each retried until acknowledged: every
    cooperative ends at its newest version, and its announcements only ever go forward."""
    ingest = ingest_for(engine, database_url)
    start_time = datetime(2026, 11, 1, tzinfo=UTC)
    versions = [
        coop(f"c{n}", (start_time + timedelta(minutes=minute)).isoformat(), member_count=minute)
        for n in range(20)
        for minute in range(1, 9)
    ]
    apply_as_replicas(ingest, versions, batch=40)

    with Session(engine) as session:
        stored = {c.cooperative_id: c.member_count for c in session.exec(select(CooperativeRow))}
    assert stored == {f"c{n}": 8 for n in range(20)}
    per_cooperative: dict[str, list[str]] = {}
    for _, msg_id in announced(engine):
        _, cooperative_id, stamp = msg_id.split(":", 2)
        per_cooperative.setdefault(cooperative_id, []).append(stamp)
    for stamps in per_cooperative.values():
        assert stamps == sorted(stamps) and len(stamps) == len(set(stamps))
        assert stamps[-1] == (start_time + timedelta(minutes=8)).isoformat()


def test_replicas_applying_offers_and_withdrawals_at_once_end_as_one_process(engine, database_url):
    """Offers and their withdrawals, shuffled and applied at once by four 'replicas': the
    rows end as applying them in one process does (the per-offer locks keep an offer and
    a withdrawal applied together from each missing the other)."""
    rnd = random.Random(7)
    start_time = datetime(2026, 11, 1, tzinfo=UTC)

    def at() -> str:
        return (start_time + timedelta(minutes=rnd.randrange(30))).isoformat()

    messages: list[tuple[str, dict[str, Any] | bytes]] = []
    for n in range(12):
        for _ in range(4):
            messages.append((OFFERS, builders.offer(offer_id=f"o{n}", updated_at=at())))
            messages.append((WITHDRAWALS, builders.withdrawal(offer_id=f"o{n}", withdrawn_at=at())))
    ingest = ingest_for(engine, database_url)
    sequential = Messages()
    for message in messages:
        assert ingest.process(sequential(message)) == [ACK]
    expected = snapshot(engine)
    clear(engine)

    apply_as_replicas(ingest, messages, batch=10)
    together = snapshot(engine)
    assert together["offer"] == expected["offer"]
    assert together["offer_withdrawal"] == expected["offer_withdrawal"]


LATER = "2026-12-01T08:00:00+07:00"


def test_changes_are_announced_to_every_province_concerned(engine, database_url):
    """A national offer reaches every province, a regional one its own; an offer that moves
    and a cooperative that moves tell the province they left too."""
    ingest = ingest_for(engine, database_url)
    messages = Messages()
    batch = messages(
        (OFFERS, builders.offer(offer_id="national", regions=[])),
        (OFFERS, builders.offer(offer_id="moving", regions=["61.12"])),
        (subjects.COOPERATIVE_UPSERTED, builders.profile(cooperative_id="k")),
    )
    assert ingest.process(batch) == [ACK] * len(batch)
    later = messages(
        (OFFERS, builders.offer(offer_id="moving", regions=["35"], updated_at=LATER)),
        (
            subjects.COOPERATIVE_UPSERTED,
            builders.profile(
                cooperative_id="k", village_code=builders.JATIM_VILLAGE, updated_at=LATER
            ),
        ),
    )
    assert ingest.process(later) == [ACK] * len(later)
    subjects_of = [subject for subject, _ in announced(engine)]
    national = [s for s in subjects_of if s.endswith(".offer.changed")]
    assert len(set(national)) == len(internal.provinces())
    assert subjects_of.count(internal.offer_changed("35")) == 2  # national, and moved there
    assert subjects_of.count(internal.offer_changed("61")) == 3  # national, moving twice
    assert subjects_of.count(internal.cooperative_changed("61")) == 2  # arrived, then left
    assert subjects_of.count(internal.cooperative_changed("35")) == 1


def test_a_message_whose_refusal_cannot_be_stored_is_terminated_not_retried(engine):
    """The last line of defence against redelivery forever: give_up itself fails."""
    from services.platform.consuming import Terminate, process_batch

    def apply(session, delivery):
        raise ValueError("a fault of the service")

    def give_up(session, delivery, exc):
        raise ValueError("the dead letter cannot be written either")

    delivery = Delivery("kopdes.cooperative.upserted", b"{}", None, 5, "S:1", utcnow())
    outcomes = process_batch(engine, [delivery], apply, give_up, max_deliver=5, base_delay=0.1)
    assert outcomes == [Terminate()]
    # Before its last delivery it is retried as usual.
    early = Delivery("kopdes.cooperative.upserted", b"{}", None, 2, "S:2", utcnow())
    [retry] = process_batch(engine, [early], apply, give_up, max_deliver=5, base_delay=0.1)
    assert retry is not None and not isinstance(retry, Terminate)
