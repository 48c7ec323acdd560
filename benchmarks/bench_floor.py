"""The transport floor of the pipeline's shape (a script, not a test).

How fast can *any* implementation of the pipeline go on this machine, before it stores or
scores anything? Measured in one run, on one embedded nats-server, with the national set's
encoded events:

1. The raw ceiling, exactly as ``bench_pipeline.py`` measures it: the events published to a
   scratch stream first, then read by a bare nats-py pull consumer that decodes and acks.
2. The floor: the events published as fast as possible (as ``bench_pipeline.py`` does)
   while two bare nats-py stages forward them, each in its own process, as ingest and the
   matcher run: stage one decodes each input event and publishes one change event (ingest's
   outbox relay), stage two decodes each change and publishes ``--fanout`` suggestion
   events (the matcher's relay: ~2.2 per event in the national run; the national set's
   final sets alone hold ~1.9 per event). Events/s from the first publish until the last
   suggestion is stored on its stream, as a fraction of the ceiling: the best
   ``bench_pipeline.py``'s "ingest+matching" figure could reach here with no database, no
   validation and no matching at all. ``--hops 1``: one stage turns inputs straight into
   suggestions, the fewest hops the contract allows.

Run: ``uv run python benchmarks/bench_floor.py [--scale 0.1] [--fanout 2] [--hops 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import tempfile
import time
from pathlib import Path

import nats
from nats.js.api import StreamConfig
from transport import ceiling, publish_all, wait_for

from services.demo.synthetic import national
from services.platform.embedded_nats import EmbeddedNats
from services.platform.publishing import encode_event

BATCH = 200  # the services' pull batch
PULL_WAIT = 0.05  # the services' urgent pull wait
STREAMS = {"FLOOR_IN": "floor.in.>", "FLOOR_MID": "floor.mid.>", "FLOOR_OUT": "floor.out.>"}


async def forward(
    url: str, source: str, durable: str, target: str, fanout: int, batch_size: int
) -> None:
    """Decode each message of ``source``, publish ``fanout`` messages to ``target``, ack."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(f"{source}.>", durable=durable)
    while True:
        try:
            batch = await sub.fetch(batch_size, timeout=PULL_WAIT)
        except nats.errors.TimeoutError:
            continue
        published = []
        for msg in batch:
            event = json.loads(msg.data)
            key = msg.metadata.sequence.stream
            published += [
                js.publish(
                    f"{target}.{key % 3}",
                    json.dumps(event).encode(),
                    headers={"Nats-Msg-Id": f"{durable}-{key}-{i}"},
                )
                for i in range(fanout)
            ]
        await asyncio.gather(*published)
        for msg in batch:
            await msg.ack()


def stage(url: str, source: str, durable: str, target: str, fanout: int, batch_size: int) -> None:
    asyncio.run(forward(url, source, durable, target, fanout, batch_size))


async def floor(
    url: str, events: list[tuple[str, bytes, str]], fanout: int, batch_size: int, hops: int
) -> float:
    """Events/s from the first publish until every forwarded suggestion is stored.

    ``hops`` 2: ingest, then the matcher, as built; 1: one stage turns inputs into
    suggestions (the fewest hops the contract allows: events in, suggestions out)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    for name, subjects in STREAMS.items():
        await js.add_stream(StreamConfig(name=name, subjects=[subjects]))
    spawn = multiprocessing.get_context("spawn")
    stages = [
        spawn.Process(target=stage, args=(url, source, durable, target, n, batch_size))
        for source, durable, target, n in (
            [("floor.in", "ingest", "floor.mid", 1), ("floor.mid", "matcher", "floor.out", fanout)]
            if hops == 2
            else [("floor.in", "ingest", "floor.out", fanout)]
        )
    ]
    for process in stages:
        process.start()
    await asyncio.sleep(3)  # the stages connected and pulling
    try:
        expected = fanout * len(events)

        async def all_out() -> bool:
            return (await js.stream_info("FLOOR_OUT")).state.messages >= expected

        started = time.perf_counter()
        await publish_all(
            js, [(f"floor.in.{i % 3}", data, f"f{i}") for i, (_, data, _) in enumerate(events)]
        )
        done = await wait_for(all_out, timeout=600, interval=0.05)
    finally:
        for process in stages:
            process.terminate()
            process.join()
        await nc.close()
    return len(events) / (done - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the national set")
    parser.add_argument("--fanout", type=int, default=2, help="suggestions per event")
    parser.add_argument("--batch", type=int, default=BATCH, help="messages per pull")
    parser.add_argument("--hops", type=int, choices=(1, 2), default=2, help="forwarding stages")
    args = parser.parse_args()
    if args.fanout < 1:
        parser.error("--fanout must be at least 1: the floor ends when the suggestions are out")
    profiles, offers = national()
    profiles = profiles[: int(len(profiles) * args.scale)]
    offers = offers[: max(1, int(len(offers) * args.scale))]
    events = [encode_event(e) for e in (*offers, *profiles)]
    print(
        f"{len(events):,} events; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="kopdes-floor-") as tmp:
        async with EmbeddedNats(Path(tmp) / "nats") as server:
            nc = await nats.connect(server.url)
            raw = await ceiling(nc, events)
            await nc.close()
            floor_rate = await floor(server.url, events, args.fanout, args.batch, args.hops)
    print(f"raw ceiling (bare pull consumer, decode + ack): {raw:,.0f} events/s")
    print(
        f"floor (publish while {args.hops} bare stage(s) forward, fan-out {args.fanout}, "
        f"pulls of {args.batch}): "
        f"{floor_rate:,.0f} events/s = {floor_rate / raw:.0%} of the ceiling"
    )


if __name__ == "__main__":
    asyncio.run(main())
