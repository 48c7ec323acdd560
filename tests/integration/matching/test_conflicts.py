"""Concurrent writers on a real database (SQLite file, PostgreSQL where configured): what
replicas racing for the same rows raise is retried, and the newest version wins."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from schemas import internal
from services.demo.synthetic import kalbar_demo
from services.ingest.service import Ingest
from services.platform.consuming import ACK, Delivery, Retry, is_transient, process_batch
from services.platform.publishing import encode_event
from services.platform.settings import Settings
from services.storage.db import session_scope
from services.storage.models import CooperativeRow, OutboxRow, SuggestionRow
from services.storage.types import utcnow


def suggestion(**changes: object) -> SuggestionRow:
    now = utcnow()
    values: dict[str, Any] = dict(
        suggestion_id="sg-1",
        partner_id="bri",
        offer_id="kur",
        cooperative_id="KDMP-1",
        regency_code="61.01",
        village_code="61.01.01.2001",
        score=80.0,
        rank=1,
        explanation=[],
        summary="",
        created_at=now,
        updated_at=now,
        version=1,
    )
    values.update(changes)
    return SuggestionRow(**values)


def test_a_stale_suggestion_flush_is_transient(engine):
    with session_scope(engine) as session:
        session.add(suggestion())
    with Session(engine) as mine:
        row = mine.get(SuggestionRow, "sg-1")
        assert row is not None
        with session_scope(engine) as theirs:  # another replica (or a decision) moves it on
            other = theirs.get(SuggestionRow, "sg-1")
            assert other is not None
            other.version += 1
            other.rank = 2
        row.version += 1
        row.rank = 3
        try:
            mine.commit()
        except StaleDataError as exc:
            assert is_transient(exc)
        else:
            raise AssertionError("the stale flush went through")


def test_a_concurrent_insert_of_the_same_key_is_transient(engine):
    with session_scope(engine) as session:
        session.add(suggestion())
    try:
        with session_scope(engine) as session:
            session.add(suggestion())
    except IntegrityError as exc:
        assert is_transient(exc)
    else:
        raise AssertionError("the duplicate went in")


def test_a_transient_failure_is_retried_not_dead_lettered(engine):
    calls = []

    def apply(session: Session, delivery: Delivery) -> None:
        calls.append(delivery)
        raise StaleDataError("changed under us")

    def give_up(session: Session, delivery: Delivery, exc: Exception) -> None:
        raise AssertionError("given up")

    delivery = Delivery("x", b"{}", None, 99, "S:1", utcnow())
    outcomes = process_batch(engine, [delivery], apply, give_up, max_deliver=5, base_delay=0.1)
    assert isinstance(outcomes[0], Retry)


class FakeRuntime:
    def __init__(self, engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings


def test_replicas_racing_on_one_cooperative_end_with_the_newest(engine, database_url):
    """Eight versions of one profile applied at once by eight 'replicas' (threads with their
    own connections), each retried until acknowledged: the newest is stored, and every change
    announced was newer than the one before it (an older version never overwrote a newer)."""
    profile = kalbar_demo(limit=1)[0][0]
    versions = [
        profile.model_copy(
            update={"updated_at": profile.updated_at + timedelta(minutes=i), "member_count": i}
        )
        for i in (3, 7, 1, 8, 5, 2, 6, 4)
    ]
    # A Runtime's engine and settings are all Ingest uses of it.
    ingest = Ingest(FakeRuntime(engine, Settings(database_url=database_url)))  # type: ignore[arg-type]
    start = threading.Barrier(len(versions))
    errors: list[BaseException] = []

    def replica(version) -> None:
        subject, data, msg_id = encode_event(version)
        start.wait()
        for attempt in range(1, 50):
            delivery = Delivery(subject, data, msg_id, attempt, f"S:{msg_id}", utcnow())
            outcome = process_batch(
                engine, [delivery], ingest.apply, ingest.give_up, max_deliver=5, base_delay=0.01
            )[0]
            if outcome is ACK:
                return
        errors.append(AssertionError(f"{msg_id} never applied"))

    threads = [threading.Thread(target=replica, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors

    with Session(engine) as session:
        stored = session.get(CooperativeRow, profile.cooperative_id)
        announced = session.exec(
            select(OutboxRow)
            .where(OutboxRow.subject == internal.cooperative_changed("61"))
            .order_by(col(OutboxRow.id))
        ).all()
    assert stored is not None and stored.member_count == 8
    stamps = [row.msg_id.split(":", 2)[2] for row in announced]
    assert stamps == sorted(stamps) and len(stamps) == len(set(stamps))
    assert stamps[-1] == versions[3].updated_at.isoformat()
