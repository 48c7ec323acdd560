"""Database upkeep the benchmarks do themselves where a database in service would have
had it from autovacuum (PostgreSQL's default; off on some machines, such as this one's)."""

from __future__ import annotations

from sqlalchemy import Engine, text


def autovacuum_on(engine: Engine) -> bool:
    """PostgreSQL's autovacuum is running (SQLite has none)."""
    if engine.dialect.name != "postgresql":
        return False
    with engine.connect() as conn:
        return conn.execute(text("SHOW autovacuum")).scalar() == "on"


def settle(engine: Engine) -> None:
    """Statistics and visibility map as autovacuum leaves them on a database in service;
    right after a bulk load the planner would guess from an empty table (a few hundred
    pending suggestions for tens of thousands: it then reads the status index whole for
    each update of a few rows)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
