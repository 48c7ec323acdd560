"""What the pipeline benchmarks share: publishing fast, the raw ceiling, waiting, figures."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from nats.js.api import StreamConfig

IN_FLIGHT = 1000  # publishes awaiting their acknowledgement at once


async def publish_all(js: Any, events: list[tuple[str, bytes, str]]) -> float:
    """Publish with up to IN_FLIGHT acknowledgements outstanding; return the seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(events), IN_FLIGHT):
        await asyncio.gather(
            *(
                js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
                for subject, data, msg_id in events[start : start + IN_FLIGHT]
            )
        )
    return time.perf_counter() - started


async def ceiling(nc: Any, events: list[tuple[str, bytes, str]]) -> float:
    """Events/s of a bare pull consumer that decodes and acknowledges, nothing else."""
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH_CEILING", subjects=["bench.>"]))
    await publish_all(
        js, [(f"bench.{i % 3}", data, f"c{i}") for i, (_, data, _) in enumerate(events)]
    )
    sub = await js.pull_subscribe("bench.>", durable="bare", stream="BENCH_CEILING")
    done = 0
    started = time.perf_counter()
    while done < len(events):
        for msg in await sub.fetch(200, timeout=5):
            json.loads(msg.data)
            await msg.ack()
            done += 1
    elapsed = time.perf_counter() - started
    await js.delete_stream("BENCH_CEILING")
    return done / elapsed


async def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> float:
    """Seconds until the predicate holds (perf_counter timestamp returned)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if await predicate():
            return time.perf_counter()
        await asyncio.sleep(interval)
    raise TimeoutError("condition not met")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process has used so far."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
