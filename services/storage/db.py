"""Engine and sessions. SQLite by default (WAL, busy timeout), PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event
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
