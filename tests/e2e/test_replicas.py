"""Replicas as real processes on one nats-server and one database: ingest replicas share
its durable consumers, matcher replicas share the provinces (PostgreSQL; SQLite serves one
matcher process). Every event is applied once, no suggestion state published twice, and
the result equals one process's; the same after SIGKILL of a matcher owning provinces."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time

import nats
import pytest

from schemas import internal
from services.matching.ownership import province_owners, province_weights, split
from services.storage.db import make_engine
from tests.support.replicas import (
    Workload,
    check_invariants,
    consumers_ready,
    idle,
    start_replica,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


def stop(replicas: list[subprocess.Popen[bytes]]) -> None:
    for replica in replicas:
        if replica.poll() is None:
            replica.send_signal(signal.SIGTERM)
    for replica in replicas:
        try:
            replica.wait(timeout=30)
        except subprocess.TimeoutExpired:
            replica.kill()


def owned(database_url: str) -> dict[int, list[str]]:
    """Provinces owned, by PostgreSQL backend (one per matcher process)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return province_owners(conn)
    finally:
        engine.dispose()


def owners(database_url: str) -> dict[int, int]:
    """How many provinces each matcher process owns."""
    return {pid: len(provinces) for pid, provinces in owned(database_url).items()}


async def test_matchers_share_the_provinces(nats_server, database_url, tmp_path):
    """Two matcher processes on PostgreSQL each own part of the provinces and end with what
    one process computes; on SQLite one matcher runs beside a second ingest, and a second
    matcher process is refused with a clear error."""
    sqlite = database_url.startswith("sqlite")
    work = Workload()
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    replicas = [start_replica(nats_server.url, database_url, tmp_path / "r0", "r0")]
    try:
        await eventually(lambda: consumers_ready(js), timeout=60)
        replicas.append(
            start_replica(
                nats_server.url,
                database_url,
                tmp_path / "r1",
                "r1",
                services=("ingest",) if sqlite else ("ingest", "matcher"),
            )
        )
        if sqlite:
            second = start_replica(
                nats_server.url, database_url, tmp_path / "r2", "r2", services=("matcher",)
            )
            assert second.wait(timeout=60) != 0
            log = " ".join((tmp_path / "r2" / "r2.log").read_text().split())
            assert "SQLite serves one matcher process" in log
            assert "Traceback" not in log
        else:
            total = len(internal.provinces())

            async def shared() -> bool:
                held = owners(database_url)
                return len(held) == 2 and sum(held.values()) == total

            await eventually(shared, timeout=90)  # the second process starting included
            # Split by work (villages), not by count: each process about half the villages.
            weights = province_weights(tuple(internal.provinces()))
            groups = sorted(sorted(g) for g in owned(database_url).values())
            assert groups == sorted(split(weights, 2))
            villages = [sum(weights[p] for p in group) for group in groups]
            assert min(villages) / max(villages) > 0.95
        await work.publish(js)
        await eventually(lambda: idle(js, database_url), timeout=120, interval=0.2)
        await asyncio.sleep(1.0)  # anything still moving would show now
        assert await idle(js, database_url)
        assert all(r.poll() is None for r in replicas), "a replica died"
        await check_invariants(js, database_url, work)
    finally:
        stop(replicas)
        await nc.close()


@pytest.mark.postgres
async def test_sigkill_a_matcher_owning_provinces(nats_server, database_url, tmp_path):
    """The survivor takes the killed matcher's provinces over within 30 s; the suggestions
    end as a clean run's, every Nats-Msg-Id unique."""
    if database_url.startswith("sqlite"):
        pytest.skip("several matcher processes need PostgreSQL")
    work = Workload(seed=11)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    replicas = [
        start_replica(nats_server.url, database_url, tmp_path / f"r{i}", f"r{i}") for i in range(2)
    ]
    total = len(internal.provinces())
    try:
        await eventually(lambda: consumers_ready(js), timeout=60)
        await eventually(lambda: len(owners(database_url)) == 2, timeout=30)
        await work.publish(js)

        async def mid_run() -> bool:
            return (await js.stream_info("KOPDES_MATCH")).state.messages >= 50

        await eventually(mid_run, timeout=60, interval=0.01)
        replicas[0].send_signal(signal.SIGKILL)
        assert replicas[0].wait(timeout=10) == -signal.SIGKILL
        killed_at = time.monotonic()
        await eventually(lambda: list(owners(database_url).values()) == [total], timeout=30)
        took = time.monotonic() - killed_at
        assert took < 30

        await eventually(lambda: idle(js, database_url), timeout=120, interval=0.2)
        await asyncio.sleep(1.0)
        assert await idle(js, database_url)
        assert replicas[1].poll() is None, "the survivor died"
        await check_invariants(js, database_url, work)
    finally:
        stop(replicas)
        await nc.close()
