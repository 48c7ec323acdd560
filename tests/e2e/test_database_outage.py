"""The database is unavailable for a few seconds while events flow; the service recovers
by itself: every event applied once, nothing published twice, nothing left unacknowledged,
no dead letter, and no restart.

PostgreSQL: the service reaches the server through a TCP proxy the test cuts (every
connection dropped, new ones refused) for about five seconds, as during a failover or a
network partition. SQLite: the test holds an exclusive lock on the file for longer than the
service's busy timeout, so every write fails with "database is locked".
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import nats
import pytest
from sqlalchemy.engine import make_url

from services.demo.synthetic import kalbar_demo
from services.platform.publishing import encode_event
from tests.support.processes import (
    assert_applied_once,
    consumers_ready,
    log_messages,
    logged,
    settled,
    start_service,
)
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

OUTAGE_SECONDS = 5.0
CONSUMER_RETRY = "database unavailable, batch of"
RELAY_RETRY = "outbox flush failed; will retry"
EXPIRY_RETRY = "expiry sweep failed; will retry"


class SqliteLock:
    """Another process's exclusive write lock on the SQLite file."""

    def __init__(self, database_url: str) -> None:
        path = make_url(database_url).database
        assert path is not None, "a SQLite URL names its file"
        self.path = path
        self.connection: sqlite3.Connection | None = None

    def begin(self) -> None:
        self.connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.connection.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        assert self.connection is not None
        self.connection.execute("ROLLBACK")
        self.connection.close()


class ProxyCut:
    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy

    def begin(self) -> None:
        self.proxy.cut()

    def end(self) -> None:
        self.proxy.restore()


@contextmanager
def outage_for(database_url: str) -> Iterator[tuple[str, SqliteLock | ProxyCut]]:
    """(the URL the service uses, the outage to begin and end)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield database_url, SqliteLock(database_url)
        return
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through_proxy = url.set(host="127.0.0.1", port=proxy.port)
        yield through_proxy.render_as_string(hide_password=False), ProxyCut(proxy)


async def test_database_unavailable_for_a_few_seconds(database_url, nats_server, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    cooperatives, offers = kalbar_demo(limit=450)
    events = [encode_event(e) for e in (*offers, *cooperatives)]
    before, during, after = events[:250], events[250:-60], events[-60:]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()

    async def publish(batch) -> None:
        for subject, data, msg_id in batch:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})

    # What the outage must be seen to hit: the consumers everywhere; on PostgreSQL also
    # the outbox relay and the matcher's expiry sweep (SQLite in WAL mode still serves
    # their reads, so only writers fail there).
    hit = [CONSUMER_RETRY]
    if make_url(database_url).get_backend_name() == "postgresql":
        hit += [RELAY_RETRY, EXPIRY_RETRY]

    with outage_for(database_url) as (service_url, outage):
        service = start_service(
            nats_server.url,
            service_url,
            data_dir,
            env={
                "KOPDES_RETRY_DELAY_SECONDS": "0.2",
                "KOPDES_ACK_WAIT_SECONDS": "10",
                "KOPDES_DB_BUSY_TIMEOUT_SECONDS": "0.5",
                "KOPDES_DB_CONNECT_TIMEOUT_SECONDS": "2",
                # The expiry sweep and the relay run during the outage too.
                "KOPDES_EXPIRY_CHECK_SECONDS": "0.3",
                "KOPDES_LOG_FORMAT": "json",  # one line per record, for the checks below
            },
        )
        try:
            await eventually(lambda: consumers_ready(js), timeout=60)
            await publish(before)

            async def mid_stream() -> bool:
                return (await js.stream_info("KOPDES_MATCH")).state.messages >= 20

            await eventually(mid_stream, timeout=60, interval=0.01)

            await asyncio.to_thread(outage.begin)
            started = time.monotonic()
            # Events keep arriving while the database is away.
            await publish(during)
            # At least OUTAGE_SECONDS, and until the outage has hit every part that uses
            # the database (on a loaded machine that can take longer).
            await eventually(lambda: all(logged(data_dir, p) for p in hit), timeout=40)
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
            await asyncio.to_thread(outage.end)
            await publish(after)

            await eventually(lambda: settled(js, database_url), timeout=90, interval=0.2)
            assert await settled(js, database_url)
            # Recovered by itself: the same process, still running.
            assert service.poll() is None
        finally:
            if service.poll() is None:
                service.terminate()
                service.wait(timeout=30)

    # Retried, never given up (assert_applied_once also finds no dead letter).
    assert not any("given up" in message for message in log_messages(data_dir))
    await assert_applied_once(js, database_url, cooperatives, offers)
    await nc.close()
