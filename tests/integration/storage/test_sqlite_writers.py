"""SQLite writers take turns: one taking the write lock back to back does not starve another.

SQLite's own busy handler sleeps ever longer between tries, so without the writers'
turnstile (``services.storage.db._begin_immediate``) the waiting writer below gets the lock
only when the busy one stops.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel, select

from services.platform.outbox import OutboxRelay, enqueue
from services.storage.db import begin_writing, make_engine, session_scope
from services.storage.models import OutboxRow

HOLD_SECONDS = 0.02  # each of the busy writer's transactions
BUSY_TRANSACTIONS = 50  # ~1 s of back-to-back transactions


def write_through_begin_writing(engine: Engine) -> None:
    with session_scope(engine) as session:
        begin_writing(session)
        session.execute(text("INSERT INTO t VALUES ('waiting')"))


def delete_published_outbox_rows(engine: Engine) -> None:
    """The outbox relay's write, after a chunk is acknowledged: the row is deleted."""
    relay = OutboxRelay(engine, publish=None)  # type: ignore[arg-type]  # these steps send nothing
    claim = relay._claim()
    assert claim is not None  # SQLite: never held by another relay
    session, rows = claim
    relay._release(session, [rows[0].msg_id])
    with Session(engine) as session:
        assert session.exec(select(OutboxRow)).all() == []


class Note(BaseModel):
    text: str


@pytest.mark.parametrize("write", [write_through_begin_writing, delete_published_outbox_rows])
def test_a_waiting_writer_gets_the_lock_between_two_transactions_of_a_busy_one(
    tmp_path: Path, write: Callable[[Engine], None]
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (writer TEXT)"))
    with session_scope(engine) as session:
        enqueue(session, "kopdes.test", Note(text="sent"), "m1")
    busy_done = 0
    waiting = threading.Event()
    got_in_after: list[int] = []

    def busy_writer() -> None:
        nonlocal busy_done
        for _ in range(BUSY_TRANSACTIONS):
            with session_scope(engine) as session:
                begin_writing(session)
                session.execute(text("INSERT INTO t VALUES ('busy')"))
                if busy_done == 1:
                    waiting.set()  # the other writer starts while this one holds the lock
                time.sleep(HOLD_SECONDS)
            busy_done += 1

    def waiting_writer() -> None:
        waiting.wait(10)
        write(engine)
        got_in_after.append(busy_done)

    threads = [threading.Thread(target=busy_writer), threading.Thread(target=waiting_writer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert got_in_after, "the waiting writer never got the lock"
    # It started during the busy writer's second transaction: it waits for that one, and
    # at most the next (taken in the instant before it reached the turnstile).
    assert got_in_after[0] <= 3, f"waited for {got_in_after[0] - 1} of the busy writer's turns"
    with Session(engine) as session:
        writers = session.execute(text("SELECT writer, count(*) FROM t GROUP BY writer"))
        assert dict(writers.all())["busy"] == BUSY_TRANSACTIONS
    engine.dispose()


def test_an_in_memory_database_still_begins_as_a_writer() -> None:
    engine = make_engine("sqlite://")
    with session_scope(engine) as session:
        begin_writing(session)
        driver = cast(sqlite3.Connection, session.connection().connection.dbapi_connection)
        assert driver.in_transaction
    engine.dispose()
