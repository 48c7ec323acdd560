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
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, select

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
    return [
        Delivery(subject, data, msg_id, 1, f"{stream}:{i}", utcnow(), consumer=stream)
        for i, (subject, data, msg_id) in enumerate(events, start=1)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the national set")
    parser.add_argument("--profile", action="store_true", help="cProfile the matcher stage")
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
        if profiler:
            profiler.disable()
        matcher_rate = len(changes) / (time.perf_counter() - started)
        with Session(parts.engine) as session:
            announced = session.exec(
                select(OutboxRow.id).where(col(OutboxRow.subject).startswith("kopdes.match."))
            ).all()
        parts.engine.dispose()
    database = "PostgreSQL" if url else "SQLite"
    print(f"{len(profiles):,} profiles + {len(offers):,} offers; {database}")
    print(f"ingest:  {len(inputs):,} events, {ingest_rate:,.0f} events/s")
    print(f"matcher: {len(changes):,} changes, {matcher_rate:,.0f} changes/s")
    print(f"match messages written: {len(announced):,}")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
