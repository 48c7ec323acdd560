"""Load benchmark of the pipeline through NATS, against its transport floor (a script, not a test).

Starts its own nats-server; uses PostgreSQL when ``KOPDES_BENCH_DATABASE_URL`` is set
(its schema ``public`` is dropped and created again), else a SQLite file. In one run:

1. The pipeline: one ``run ingest`` process and ``--matchers`` ``run matcher`` processes
   (sharing the provinces; on SQLite one ``run ingest matcher`` process, as
   ``kopdes-match run`` would), the national set (``services.demo.synthetic.national``: 83,762
   profiles and 10,000 national, province and regency offers; ``--scale`` for a part)
   published as fast as possible: events/s until every change is matched and every
   suggestion published.
2. Latency: under a steady background of profile updates (``--background`` per second, one
   in ``--edit-every`` an edit), offers published one at a time; offer published -> its first
   ``kopdes.match.suggested`` (p50, p99); the changes still waiting when it ends.
3. The transport floor of the same two-hop shape (``bench_floor.floor``): bare nats-py
   stages that only forward, at the suggestions per event the pipeline produced.

Ends with one JSON line: database, matchers, events, floor_events_per_s,
pipeline_events_per_s, of_floor, p50_ms, p99_ms, backlog_at_end, matcher_rss_mib and
matcher_cpu_s (one per matcher process), suggestions_pending.

Run: ``uv run python benchmarks/bench_pipeline.py [--scale 0.1] [--matchers 2]``
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
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
from background import EDIT_EVERY, profile_update
from bench_floor import floor
from sqlalchemy import func
from sqlmodel import Session, select
from transport import cpu_seconds, peak_rss_mib, percentile, publish_all, wait_for
from upkeep import autovacuum_on, settle

from schemas import PartnerOffer, internal
from services.demo.synthetic import national
from services.matching.ownership import province_owners
from services.platform.embedded_nats import EmbeddedNats
from services.platform.outbox import unsent
from services.platform.publishing import encode_event
from services.platform.topology import INPUT, INTERNAL, consumers_backlog
from services.storage.db import make_engine, reset_schema
from services.storage.models import SuggestionRow, SuggestionStatus


def start_service(
    nats_url: str, database_url: str, data_dir: Path, name: str, services: list[str]
) -> subprocess.Popen[bytes]:
    """Services in their own process, as each runs in its own container in production."""
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
            *(sys.executable, "-m", "services", "run", *services),
            *("--nats-url", nats_url, "--database-url", database_url),
            *("--data-dir", str(data_dir)),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / f"{name}.log", "ab"),
    )


async def latency(
    nc: Any, profiles: list[Any], offers: list[PartnerOffer], args: argparse.Namespace
) -> tuple[list[float], list[float], list[float], int, int]:
    """Offer published -> its first suggestion received, under background profile updates.
    Returns the samples, those of the first hop (-> its internal change) and of the
    matcher's write (-> its first suggestion's ``created_at``), the offers nobody was
    suggested for, and the backlog at the end."""
    js = nc.jetstream()
    first_seen: dict[str, float] = {}
    written: dict[str, float] = {}  # the first suggestion's created_at (wall clock)
    waiting: dict[str, asyncio.Event] = {}

    async def on_suggested(msg: Any) -> None:
        suggestion = json.loads(msg.data)
        offer_id = suggestion["offer_id"]
        if offer_id in waiting and offer_id not in first_seen:
            first_seen[offer_id] = time.perf_counter()
            written[offer_id] = datetime.fromisoformat(suggestion["created_at"]).timestamp()
            waiting[offer_id].set()

    changed_seen: dict[str, float] = {}

    async def on_changed(msg: Any) -> None:
        offer_id = json.loads(msg.data)["offer_id"]
        if offer_id in waiting and offer_id not in changed_seen:
            changed_seen[offer_id] = time.perf_counter()

    sub = await nc.subscribe("kopdes.match.suggested", cb=on_suggested)
    changed_sub = await nc.subscribe(internal.PREFIX + "*.offer.changed", cb=on_changed)
    rng = random.Random(5)
    stop = asyncio.Event()

    async def updates() -> None:
        step = 0
        while not stop.is_set():
            step += 1
            update = profile_update(profiles, step, rng, args.edit_every)
            subject, data, msg_id = encode_event(update)
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
            await asyncio.sleep(1 / args.background)

    background_task = asyncio.create_task(updates())
    await asyncio.sleep(2)  # the background is steady before measuring
    samples: list[float] = []
    hops: list[float] = []  # offer published -> ingest announced it to a province
    writes: list[float] = []  # offer published -> the matcher wrote its first suggestion
    missed = 0
    for i, offer in enumerate(rng.choices(offers, k=args.latency_offers)):
        suffix = f"-lat{i}"  # a new offer each time, its id within the contract's 64
        fresh = offer.model_copy(update={"offer_id": offer.offer_id[: 64 - len(suffix)] + suffix})
        waiting[fresh.offer_id] = asyncio.Event()
        subject, data, msg_id = encode_event(fresh)
        sent, sent_wall = time.perf_counter(), time.time()
        await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
        try:
            await asyncio.wait_for(waiting[fresh.offer_id].wait(), timeout=5)
            samples.append(first_seen[fresh.offer_id] - sent)
            if fresh.offer_id in changed_seen:
                hops.append(changed_seen[fresh.offer_id] - sent)
            writes.append(written[fresh.offer_id] - sent_wall)
        except TimeoutError:
            missed += 1
        await asyncio.sleep(0.05)
    backlog = await consumers_backlog(js, (INTERNAL,))
    stop.set()
    await background_task
    await sub.unsubscribe()
    await changed_sub.unsubscribe()
    return samples, hops, writes, missed, backlog


async def run_pipeline(
    database_url: str, work: Path, profiles: list[Any], offers: list[Any], args: argparse.Namespace
) -> dict[str, Any]:
    sqlite = database_url.startswith("sqlite")
    async with EmbeddedNats(work / "nats") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        if sqlite:  # one process: SQLite serves one matcher process
            procs = [start_service(server.url, database_url, work, "run", ["ingest", "matcher"])]
            matchers = procs
        else:
            procs = [start_service(server.url, database_url, work, "ingest", ["ingest"])]
            matchers = [
                start_service(server.url, database_url, work, f"matcher{i}", ["matcher"])
                for i in range(args.matchers)
            ]
            procs += matchers
        engine = make_engine(database_url)
        try:

            async def ready() -> bool:
                try:
                    consumers = await js.consumers_info(INTERNAL.name)
                except Exception:
                    return False
                if len(consumers) < len(internal.provinces()):
                    return False
                # Several matchers: each holds its share before the load starts (the first
                # to start takes every province until it sees the others).
                if sqlite:
                    return True
                with engine.connect() as conn:
                    return len(province_owners(conn)) == len(matchers)

            await wait_for(ready, timeout=300)
            cpu_before = [cpu_seconds(p.pid) for p in matchers]
            events = [encode_event(e) for e in (*offers, *profiles)]
            started = time.perf_counter()
            await publish_all(js, events)

            async def done() -> bool:
                if await consumers_backlog(js, (INPUT, INTERNAL)):
                    return False
                with Session(engine) as session:
                    return unsent(session) == 0

            finished = await wait_for(done, timeout=7200, interval=0.2)
            # Where autovacuum is off, what it would have done during the load.
            analyzed = not sqlite and not autovacuum_on(engine)
            if analyzed:
                settle(engine)
            match_messages = (await js.stream_info("KOPDES_MATCH")).state.messages
            cpu_load = [cpu_seconds(p.pid) - c for p, c in zip(matchers, cpu_before, strict=True)]
            with Session(engine) as session:
                matched = set(session.exec(select(SuggestionRow.offer_id).distinct()))
            candidates = [o for o in offers if o.offer_id in matched] or offers
            samples, hops, writes, missed, backlog = await latency(nc, profiles, candidates, args)
            with Session(engine) as session:
                pending = session.exec(
                    select(func.count())
                    .select_from(SuggestionRow)
                    .where(SuggestionRow.status == SuggestionStatus.PENDING)
                ).one()
            rss = [peak_rss_mib(p.pid) for p in matchers]
            cpu = [cpu_seconds(p.pid) for p in matchers]
        finally:
            engine.dispose()
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
        "events": n,
        "pipeline_events_per_s": n / (finished - started),
        "match_messages": match_messages,
        "p50_ms": 1000 * statistics.median(samples) if samples else float("nan"),
        "p99_ms": 1000 * percentile(samples, 99) if samples else float("nan"),
        # Of which the first hop: offer published -> ingest announced it to the matcher.
        "ingest_p50_ms": 1000 * statistics.median(hops) if hops else float("nan"),
        # ... and up to the matcher's write of the first suggestion (before its commit).
        "written_p50_ms": 1000 * statistics.median(writes) if writes else float("nan"),
        "latency_samples": len(samples),
        "latency_missed": missed,
        "backlog_at_end": backlog,
        "matcher_rss_mib": [round(r) for r in rss],
        "matcher_cpu_s": [round(c, 1) for c in cpu],
        "matcher_cpu_load_s": [round(c, 1) for c in cpu_load],
        "suggestions_pending": pending,
        "analyzed": analyzed,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the national set")
    parser.add_argument("--matchers", type=int, default=1, help="matcher processes (PostgreSQL)")
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
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="kopdes-bench-") as tmp:
        work = Path(tmp)
        if bench_db:
            reset_schema(bench_db)
            database_url = bench_db
        else:
            database_url = f"sqlite:///{work / 'kopdes.db'}"
        result = await run_pipeline(database_url, work / "run", profiles, offers, args)
        print(json.dumps(result), flush=True)
        # The floor of the same shape, at the suggestions per event this run produced.
        fanout = max(1, round(result["match_messages"] / result["events"]))
        events = [encode_event(e) for e in (*offers, *profiles)]
        async with EmbeddedNats(work / "floor-nats") as server:
            floor_rate = await floor(server.url, events, fanout, 200, 2)
    line = {
        "database": "postgresql" if bench_db else "sqlite",
        "matchers": 1 if not bench_db else args.matchers,
        "events": result["events"],
        "floor_events_per_s": round(floor_rate),
        "floor_fanout": fanout,
        "pipeline_events_per_s": round(result["pipeline_events_per_s"]),
        "of_floor": round(result["pipeline_events_per_s"] / floor_rate, 3),
        **{k: v for k, v in result.items() if k not in ("events", "pipeline_events_per_s")},
    }
    print(json.dumps(line))


if __name__ == "__main__":
    asyncio.run(main())
