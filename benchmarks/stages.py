"""The pipeline's stages driven in-process, without NATS: ingest applies the events, then
the matcher the changes ingest wrote to its outbox (for benchmarks that need the national
set loaded through the real code, fast)."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlmodel import Session, col, select

from schemas import internal
from services.demo.synthetic import national
from services.ingest.service import Ingest
from services.matching.service import Matcher
from services.platform.consuming import Delivery
from services.platform.database import engine_from_settings
from services.platform.publishing import encode_event
from services.platform.settings import Settings
from services.storage.models import OutboxRow
from services.storage.types import utcnow

BATCH = 200


class Unrelayed:
    """A relay that publishes nothing: the outbox rows stay in the table."""

    def hold(self, connection: Connection) -> None:
        pass

    def wake(self) -> None:
        pass


class Parts:
    """What Ingest and the Matcher use of a Runtime: settings, the engine, a relay."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = engine_from_settings(settings)
        self.relay = Unrelayed()


def deliveries(events: list[tuple[str, bytes, str]], stream: str) -> list[Delivery]:
    """As JetStream hands them out: each knows how many are still waiting after it."""
    return [
        Delivery(subject, data, msg_id, 1, f"{stream}:{i}", utcnow(), consumer=stream)
        for i, (subject, data, msg_id) in enumerate(events, start=1)
    ]


def load_national(parts: Parts, scale: float) -> None:
    """Ingest then match a part (``scale``) of the national set."""
    profiles, offers = national()
    profiles = profiles[: int(len(profiles) * scale)]
    offers = offers[: max(1, int(len(offers) * scale))]
    ingest = Ingest(parts)  # type: ignore[arg-type]  # a Runtime's settings and engine suffice
    inputs = deliveries([encode_event(e) for e in (*offers, *profiles)], "KOPDES_INPUT")
    for start in range(0, len(inputs), BATCH):
        ingest.process(inputs[start : start + BATCH])
    with Session(parts.engine) as session:
        rows = session.exec(
            select(OutboxRow)
            .where(col(OutboxRow.subject).startswith(internal.PREFIX))
            .order_by(col(OutboxRow.id))
        ).all()
    changes = deliveries([(r.subject, r.payload.encode(), r.msg_id) for r in rows], "INT")
    matcher = Matcher(parts)  # type: ignore[arg-type]  # a Runtime's settings and engine suffice
    matcher.load(internal.provinces())
    for start in range(0, len(changes), BATCH):
        matcher.process(changes[start : start + BATCH])
    matcher.ownership.close()
