"""Crash between commit and publish: the notify service as a real process, SIGKILLed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError
from sqlmodel import Session, select

from schemas import CooperativeProfile, PartnerOffer, subjects, suggestion_id
from services.ingest.convert import cooperative_row, offer_row
from services.storage.db import make_engine
from services.storage.models import NotificationRow, OutboxRow, SuggestionRow, SuggestionStatus
from tests.support import builders
from tests.support.notify_steps import decision
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

CLI = Path(sys.executable).parent / "kopdes-match"


def seed_approved(url: str) -> str:
    """A cooperative, an offer and an approved suggestion, as the other services store them."""
    engine = make_engine(url)
    from sqlmodel import SQLModel

    SQLModel.metadata.create_all(engine)
    profile = CooperativeProfile.model_validate(builders.profile())
    offer = PartnerOffer.model_validate(builders.offer())
    sid = suggestion_id(offer.partner_id, offer.offer_id, profile.cooperative_id)
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(cooperative_row(profile))
        session.add(offer_row(offer, None, ""))
        session.add(
            SuggestionRow(
                suggestion_id=sid,
                partner_id=offer.partner_id,
                offer_id=offer.offer_id,
                cooperative_id=profile.cooperative_id,
                regency_code="61.12",
                village_code=profile.village_code,
                score=80.0,
                rank=1,
                status=SuggestionStatus.APPROVED,
                created_at=now,
                updated_at=now,
            )
        )
        session.commit()
    engine.dispose()
    return sid


class NotifyProcess:
    def __init__(self, nats_url: str, database_url: str, log: Path) -> None:
        self.env = {
            **os.environ,
            "KOPDES_NATS_URL": nats_url,
            "KOPDES_DATABASE_URL": database_url,
            "KOPDES_OUTBOX_POLL_SECONDS": "0.2",
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(CLI), "run", "notify"], env=self.env, stdout=out, stderr=out
        )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def process(nats_server, database_url, tmp_path) -> Iterator[NotifyProcess]:
    p = NotifyProcess(nats_server.url, database_url, tmp_path / "notify.log")
    yield p
    if p.proc is not None:
        p.proc.kill()
        p.proc.wait(timeout=10)


async def stream_messages(js, stream: str) -> list[tuple[str, str]]:
    """(subject, Nats-Msg-Id) of every message the stream holds."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return []
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(stream, seq)
        out.append((msg.subject, (msg.headers or {}).get("Nats-Msg-Id", "")))
    return out


async def test_crash_between_commit_and_publish_publishes_once(process, nats_server, database_url):
    sid = seed_approved(database_url)
    engine = make_engine(database_url)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()

    async def consumer_ready() -> bool:
        try:
            await js.consumer_info("KOPDES_MATCH", "notify")
            return True
        except NotFoundError:
            return False

    def committed() -> list[OutboxRow]:
        with Session(engine) as session:
            return list(session.exec(select(OutboxRow)).all())

    try:
        process.start()
        await eventually(consumer_ready, timeout=60)
        # The notification stream is gone: the relay cannot publish what it commits.
        await js.delete_stream("KOPDES_NOTIFY")
        await js.publish(subjects.MATCH_DECIDED, json.dumps(decision(sid)).encode())
        # Nothing could be published: the rows stay.
        rows = await eventually(lambda: len(committed()) == 2 and committed(), timeout=30)
        process.kill()  # committed, never published

        process.start()  # declares the stream again and relays the outbox
        await eventually(lambda: committed() == [], timeout=60)  # published, then deleted
        with Session(engine) as session:
            ids = {r.notification_id for r in session.exec(select(NotificationRow))}
        assert len(ids) == 2
        published = await stream_messages(js, "KOPDES_NOTIFY")
        assert sorted(m for _, m in published) == sorted(ids)
        assert {s for s, _ in published} == {
            subjects.notify_cooperative(builders.profile()["cooperative_id"]),
            subjects.notify_partner("bri"),
        }

        # Crash after publishing but before deleting the rows: sent again on restart,
        # and JetStream drops the copies by Nats-Msg-Id.
        process.kill()
        with Session(engine) as session:
            session.add_all(OutboxRow.model_validate(row.model_dump()) for row in rows)
            session.commit()
        assert len(committed()) == 2
        process.start()
        await eventually(lambda: committed() == [], timeout=60)
        again = await stream_messages(js, "KOPDES_NOTIFY")
        assert sorted(m for _, m in again) == sorted(ids), "each notification exactly once"
        with Session(engine) as session:
            assert len(session.exec(select(NotificationRow)).all()) == 2
    finally:
        await nc.close()
        engine.dispose()
