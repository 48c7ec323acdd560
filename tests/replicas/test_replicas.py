"""Two replicas of ingest+matcher as real processes sharing the durable consumers, on one
nats-server and one database (SQLite file, and PostgreSQL where configured): every event
applied once, no suggestion doubled, capacity never exceeded, and the result equals one
process's; the same after SIGKILL of a replica in the middle of a batch."""

from __future__ import annotations

import asyncio
import signal
import subprocess

import nats
import pytest

from tests.conftest import eventually
from tests.replicas.cluster import (
    BATCH_SIZE,
    Workload,
    check_invariants,
    consumers_ready,
    idle,
    start_replica,
)

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


async def both_busy(js) -> bool:
    """Both replicas hold a batch: more messages unacknowledged on one durable than one
    replica fetches at once (KOPDES_BATCH_SIZE), and more to come."""
    for stream, durable in (
        ("KOPDES_INTERNAL", "matcher"),
        ("KOPDES_INPUT", "ingest-cooperatives"),
    ):
        info = await js.consumer_info(stream, durable)
        if info.num_ack_pending > BATCH_SIZE and info.num_pending > 0:
            return True
    return False


async def test_two_replicas(nats_server, database_url, tmp_path):
    work = Workload()
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    replicas = [
        start_replica(nats_server.url, database_url, tmp_path / f"r{i}", f"r{i}") for i in range(2)
    ]
    try:
        await eventually(lambda: consumers_ready(js), timeout=30)
        await work.publish(js)
        await eventually(lambda: idle(js, database_url), timeout=90, interval=0.2)
        await asyncio.sleep(1.0)  # anything still moving would show now
        assert await idle(js, database_url)
        assert all(r.poll() is None for r in replicas), "a replica died"
        await check_invariants(js, database_url, work)
    finally:
        stop(replicas)
        await nc.close()


async def test_sigkill_a_replica_mid_batch(nats_server, database_url, tmp_path):
    work = Workload(seed=11)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    replicas = [
        start_replica(nats_server.url, database_url, tmp_path / f"r{i}", f"r{i}") for i in range(2)
    ]
    try:
        await eventually(lambda: consumers_ready(js), timeout=30)
        await work.publish(js)

        async def mid_batch() -> bool:
            matched = (await js.stream_info("KOPDES_MATCH")).state.messages
            return matched >= 20 and await both_busy(js)

        await eventually(mid_batch, timeout=60, interval=0.01)
        replicas[0].send_signal(signal.SIGKILL)
        assert replicas[0].wait(timeout=10) == -signal.SIGKILL
        # What it held comes back to the survivor after the ack wait, or to itself again.
        replicas[0] = start_replica(nats_server.url, database_url, tmp_path / "r0", "r0")

        await eventually(lambda: idle(js, database_url), timeout=90, interval=0.2)
        await asyncio.sleep(1.0)
        assert await idle(js, database_url)
        assert all(r.poll() is None for r in replicas), "a replica died"
        await check_invariants(js, database_url, work)
    finally:
        stop(replicas)
        await nc.close()
