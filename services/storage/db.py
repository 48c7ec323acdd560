"""Engine and sessions. SQLite by default (WAL, busy timeout), PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, cast

from filelock import FileLock
from filelock import Timeout as TurnstileTimeout
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine
from sqlmodel.sql.expression import Select

from services.storage import models  # noqa: F401  (registers the tables)

# Every statement planned for its own parameters. psycopg prepares a statement it has run
# five times, and PostgreSQL may then settle on one generic plan for it, chosen from what
# the tables held then. The matcher's set-based statements carry one JSON document or id
# array of 1 to 5,000 rows, which no one plan fits. In the quarter-scale benchmark, offer
# -> the matcher's write of its first suggestion took 69 ms p50 with this against 164-176
# ms in three runs without, and two of five runs without fell behind (their UPDATEs of
# suggestions took ~150 ms each; 4 ms by hand). Planning costs well under a millisecond
# per statement, and a transaction runs a handful of them.
PLANNING = "-c plan_cache_mode=force_custom_plan"


def _postgresql_connect_args(
    query: Mapping[str, Any], connect_timeout: int, given: Mapping[str, Any]
) -> dict[str, Any]:
    args = dict(given)
    if "connect_timeout" not in query:
        # An unreachable server fails fast (and is retried) instead of hanging a batch.
        args.setdefault("connect_timeout", connect_timeout)
    # Options in the URL or given are kept (psycopg's keyword would replace the URL's).
    given_options = [query.get("options"), args.get("options")]
    args["options"] = " ".join([*filter(None, given_options), PLANNING])
    return args


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    pool_recycle: int = 1800,
    connect_timeout: int = 10,
    busy_timeout: float = 30.0,
    **kwargs: Any,
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: a connection the server dropped (restart, failover, idle timeout) is
        # replaced before use instead of failing the next batch; recycle: before a proxy
        # or firewall silently cuts it.
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", max_overflow)
        kwargs.setdefault("pool_timeout", pool_timeout)
        kwargs.setdefault("pool_recycle", pool_recycle)
        if parsed.get_backend_name() == "postgresql":
            kwargs["connect_args"] = _postgresql_connect_args(
                parsed.query, connect_timeout, kwargs.get("connect_args", {})
            )
        return create_engine(url, **kwargs)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": busy_timeout}, **kwargs
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Several processes (services, dashboard, CLI) share one file: WAL lets readers
        # run beside the writer, and the busy timeout waits for the lock instead of failing.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


# pg_advisory_xact_lock keys of the locks that serialize one kind of work across processes.
ADVISORY_LOCKS = {"outbox_relay": 0x6B6F_7064_6573_02}


def reset_schema(url: str) -> None:
    """PostgreSQL: drop everything in schema ``public`` (tests and benchmarks only)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        # A transaction an earlier test's stopped service left open would hold its tables:
        # end such sessions of this database, and fail in seconds rather than hang on one
        # still busy.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state LIKE 'idle in transaction%'"
            )
        )
        conn.execute(text("SET LOCAL lock_timeout = '20s'"))
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def session_engine(session: Session) -> Engine:
    """The engine a session is bound to (ours are bound to engines, never to a connection):
    what caches keep their values by."""
    engine = session.get_bind()
    if not isinstance(engine, Engine):
        raise TypeError(f"session bound to {engine!r}, not to an engine")
    return engine


def select_columns(*columns: Any) -> Select[*tuple[Any, ...]]:
    """``sqlmodel.select`` of five or more columns, which its typed overloads (up to four)
    do not cover: the same statement, its rows typed ``Any``."""
    return Select(*columns)


def begin_writing(session: Session) -> None:
    """Open the session's transaction as a writer, before its first read.

    SQLite: ``BEGIN IMMEDIATE`` takes the one write lock now (waiting the busy timeout), so
    what the transaction reads cannot change before it writes: the Python driver would
    otherwise begin only at the first write, after the reads. PostgreSQL: row locks
    (``FOR UPDATE``) do that per row, ``lock_entities`` for rows that may not exist yet.
    Call it first in the session.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        driver = cast(sqlite3.Connection, conn.connection.dbapi_connection)  # pysqlite's, open
        if not driver.in_transaction:
            _begin_immediate(conn)


# SQLite's busy handler backs off to sleeping 100 ms or more between tries, so a writer
# that takes the lock back to back (the matcher, batch after batch) starves a waiting one
# for seconds: it almost never tries in the instant between two transactions. Writers
# therefore queue at a turnstile, a file lock beside the database, and the one through it
# tries every millisecond. The holder's next transaction waits at the turnstile, so a
# waiting writer waits for at most the transaction in progress.
WRITER_POLL_SECONDS = 0.001


@cache
def _turnstile(database: str) -> FileLock:
    # thread_local: each thread holds it through its own descriptor, so threads queue too.
    return FileLock(f"{database}.writers", thread_local=True, preserve_lock_file=True)


def _begin_immediate(conn: Connection) -> None:
    """``BEGIN IMMEDIATE`` through the writers' turnstile, within the busy timeout."""
    dbapi = conn.connection.dbapi_connection
    database = conn.engine.url.database
    assert dbapi is not None
    if not database or database == ":memory:" or database.startswith("file:"):
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # one connection's own database
        return
    busy_ms = dbapi.execute("PRAGMA busy_timeout").fetchone()[0]
    deadline = time.monotonic() + busy_ms / 1000
    try:
        with _turnstile(database).acquire(
            timeout=busy_ms / 1000, poll_interval=WRITER_POLL_SECONDS
        ):
            dbapi.execute("PRAGMA busy_timeout=0")
            try:
                while time.monotonic() < deadline:
                    try:
                        dbapi.execute("BEGIN IMMEDIATE")
                        return
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc):
                            break
                    time.sleep(WRITER_POLL_SECONDS)
            finally:
                dbapi.execute(f"PRAGMA busy_timeout={busy_ms}")
    except TurnstileTimeout:
        pass
    # Timed out, or another error: one last try the ordinary way, which fails as
    # SQLAlchemy's OperationalError ("database is locked": transient, retried).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def lock_entities(session: Session, kind: str, keys: Iterable[str]) -> None:
    """PostgreSQL: serialize writers of these entities across processes, to the commit,
    even before their first row exists (no row to lock ``FOR UPDATE`` yet). One statement
    for all, in sorted order: two writers sharing some entities take those in the same
    order and never wait for each other. SQLite: its one write lock, taken by
    ``begin_writing``, already does."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        names = sorted({f"{kind}:{key}" for key in keys})
        if names:
            # A plain scan of the array: the locks are taken row by row in its order.
            conn.execute(
                text(
                    "SELECT pg_advisory_xact_lock(hashtextextended(name, 0))"
                    " FROM unnest(CAST(:names AS text[])) AS name"
                ),
                {"names": names},
            ).all()
