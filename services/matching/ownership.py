"""Which provinces this matcher process owns: at most one owner per province at a time.

PostgreSQL: a session-level advisory lock per province, held on the one connection the
process writes all its matching through. The database releases a process's locks the
moment its connection ends (a crash, SIGKILL, a network cut), so another process can take
the provinces over at its next look (every ``LOOK_SECONDS``); and a process that lost its
connection has lost its locks with it, so it can write nothing more for them: its writes
went through that connection. Processes balance by work: each holds a member lock too,
and every process splits the provinces the same way among the members it sees (``split``:
by villages, so that Jawa Barat and Papua Pegunungan are not one share each), taking its
own group and giving up the rest, unless the operator assigns provinces.

SQLite serves one matcher process: a file lock beside the database file; a second process
gets a clear error instead of a slow crawl on the one write lock.

Why not a lease in a NATS KV bucket: the writes go to the database, so the fence must be
the database's. A KV lease can expire while its holder still has a transaction in
flight; an advisory lock cannot be lost without the connection carrying those writes.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, text

from schemas.regions import provinces_summary

log = logging.getLogger(__name__)

# Advisory lock key spaces (the first of the two int4 keys).
PROVINCE_LOCKS = 0x6B6D  # "km": one lock per province, the province code as the key
MEMBER_LOCKS = 0x6B6E  # one per live matcher process, a random key
LOOK_SECONDS = 2.0  # how often a process looks for provinces to take or give


class SecondMatcherError(RuntimeError):
    pass


def split(weights: dict[str, int], members: int) -> list[list[str]]:
    """The provinces in ``members`` groups of about equal weight: heaviest first, each to
    the lightest group so far (ties by code, so every process computes the same groups)."""
    groups: list[list[str]] = [[] for _ in range(max(1, members))]
    load = [0] * len(groups)
    for province in sorted(weights, key=lambda p: (-weights[p], p)):
        lightest = min(range(len(groups)), key=lambda i: (load[i], i))
        groups[lightest].append(province)
        load[lightest] += weights[province]
    return [sorted(group) for group in groups]


@cache
def province_weights(provinces: tuple[str, ...]) -> dict[str, int]:
    """Villages per province: a province's matching work grows with its cooperatives."""
    summary = provinces_summary()
    return {
        province: max(1, summary[province].villages if province in summary else 0)
        for province in provinces
    }


class Ownership:
    """The provinces this process owns, on the connection its matching writes through."""

    def __init__(
        self,
        engine: Engine,
        provinces: Sequence[str],
        assigned: Sequence[str] = (),
        on_connect: Callable[[Connection], None] | None = None,
    ):
        self.engine = engine
        # Called with each new connection, after its member lock (the outbox relay holds
        # the process's origin on it: released with the provinces when the process dies).
        self.on_connect = on_connect
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
                if self.on_connect is not None:
                    self.on_connect(connection)
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
        with connection.begin():
            if self.assigned:
                wanted = self.assigned
            else:
                members = self._members()
                groups = split(province_weights(tuple(self.all)), len(members))
                wanted = groups[members.index(self._member)]
            surplus = sorted(self.owned - set(wanted))
            gained = []
            for province in wanted:
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

    def _members(self) -> list[int]:
        """The live matcher processes' member keys, sorted (this one's included)."""
        assert self.connection is not None
        keys = {key for _, key in _held(self.connection, MEMBER_LOCKS)}
        return sorted(keys | {self._member})

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
                # End the session itself, releasing all its locks (returned to the pool, it
                # would hold them on until the engine is disposed).
                self.connection.invalidate()
                self.connection.close()
        self.connection = None
        self.owned.clear()
        if self._file_lock is not None:
            self._file_lock.release()
            self._file_lock = None


def _held(connection: Connection, space: int) -> list[tuple[int, int]]:
    """(backend pid, key) of the advisory locks of this key space held in this database."""
    rows = connection.execute(
        text(
            "SELECT pid, objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = :space AND objsubid = 2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"space": space},
    ).all()
    return [(int(pid), int(key)) for pid, key in rows]


def province_owners(connection: Connection) -> dict[int, list[str]]:
    """The provinces each matcher process owns, by its database backend (for operators,
    tests and benchmarks: who holds what)."""
    owners: dict[int, list[str]] = {}
    for pid, province in _held(connection, PROVINCE_LOCKS):
        owners.setdefault(pid, []).append(f"{province:02d}")
    return owners
