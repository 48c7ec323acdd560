"""The service as a real process, and the checks every fault test makes afterwards.

Used by the crash test (SIGKILL) and the fault tests (database outage, NATS restart):
start ``python -m services run`` against a given NATS and database, publish a stream of
events, and verify that every event was applied once and nothing was published twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

from nats.js.errors import NotFoundError
from sqlmodel import Session, select

from services.platform.embedded_nats import free_port
from services.platform.outbox import unsent as work_left
from services.platform.topology import consumers_backlog
from services.storage.db import make_engine
from services.storage.models import CooperativeRow, DeadLetterRow, SuggestionRow

DURABLES = [
    ("KOPDES_INPUT", "ingest-cooperatives"),
    ("KOPDES_INPUT", "ingest-offers"),
    ("KOPDES_INTERNAL", "matcher-61"),
]


def start_service(
    nats_url: str,
    database_url: str,
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    services: tuple[str, ...] = (),
    log_name: str = "service",
) -> subprocess.Popen:
    # A short ack wait: what a killed process had in flight comes back sooner.
    environment = {
        **os.environ,
        "KOPDES_OUTBOX_POLL_SECONDS": "0.2",
        "KOPDES_ACK_WAIT_SECONDS": "3",
        "KOPDES_WEB_PORT": str(free_port()),  # not the default 8000 someone may be using
        "KOPDES_METRICS_PORT": "0",
        "KOPDES_EMBEDDED_FALLBACK": "false",  # a NATS outage must not start a private server
        **(env or {}),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services",
            "run",
            *services,
            "--nats-url",
            nats_url,
            "--database-url",
            database_url,
            "--data-dir",
            str(data_dir),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / f"{log_name}.log", "ab"),
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
    if not info.state.messages:
        return []
    return [await js.get_msg(stream, seq) for seq in range(first, last + 1)]


async def idle(js) -> bool:
    return await consumers_backlog(js) == 0


def unfinished_work(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return work_left(session)
    finally:
        engine.dispose()


def log_messages(data_dir: Path) -> list[str]:
    """The messages of a service started with KOPDES_LOG_FORMAT=json."""
    messages: list[str] = []
    path = data_dir / "service.log"
    if not path.exists():
        return messages
    for line in path.read_text(errors="replace").splitlines():
        try:
            messages.append(json.loads(line)["message"])
        except (ValueError, KeyError, TypeError):
            continue  # a line from before logging was set up
    return messages


def logged(data_dir: Path, prefix: str) -> int:
    return sum(message.startswith(prefix) for message in log_messages(data_dir))


async def settled(js, database_url: str) -> bool:
    """Nothing left to do: no input or change unacknowledged, no message left to publish,
    no offer held back.

    Both at once: an outbox row published after the consumers went idle would make the
    matcher busy again.
    """
    return await idle(js) and unfinished_work(database_url) == 0


async def assert_applied_once(js, database_url: str, cooperatives, offers) -> None:
    """Every event applied once; every change and suggestion state published exactly once."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            stored = {c.cooperative_id: c for c in session.exec(select(CooperativeRow))}
            suggestions = {s.suggestion_id: s for s in session.exec(select(SuggestionRow))}
            dead_letters = session.exec(select(DeadLetterRow)).all()
            unpublished = work_left(session)
    finally:
        engine.dispose()

    # Nothing refused: valid events are never dead-lettered, whatever went wrong meanwhile.
    assert [(d.error_type, d.reason) for d in dead_letters] == []
    assert (await js.stream_info("KOPDES_DEADLETTER")).state.messages == 0
    assert unpublished == 0

    # Every profile applied, as published.
    assert len(stored) == len(cooperatives)
    for profile in cooperatives:
        row = stored[profile.cooperative_id]
        assert (row.name, row.member_count) == (profile.name, profile.member_count)

    # Each applied change was announced exactly once: one internal message per entity.
    internal = await all_messages(js, "KOPDES_INTERNAL")
    assert len(internal) == len(cooperatives) + len(offers)
    internal_ids = [m.headers["Nats-Msg-Id"] for m in internal]
    assert len(internal_ids) == len(set(internal_ids))

    # No suggestion state published twice; versions consecutive; the last one stored.
    published = await all_messages(js, "KOPDES_MATCH")
    assert published, "no suggestion was published at all"
    assert_versions_consecutive(published, suggestions)
    kinds = Counter(m.subject for m in published)
    assert kinds["kopdes.match.suggested"] >= len(suggestions)
    last = {json.loads(m.data)["suggestion_id"]: m.subject for m in published}
    for suggestion_id, suggestion in suggestions.items():
        expected = (
            "kopdes.match.retracted"
            if suggestion.status == "retracted"
            else "kopdes.match.suggested"
        )
        assert last[suggestion_id] == expected


def assert_versions_consecutive(published: list, suggestions: dict) -> None:
    """No suggestion state published twice: unique Nats-Msg-Ids, versions 1..n per
    suggestion, the last one the stored row's."""
    msg_ids = [m.headers["Nats-Msg-Id"] for m in published]
    assert len(msg_ids) == len(set(msg_ids))
    versions: dict[str, list[int]] = defaultdict(list)
    for msg_id in msg_ids:
        suggestion_id, _, version = msg_id.split(":")
        versions[suggestion_id].append(int(version))
    for suggestion_id, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), suggestion_id
        assert suggestions[suggestion_id].version == len(seen), suggestion_id
    assert set(versions) == set(suggestions)
