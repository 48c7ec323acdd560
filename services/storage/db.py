"""Engine and sessions. SQLite by default (WAL, busy timeout), PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from services.review import models as _review_models  # noqa: F401  (registers the tables)
from services.storage import models  # noqa: F401  (registers the tables)

if TYPE_CHECKING:
    from services.settings import Settings


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
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            # An unreachable server fails fast (and is retried) instead of hanging a batch.
            kwargs.setdefault("connect_args", {"connect_timeout": connect_timeout})
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
ADVISORY_LOCKS = {"matcher": 0x6B6F_7064_6573_01}


def engine_from_settings(settings: Settings) -> Engine:
    """The engine of a service or command: the database and pool settings applied."""
    return make_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
        busy_timeout=settings.db_busy_timeout_seconds,
    )


def create_schema(engine: Engine) -> None:
    """Bring the database to the newest migration (see ``services/storage/migrate.py``)."""
    from services.storage.migrate import upgrade

    upgrade(engine)


def reset_schema(url: str) -> None:
    """PostgreSQL: drop everything in schema ``public`` (tests and benchmarks only)."""
    engine = make_engine(url)
    with engine.begin() as conn:
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


def begin_writing(session: Session, lock: str | None = None) -> None:
    """Open the session's transaction as a writer, before its first read.

    SQLite: ``BEGIN IMMEDIATE`` takes the one write lock now (waiting the busy timeout), so
    what the transaction reads cannot change before it writes: the Python driver would
    otherwise begin only at the first write, after the reads. PostgreSQL: row locks
    (``FOR UPDATE``) do that per row; ``lock`` names an advisory lock held to the commit,
    for work whose rows are not known up front. Call it first in the session.
    """
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif lock is not None and conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCKS[lock]})


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


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the session's dialect, for ``on_conflict_do_update``/``_do_nothing``."""
    if session.connection().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
