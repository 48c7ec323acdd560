"""Which provinces this matcher process owns: at most one owner per province at a time.

PostgreSQL: a session-level advisory lock per province, held on the one connection the
process writes all its matching through. The database releases a process's locks the
moment its connection ends (a crash, SIGKILL, a network cut), so another process can take
the provinces over at its next look (every ``LOOK_SECONDS``); and a process that lost its
connection has lost its locks with it, so it can write nothing more for them: its writes
went through that connection. Processes balance by count: each holds a member lock too,
and owns about ``ceil(provinces / members)``, unless the operator assigns provinces.

SQLite serves one matcher process: a file lock beside the database file; a second process
gets a clear error instead of a slow crawl on the one write lock.

Why not a lease in a NATS KV bucket: the writes go to the database, so the fence must be
the database's. A KV lease can expire while its holder still has a transaction in
flight; an advisory lock cannot be lost without the connection carrying those writes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Sequence
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# Advisory lock key spaces (the first of the two int4 keys).
PROVINCE_LOCKS = 0x6B6D  # "km": one lock per province, the province code as the key
MEMBER_LOCKS = 0x6B6E  # one per live matcher process, a random key
LOOK_SECONDS = 2.0  # how often a process looks for provinces to take or give


class SecondMatcherError(RuntimeError):
    pass


class Ownership:
    """The provinces this process owns, on the connection its matching writes through."""

    def __init__(self, engine: Engine, provinces: Sequence[str], assigned: Sequence[str] = ()):
        self.engine = engine
        self.all = sorted(provinces)
        self.assigned = sorted(assigned) if assigned else []
        self.owned: set[str] = set()
        self.connection: Connection | None = None
        self._file_lock: FileLock | None = None
        self._member = random.randrange(1, 2**31 - 1)

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def connect(self) -> Connection:
        """The connection to write through (opened, with the member lock, if needed)."""
        if self.connection is None:
            if not self.shared:
                self._lock_sqlite_file()
            connection = self.engine.connect()
            if self.shared:
                with connection.begin():
                    connection.execute(
                        text("SELECT pg_advisory_lock(:space, :key)"),
                        {"space": MEMBER_LOCKS, "key": self._member},
                    )
            self.connection = connection
        return self.connection

    def _lock_sqlite_file(self) -> None:
        database = self.engine.url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        lock = FileLock(f"{database}.matcher", thread_local=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SecondMatcherError(
                f"another matcher process already works on {Path(database).name}: SQLite "
                "serves one matcher process; run several on PostgreSQL "
                "(KOPDES_DATABASE_URL=postgresql://...)"
            ) from None
        self._file_lock = lock

    def rebalance(self) -> tuple[list[str], list[str]]:
        """Take free provinces up to this process's share, give up those above it.
        Returns (gained, to give up): the caller stops consuming the latter, then calls
        ``release``."""
        connection = self.connect()
        if not self.shared:
            gained = sorted(set(self.assigned or self.all) - self.owned)
            self.owned.update(gained)
            return gained, []
        wanted = self.assigned or self.all
        with connection.begin():
            share = len(wanted) if self.assigned else math.ceil(len(wanted) / self._members())
            surplus = sorted(self.owned)[share:] if len(self.owned) > share else []
            gained: list[str] = []
            for province in wanted:
                if len(self.owned) + len(gained) >= share:
                    break
                if province in self.owned:
                    continue
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:space, :key)"),
                    {"space": PROVINCE_LOCKS, "key": int(province)},
                ).scalar()
                if taken:
                    gained.append(province)
        self.owned.update(gained)
        return gained, surplus

    def release(self, provinces: Sequence[str]) -> None:
        connection = self.connection
        if connection is None or not self.shared:
            self.owned.difference_update(provinces)
            return
        with connection.begin():
            for province in provinces:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:space, :key)"),
                    {"space": PROVINCE_LOCKS, "key": int(province)},
                )
        self.owned.difference_update(provinces)

    def _members(self) -> int:
        assert self.connection is not None
        count = self.connection.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :space AND objsubid = 2"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"space": MEMBER_LOCKS},
        ).scalar()
        return max(1, int(count or 1))

    def lost(self) -> None:
        """The connection failed: its locks are gone with it (the database released them)."""
        if self.connection is not None:
            with contextlib.suppress(Exception):  # already broken
                self.connection.invalidate()
                self.connection.close()
        self.connection = None
        self.owned.clear()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()  # the database releases every lock of the session
        self.connection = None
        self.owned.clear()
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None
