"""A database that goes away makes a batch retry, never a dead letter: the errors raised at
connect time, mid-statement and at commit are all classified transient (``is_transient``),
and the pool works again once the database is back."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel, select

from services.platform.consuming import Delivery, Retry, process_batch
from services.platform.runtime import Runtime
from services.platform.settings import Settings
from services.storage import migrate
from services.storage.db import make_engine, reset_schema
from services.storage.models import OutboxRow
from services.storage.types import utcnow
from tests.support.tcp_proxy import TcpProxy


def delivery(n: int) -> Delivery:
    return Delivery(
        subject="kopdes.x",
        data=b"{}",
        msg_id=f"m{n}",
        num_delivered=1,
        source=f"S:{n}",
        received_at=utcnow(),
    )


def never_give_up(session, delivery, exc):  # pragma: no cover - a failure if called
    raise AssertionError(f"gave up {delivery.source} on {exc!r}")


def run(engine, apply, n: int = 1):
    return process_batch(engine, [delivery(n)], apply, never_give_up, max_deliver=1, base_delay=0.1)


def insert(session: Session, d: Delivery) -> None:
    session.add(OutboxRow(subject=d.subject, payload="{}", msg_id=d.msg_id or d.source))


@pytest.fixture
def postgres_url(postgres_server_url: str) -> str:
    """A clean PostgreSQL database (these tests cut its connections through a proxy)."""
    reset_schema(postgres_server_url)
    return postgres_server_url


@pytest.fixture
def postgres_through_proxy(postgres_url):
    database_url = postgres_url
    url = make_url(database_url)
    setup = make_engine(database_url)
    SQLModel.metadata.create_all(setup)
    setup.dispose()
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        engine = make_engine(
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
            connect_timeout=2,
        )
        yield engine, proxy
        engine.dispose()


def stored(engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(OutboxRow.msg_id)).all())


@pytest.mark.postgres
def test_connect_refused_is_transient(postgres_through_proxy):
    engine, proxy = postgres_through_proxy
    proxy.cut()
    assert run(engine, insert, 1) == [Retry(0.1, transient=True)]
    proxy.restore()
    assert run(engine, insert, 1) == [None]
    assert stored(engine) == ["m1"]


@pytest.mark.postgres
def test_connection_dropped_mid_statement_is_transient(postgres_through_proxy):
    engine, proxy = postgres_through_proxy
    assert run(engine, insert, 1) == [None]  # a pooled connection now exists

    def cut_then_insert(session: Session, d: Delivery) -> None:
        session.exec(select(OutboxRow)).all()  # the transaction is open on the server
        proxy.cut()
        insert(session, d)
        session.flush()

    assert run(engine, cut_then_insert, 2) == [Retry(0.1, transient=True)]
    proxy.restore()
    assert run(engine, insert, 2) == [None]  # pre_ping replaced the dead connection
    assert stored(engine) == ["m1", "m2"]


@pytest.mark.postgres
def test_connection_dropped_at_commit_is_transient(postgres_through_proxy):
    engine, proxy = postgres_through_proxy

    def insert_then_cut(session: Session, d: Delivery) -> None:
        insert(session, d)
        session.flush()  # the INSERT has reached the server; only COMMIT is left
        proxy.cut()

    assert run(engine, insert_then_cut, 1) == [Retry(0.1, transient=True)]
    proxy.restore()
    assert stored(engine) == []  # rolled back by the server when the connection died
    assert run(engine, insert, 1) == [None]
    assert stored(engine) == ["m1"]


def test_sqlite_locked_by_another_writer_is_transient(sqlite_url):
    engine = make_engine(sqlite_url, busy_timeout=0.2)
    SQLModel.metadata.create_all(engine)
    database = make_url(sqlite_url).database
    assert database is not None
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        assert run(engine, insert, 1) == [Retry(0.1, transient=True)]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert run(engine, insert, 1) == [None]
    assert stored(engine) == ["m1"]
    engine.dispose()


@pytest.mark.postgres
def test_a_service_starting_while_postgresql_is_away_waits_for_it(postgres_url, tmp_path):
    url = make_url(postgres_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxy.cut()
        settings = Settings(
            database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(
                hide_password=False
            ),
            data_dir=tmp_path,
            db_connect_timeout_seconds=1,
        )
        timer = threading.Timer(1.5, proxy.restore)
        timer.start()
        try:
            runtime = Runtime.create(settings)  # blocks until the database answers
        finally:
            timer.join()
        assert proxy.connections > 0
        assert migrate.current(runtime.engine) == migrate.head()
        runtime.engine.dispose()


def test_a_bad_sqlite_path_fails_at_once(tmp_path):
    (tmp_path / "a-file").write_text("")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'a-file' / 'kopdes.db'}")
    with pytest.raises(OSError):
        Runtime.create(settings)
