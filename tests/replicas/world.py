"""Ingest and one matcher in this process, fed by hand (no NATS), on a real database."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

from sqlmodel import Session, col, select

from schemas import subjects
from services.consuming import ACK, Delivery, process_batch
from services.ingest import Ingest
from services.matching import Matchmaker
from services.settings import Settings
from services.storage.models import OutboxRow, SuggestionRow
from services.storage.types import utcnow

TODAY = date(2026, 11, 27)
COOPERATIVES = ["KDMP-6112012001", "KDMP-6112012002", "KDMP-6112012003", "KDMP-6112012004"]


class FakeRelay:
    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


class FakeRuntime:
    def __init__(self, engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.relay = FakeRelay()


@dataclass
class FakeMsg:
    """A change as JetStream delivers it, for ``Matchmaker.consume`` and its follower."""

    subject: str
    data: bytes
    sequence: int  # on KOPDES_INTERNAL
    num_pending: int = 0
    headers: None = None
    settled: str = ""

    @property
    def metadata(self) -> SimpleNamespace:
        return SimpleNamespace(
            num_delivered=1,
            stream="KOPDES_INTERNAL",
            sequence=SimpleNamespace(stream=self.sequence),
            consumer="matcher",
            num_pending=self.num_pending,
        )

    async def ack(self) -> None:
        self.settled = "ack"

    async def nak(self, delay: float | None = None) -> None:
        self.settled = "nak"


class World:
    """Ingest and one matcher in this process, fed by hand (no NATS)."""

    def __init__(self, engine, database_url: str, **settings: object) -> None:
        self.engine = engine
        runtime = FakeRuntime(engine, Settings(database_url=database_url, **settings))
        self.ingest = Ingest(runtime)  # type: ignore[arg-type]
        self.matcher = Matchmaker(runtime, today=lambda: TODAY)  # type: ignore[arg-type]
        # Fed by hand: no batch is on its way after the last one.
        self.matcher.hold_grace_seconds = 0.0
        self.sequence = 0
        self.relayed = 0  # outbox rows handed to the matcher so far

    def publish(self, subject: str, payload: dict | bytes) -> None:
        self.sequence += 1
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        delivery = Delivery(subject, data, None, 1, f"IN:{self.sequence}", utcnow())
        outcome = process_batch(
            self.engine,
            [delivery],
            self.ingest.apply,
            self.ingest.give_up,
            max_deliver=5,
            base_delay=0.01,
        )
        assert outcome == [ACK]

    def changes(self, waiting: int = 0) -> list[FakeMsg]:
        """Every change ingest announced since the last call, as the matcher's durable
        delivers them, followed by ``waiting`` more on the stream."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(OutboxRow)
                .where(col(OutboxRow.subject).startswith("kopdes.internal."))
                .order_by(col(OutboxRow.id))
                .offset(self.relayed)
            ).all()
        self.relayed += len(rows)
        return [FakeMsg(r.subject, r.payload.encode(), r.id, waiting) for r in rows]  # type: ignore[arg-type]

    def match(self, waiting: int = 0) -> list[object]:
        """Hand the matcher every change ingest announced since the last call, as one
        batch after which ``waiting`` more changes wait on the stream."""
        changes = [
            Delivery(m.subject, m.data, None, 1, f"INT:{m.sequence}", utcnow(), num_pending=waiting)
            for m in self.changes(waiting)
        ]
        return self.matcher.process(changes)

    def consume(self, msgs: list[FakeMsg]) -> list[str]:
        """The matcher's batch handler on these messages; how each was settled."""
        asyncio.run(self.matcher.consume(SimpleNamespace(raw_message=msgs)))  # type: ignore[arg-type]
        return [m.settled for m in msgs]

    def stored(self) -> dict[str, tuple[str, float]]:
        with Session(self.engine) as session:
            rows = session.exec(select(SuggestionRow)).all()
        return {r.cooperative_id: (str(r.status), r.score) for r in rows}

    def held(self) -> dict[str, tuple[str, float]]:
        """What the matcher's ledger holds (retracted rows are let go after each commit)."""
        return {
            cid: (str(row.status), row.score)
            for book in self.matcher.ledger._books.values()
            for cid, row in book.rows.items()
        }

    def suggested(self, cooperative_id: str) -> int:
        with Session(self.engine) as session:
            rows = session.exec(
                select(OutboxRow).where(OutboxRow.subject == subjects.MATCH_SUGGESTED)
            ).all()
        return sum(json.loads(r.payload)["cooperative_id"] == cooperative_id for r in rows)


def offers_subject(partner: str) -> str:
    return subjects.OFFER_UPSERTED_PREFIX + partner


def open_rows(world: World) -> dict[str, tuple[str, float]]:
    return {cid: v for cid, v in world.stored().items() if v[0] != "retracted"}


def announced(world: World) -> list[tuple[str, str]]:
    """(subject, cooperative id or suggestion id) of every kopdes.match.* message, in order."""
    with Session(world.engine) as session:
        rows = session.exec(
            select(OutboxRow)
            .where(col(OutboxRow.subject).startswith("kopdes.match."))
            .order_by(col(OutboxRow.id))
        ).all()
    found = []
    for row in rows:
        payload = json.loads(row.payload)
        found.append((row.subject, payload.get("cooperative_id", payload["suggestion_id"])))
    return found
