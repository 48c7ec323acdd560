"""Ingest and matcher stages in one process, without NATS (a script, not a test).

Replays a fraction of the national data set (offers first, then profiles, as
``bench_pipeline.py`` publishes them) through ``Ingest.process`` in batches of 200, then
hands the ``kopdes.internal.*`` changes ingest wrote to its outbox to
``Matchmaker.process`` in batches of 200, starting from an empty index as a fresh
pipeline does. Prints events/s for each stage and the number of ``kopdes.match.*``
messages the matcher wrote. It isolates the services' own work from the transport,
which ``bench_pipeline.py`` measures end to end.

Run: ``uv run python benchmarks/bench_stages.py [--scale 0.1] [--profile]``; set
``KOPDES_BENCH_DATABASE_URL`` for PostgreSQL (its schema ``public`` is dropped first).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

from background import profile_update
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from schemas import CooperativeProfile
from services.consuming import Delivery
from services.ingest import Ingest
from services.matching import Matchmaker
from services.publishing import encode_event
from services.settings import Settings
from services.storage.db import create_schema, engine_from_settings, reset_schema
from services.storage.models import OutboxRow
from services.storage.types import utcnow
from services.synthetic import national

BATCH = 200


class Parts:
    """What Ingest and Matchmaker use of a Runtime: settings and the engine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = engine_from_settings(settings)


def deliveries(events: list[tuple[str, bytes, str]], stream: str) -> list[Delivery]:
    """As JetStream hands them out: each knows how many are still waiting after it."""
    return [
        Delivery(
            subject,
            data,
            msg_id,
            1,
            f"{stream}:{i}",
            utcnow(),
            consumer=stream,
            num_pending=len(events) - i,
        )
        for i, (subject, data, msg_id) in enumerate(events, start=1)
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Steady:
    """After the load: what one background batch of profile updates and one new offer
    cost the matcher (service times; the transport adds its own)."""

    def __init__(self, parts: Parts, ingest: Ingest, matchmaker: Matchmaker) -> None:
        self.parts, self.ingest, self.matchmaker = parts, ingest, matchmaker
        with Session(parts.engine) as session:
            self.last_id = session.exec(select(func.max(OutboxRow.id))).one() or 0

    def _changes(self) -> list[Delivery]:
        with Session(self.parts.engine) as session:
            rows = session.exec(
                select(OutboxRow)
                .where(col(OutboxRow.id) > self.last_id)
                .where(col(OutboxRow.subject).startswith("kopdes.internal."))
                .order_by(col(OutboxRow.id))
            ).all()
        if rows:
            self.last_id = rows[-1].id or self.last_id
        events = [(r.subject, r.payload.encode(), r.msg_id) for r in rows]
        return [replace(d, num_pending=0) for d in deliveries(events, "INT")]

    def matcher_ms(self, events: list[BaseModel]) -> float:
        """Ingest the events, then time the matcher's batch of their changes."""
        self.ingest.process(deliveries([encode_event(e) for e in events], "IN"))
        changes = self._changes()
        started = time.perf_counter()
        self.matchmaker.process(changes)
        return 1000 * (time.perf_counter() - started)


def steady_state(
    steady: Steady, profiles: list[CooperativeProfile], offers: list[BaseModel], rounds: int
) -> tuple[list[float], list[float]]:
    rng = random.Random(5)
    update_ms, offer_ms = [], []
    for step in range(1, rounds + 1):
        # 50 ms of 200 updates/s
        batch = [profile_update(profiles, 10 * step + i, rng) for i in range(10)]
        update_ms.append(steady.matcher_ms(batch))
        if step % 5 == 0:
            offer = rng.choice(offers)
            fresh = offer.model_copy(update={"offer_id": f"{offer.offer_id}-s{step}"})
            offer_ms.append(steady.matcher_ms([fresh]))
    return update_ms, offer_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the national set")
    parser.add_argument("--profile", action="store_true", help="cProfile the matcher stage")
    parser.add_argument(
        "--steady", type=int, default=200, help="rounds of 10 profile updates after the load"
    )
    parser.add_argument(
        "--profile-steady", action="store_true", help="cProfile the steady state instead"
    )
    args = parser.parse_args()

    profiles, offers = national()
    profiles = profiles[: int(len(profiles) * args.scale)]
    offers = offers[: max(1, int(len(offers) * args.scale))]
    events = [encode_event(e) for e in (*offers, *profiles)]
    with tempfile.TemporaryDirectory(prefix="kopdes-stages-") as tmp:
        url = os.environ.get("KOPDES_BENCH_DATABASE_URL")
        if url:
            reset_schema(url)
        settings = Settings(database_url=url or f"sqlite:///{Path(tmp) / 'k.db'}", data_dir=tmp)
        parts = Parts(settings)
        create_schema(parts.engine)

        ingest = Ingest(parts)  # type: ignore[arg-type]
        inputs = deliveries(events, "KOPDES_INPUT")
        started = time.perf_counter()
        for start in range(0, len(inputs), BATCH):
            ingest.process(inputs[start : start + BATCH])
        ingest_rate = len(inputs) / (time.perf_counter() - started)

        with Session(parts.engine) as session:
            rows = session.exec(
                select(OutboxRow)
                .where(col(OutboxRow.subject).startswith("kopdes.internal."))
                .order_by(col(OutboxRow.id))
            ).all()
        changes = deliveries([(r.subject, r.payload.encode(), r.msg_id) for r in rows], "INT")
        matchmaker = Matchmaker(parts, today=date.today)  # type: ignore[arg-type]
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for start in range(0, len(changes), BATCH):
            matchmaker.process(changes[start : start + BATCH])
        while matchmaker.release():  # the offers held back while behind
            pass
        if profiler:
            profiler.disable()
        matcher_rate = len(changes) / (time.perf_counter() - started)
        with Session(parts.engine) as session:
            announced = session.exec(
                select(OutboxRow.id).where(col(OutboxRow.subject).startswith("kopdes.match."))
            ).all()
        steady_profiler = cProfile.Profile() if args.profile_steady else None
        if steady_profiler:
            steady_profiler.enable()
        update_ms, offer_ms = steady_state(
            Steady(parts, ingest, matchmaker), profiles, offers, args.steady
        )
        if steady_profiler:
            steady_profiler.disable()
            profiler = steady_profiler
        parts.engine.dispose()
    database = "PostgreSQL" if url else "SQLite"
    print(f"{len(profiles):,} profiles + {len(offers):,} offers; {database}")
    print(f"ingest:  {len(inputs):,} events, {ingest_rate:,.0f} events/s")
    print(f"matcher: {len(changes):,} changes, {matcher_rate:,.0f} changes/s")
    print(f"match messages written: {len(announced):,}")
    if update_ms:
        print(
            f"steady: 10 profile updates {statistics.median(update_ms):.1f} ms median, "
            f"p99 {percentile(update_ms, 99):.1f} ms; one new offer "
            f"{statistics.median(offer_ms):.1f} ms median, p99 {percentile(offer_ms, 99):.1f} ms"
        )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
