"""Load benchmark of the pipeline through NATS (a script, not a test).

Starts its own nats-server; uses PostgreSQL when ``KOPDES_BENCH_DATABASE_URL`` is set
(its schema ``public`` is dropped and created again for each run), else a SQLite file.

1. Raw ceiling: the same number of events published to a scratch stream and read by a bare
   nats-py JetStream pull consumer that only decodes the JSON and acknowledges: events/s.
2. Throughput: ``run ingest`` and ``run matcher``, each in its own process (1, then 2
   replicas of each), the
   national data set (``services.synthetic.national``: 83,762 profiles and 10,000 offers;
   ``--scale 0.1`` for a tenth) published as fast as possible: events/s until ingest's
   consumers are drained, and until the matcher's is, as a fraction of the ceiling.
3. Latency: under a steady background of profile updates (``--background`` per second),
   offers published one at a time; time from publishing an offer to receiving its first
   ``kopdes.match.suggested`` (p50, p99).
4. Peak memory (VmHWM) of each process.

Run: ``uv run python benchmarks/bench_pipeline.py [--scale 0.1] [--replicas 1,2]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats
from background import EDIT_EVERY, profile_update
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from sqlmodel import Session, select

from services.embedded_nats import EmbeddedNats
from services.outbox import unsent as work_left
from services.publishing import encode_event
from services.storage.db import make_engine, reset_schema
from services.storage.models import SuggestionRow
from services.synthetic import national

DURABLES = [
    ("KOPDES_INPUT", "ingest-cooperatives"),
    ("KOPDES_INPUT", "ingest-offers"),
    ("KOPDES_INPUT", "ingest-withdrawals"),
]
MATCHER = ("KOPDES_INTERNAL", "matcher")
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


def start_service(
    nats_url: str, database_url: str, data_dir: Path, name: str, service: str
) -> subprocess.Popen[bytes]:
    """One service in its own process, as each runs in its own container in production."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "KOPDES_METRICS_PORT": "0",
        "KOPDES_EMBEDDED_FALLBACK": "false",
        "KOPDES_LOG_FORMAT": "json",
        "KOPDES_OUTBOX_POLL_SECONDS": "0.5",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services",
            "run",
            service,
            "--nats-url",
            nats_url,
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / f"{name}.log", "ab"),
    )


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def drained(js: Any, durables: list[tuple[str, str]]) -> bool:
    for stream, durable in durables:
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:
            return False
        if info.num_pending or info.num_ack_pending:
            return False
    return True


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


async def latency(
    nc: Any,
    profiles: list[Any],
    offers: list[BaseModel],
    count: int,
    background: float,
    edit_every: int,
) -> tuple[list[float], int]:
    """Offer published → its first suggestion received, under background profile updates."""
    js = nc.jetstream()
    first_seen: dict[str, float] = {}
    waiting: dict[str, asyncio.Event] = {}

    async def on_suggested(msg: Any) -> None:
        offer_id = json.loads(msg.data)["offer_id"]
        if offer_id in waiting and offer_id not in first_seen:
            first_seen[offer_id] = time.perf_counter()
            waiting[offer_id].set()

    sub = await nc.subscribe("kopdes.match.suggested", cb=on_suggested)
    rng = random.Random(5)
    stop = asyncio.Event()

    async def updates() -> None:
        step = 0
        while not stop.is_set():
            step += 1
            update = profile_update(profiles, step, rng, edit_every)
            subject, data, msg_id = encode_event(update)
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
            await asyncio.sleep(1 / background)

    background_task = asyncio.create_task(updates())
    await asyncio.sleep(2)  # the background is steady before measuring
    samples: list[float] = []
    hops: list[tuple[float, float]] = []  # (published -> change stored, -> suggestion)
    missed = 0
    for i, offer in enumerate(rng.choices(offers, k=count)):
        fresh = offer.model_copy(update={"offer_id": f"{offer.offer_id}-lat{i}"})
        waiting[fresh.offer_id] = asyncio.Event()
        subject, data, msg_id = encode_event(fresh)
        sent, sent_wall = time.perf_counter(), time.time()
        await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
        try:
            await asyncio.wait_for(waiting[fresh.offer_id].wait(), timeout=5)
            samples.append(first_seen[fresh.offer_id] - sent)
            # Where the time went: ingest's hop ends when the change is on KOPDES_INTERNAL.
            change = await js.get_last_msg("KOPDES_INTERNAL", "kopdes.internal.offer.changed")
            if fresh.offer_id.encode() in change.data and change.time is not None:
                ingest_hop = change.time.timestamp() - sent_wall
                hops.append((ingest_hop, samples[-1] - ingest_hop))
        except TimeoutError:
            missed += 1  # an offer nobody qualifies for: no suggestion to wait for
        await asyncio.sleep(0.05)
    stop.set()
    await background_task
    await sub.unsubscribe()
    if hops:
        ingest_hops, matcher_hops = zip(*hops, strict=True)
        for name, values in (("ingest", ingest_hops), ("matcher", matcher_hops)):
            print(
                f"  {name} hop: p50 {1000 * statistics.median(values):.1f} ms, "
                f"p99 {1000 * percentile(list(values), 99):.1f} ms"
            )
    return samples, missed


async def run_pipeline(
    replicas: int,
    database_url: str,
    work: Path,
    profiles: list[BaseModel],
    offers: list[BaseModel],
    args: argparse.Namespace,
) -> dict[str, Any]:
    async with EmbeddedNats(work / "nats") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        procs = [
            start_service(server.url, database_url, work / f"r{i}", f"{service}{i}", service)
            for i in range(replicas)
            for service in ("ingest", "matcher")
        ]
        try:
            await wait_for(lambda: drained(js, [*DURABLES, MATCHER]), timeout=120)
            events = [encode_event(e) for e in (*offers, *profiles)]
            started = time.perf_counter()
            published_s = await publish_all(js, events)
            ingest_done = await wait_for(lambda: drained(js, DURABLES), timeout=3600, interval=0.2)

            engine = make_engine(database_url)

            async def matcher_done() -> bool:
                """Every change matched, every offer held back recomputed, all published."""
                internal = (await js.stream_info("KOPDES_INTERNAL")).state.messages
                if internal < len(events) or not await drained(js, [MATCHER]):
                    return False
                with Session(engine) as session:
                    return work_left(session) == 0

            match_done = await wait_for(matcher_done, timeout=3600, interval=0.2)
            suggested = (await js.stream_info("KOPDES_MATCH")).state.messages
            # Offers someone qualifies for (a suggestion to wait for), published afresh.
            with Session(engine) as session:
                matched = set(session.exec(select(SuggestionRow.offer_id).distinct()))
            engine.dispose()
            candidates = [o for o in offers if o.offer_id in matched] or offers
            samples, missed = await latency(
                nc, profiles, candidates, args.latency_offers, args.background, args.edit_every
            )
            rss = [peak_rss_mib(p.pid) for p in procs]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            await nc.close()
    n = len(events)
    return {
        "replicas": replicas,
        "events": n,
        "publish_rate": n / published_s,
        "ingest_rate": n / (ingest_done - started),
        "pipeline_rate": n / (match_done - started),
        "match_messages": suggested,
        "p50_ms": 1000 * statistics.median(samples) if samples else float("nan"),
        "p99_ms": 1000 * percentile(samples, 99) if samples else float("nan"),
        "latency_samples": len(samples),
        "latency_missed": missed,
        "rss_mib": rss,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the national set")
    parser.add_argument("--replicas", default="1,2", help="replica counts to run, e.g. 1,2")
    parser.add_argument("--latency-offers", type=int, default=200)
    parser.add_argument("--background", type=float, default=200.0, help="profile updates/s")
    parser.add_argument(
        "--edit-every",
        type=int,
        default=EDIT_EVERY,
        help="one background update in N edits units, produce and needs (0: none)",
    )
    args = parser.parse_args()

    profiles, offers = national()
    profiles = profiles[: int(len(profiles) * args.scale)]
    offers = offers[: max(1, int(len(offers) * args.scale))]
    bench_db = os.environ.get("KOPDES_BENCH_DATABASE_URL")
    print(
        f"{len(profiles):,} profiles + {len(offers):,} offers; database "
        f"{'PostgreSQL' if bench_db else 'SQLite'}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="kopdes-bench-") as tmp:
        work = Path(tmp)
        async with EmbeddedNats(work / "ceiling-nats") as server:
            nc = await nats.connect(server.url)
            raw = await ceiling(nc, [encode_event(e) for e in (*offers, *profiles)])
            await nc.close()
        print(f"raw ceiling (bare nats-py pull consumer, decode + ack): {raw:,.0f} events/s")
        results = []
        for replicas in (int(r) for r in args.replicas.split(",")):
            run_dir = work / f"run{replicas}"
            if bench_db:
                reset_schema(bench_db)
                database_url = bench_db
            else:
                database_url = f"sqlite:///{run_dir / 'kopdes.db'}"
            result = await run_pipeline(replicas, database_url, run_dir, profiles, offers, args)
            results.append(result)
            print(json.dumps(result))
    print()
    print(
        "| replicas | events | ingest ev/s | ingest+matching ev/s | of ceiling "
        "| p50 ms | p99 ms | peak RSS MiB (ingest, matcher) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['replicas']} | {r['events']:,} | {r['ingest_rate']:,.0f} | "
            f"{r['pipeline_rate']:,.0f} | {r['pipeline_rate'] / raw:.0%} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{', '.join(f'{m:.0f}' for m in r['rss_mib'])} |"
        )
    print(f"\nraw ceiling {raw:,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())
