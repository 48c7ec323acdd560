"""SIGKILL the service in the middle of a stream of events, start it again: nothing is
applied twice, nothing is lost, no suggestion is published twice; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError
from sqlalchemy import func
from sqlmodel import Session, col, select

from services.embedded_nats import free_port
from services.publishing import encode_event
from services.storage.db import make_engine
from services.storage.models import CooperativeRow, OutboxRow, SuggestionRow
from services.synthetic import kalbar_demo
from tests.conftest import eventually

pytestmark = pytest.mark.slow

DURABLES = [
    ("KOPDES_INPUT", "ingest-cooperatives"),
    ("KOPDES_INPUT", "ingest-offers"),
    ("KOPDES_INTERNAL", "matcher"),
]


def start_service(nats_url: str, database_url: str, data_dir: Path) -> subprocess.Popen:
    # A short ack wait: what the killed process had in flight comes back sooner.
    env = {
        **os.environ,
        "KOPDES_OUTBOX_POLL_SECONDS": "0.2",
        "KOPDES_ACK_WAIT_SECONDS": "3",
        "KOPDES_WEB_PORT": str(free_port()),  # not the default 8000 someone may be using
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services",
            "run",
            "--nats-url",
            nats_url,
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / "service.log", "ab"),
    )


async def consumers_ready(js) -> bool:
    try:
        for stream, durable in DURABLES:
            await js.consumer_info(stream, durable)
    except NotFoundError:
        return False
    return True


async def all_messages(js, stream: str) -> list:
    info = await js.stream_info(stream)
    first, last = info.state.first_seq, info.state.last_seq
    return [await js.get_msg(stream, seq) for seq in range(first, last + 1)]


async def idle(js, database_url: str) -> bool:
    """Every input acknowledged and every change announced: consumers drained, outbox empty.

    Both are needed: between a commit and the relay's publish the consumers look idle.
    """
    for stream, durable in DURABLES:
        info = await js.consumer_info(stream, durable)
        if info.num_pending or info.num_ack_pending:
            return False
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            unsent = session.exec(
                select(func.count())
                .select_from(OutboxRow)
                .where(col(OutboxRow.published_at).is_(None))
            ).one()
    finally:
        engine.dispose()
    return unsent == 0


async def test_sigkill_mid_stream_then_restart(nats_server, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database_url = f"sqlite:///{tmp_path / 'kopdes.db'}"
    cooperatives, offers = kalbar_demo(limit=900)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()

    service = start_service(nats_server.url, database_url, data_dir)
    try:
        await eventually(lambda: consumers_ready(js), timeout=30)
        for event in (*offers, *cooperatives):
            subject, data, msg_id = encode_event(event)
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})

        async def mid_stream() -> bool:
            matched = (await js.stream_info("KOPDES_MATCH")).state.messages
            ingesting = (await js.consumer_info("KOPDES_INPUT", "ingest-cooperatives")).num_pending
            matching = (await js.consumer_info("KOPDES_INTERNAL", "matcher")).num_pending
            return matched >= 30 and (ingesting + matching) > 0

        await eventually(mid_stream, timeout=60, interval=0.01)
        service.send_signal(signal.SIGKILL)
        assert service.wait(timeout=10) == -signal.SIGKILL

        service = start_service(nats_server.url, database_url, data_dir)
        await eventually(lambda: idle(js, database_url), timeout=120, interval=0.2)
        await asyncio.sleep(1.5)  # the relay's last flush
        assert await idle(js, database_url)

        # SIGTERM: a clean stop.
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
    finally:
        if service.poll() is None:
            service.kill()

    # Every profile applied, as published.
    engine = make_engine(database_url)
    with Session(engine) as session:
        stored = {c.cooperative_id: c for c in session.exec(select(CooperativeRow))}
        suggestions = {s.suggestion_id: s for s in session.exec(select(SuggestionRow))}
    assert len(stored) == len(cooperatives)
    for profile in cooperatives:
        assert stored[profile.cooperative_id].member_count == profile.member_count

    # Each applied change was announced exactly once: one internal message per entity.
    internal = await all_messages(js, "KOPDES_INTERNAL")
    assert len(internal) == len(cooperatives) + len(offers)

    # No suggestion state published twice; versions consecutive; the last one stored.
    published = await all_messages(js, "KOPDES_MATCH")
    msg_ids = [m.headers["Nats-Msg-Id"] for m in published]
    assert len(msg_ids) == len(set(msg_ids))
    versions: dict[str, list[int]] = defaultdict(list)
    for msg_id in msg_ids:
        suggestion_id, _, version = msg_id.split(":")
        versions[suggestion_id].append(int(version))
    for suggestion_id, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), suggestion_id
        assert suggestions[suggestion_id].version == len(seen)
    kinds = Counter(m.subject for m in published)
    assert kinds["kopdes.match.suggested"] >= len({s for s in suggestions})
    last = {json.loads(m.data)["suggestion_id"]: m.subject for m in published}
    for suggestion_id, row in suggestions.items():
        expected = (
            "kopdes.match.retracted" if row.status == "retracted" else "kopdes.match.suggested"
        )
        assert last[suggestion_id] == expected
    await nc.close()
