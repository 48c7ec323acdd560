"""SIGTERM stops the service within its bound, whatever its consumers are doing."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import nats
import psycopg
import pytest
from nats.js.errors import NotFoundError

from services.platform.embedded_nats import EmbeddedNats
from tests.support.processes import start_service
from tests.support.waiting import eventually

# The service's bound: consumers 20 s, outbox flush 10 s, handler threads 10 s.
BOUND_SECONDS = 40 + 10  # and the interpreter's own start and exit


@contextmanager
def locked_dead_letters(database_url: str) -> Iterator[None]:
    """Another client holds the table ingest writes refusals to: its handler hangs."""
    conn: sqlite3.Connection | psycopg.Connection[tuple[object, ...]]
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
    else:
        conn = psycopg.connect(database_url)
        conn.execute("LOCK TABLE dead_letter IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        conn.rollback()
        conn.close()


@pytest.mark.slow
async def test_sigterm_stops_a_service_whose_handler_hangs_in_a_flood(
    nats_server: EmbeddedNats, database_url: str, tmp_path
) -> None:
    process = start_service(nats_server.url, database_url, tmp_path, services=("ingest",))
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()

        async def consuming() -> bool:
            try:
                await js.consumer_info("KOPDES_INPUT", "ingest-offers")
            except NotFoundError:
                return False
            return True

        await eventually(consuming, timeout=60)
        with locked_dead_letters(database_url):
            for n in range(2000):
                await nc.publish(
                    "kopdes.offer.upserted.bri", b"{", headers={"Nats-Msg-Id": f"{n}" + "x" * 300}
                )
            await nc.flush()

            async def busy() -> bool:
                info = await js.consumer_info("KOPDES_INPUT", "ingest-offers")
                return info.num_ack_pending > 0

            await eventually(busy, timeout=30)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, BOUND_SECONDS)
            stopped_after = time.monotonic() - started
        assert code is not None
        assert stopped_after < BOUND_SECONDS
    finally:
        await nc.close()
        if process.poll() is None:
            process.kill()
