"""Replicas of the pipeline as real processes, the events to feed them, and the checks.

Each replica is ``python -m services run ingest matcher`` on the same nats-server and
database; they share the durable consumers, so JetStream splits the events between them.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from sqlmodel import Session, col, select

from matcher import MatchIndex
from schemas import CooperativeProfile, OfferWithdrawn, PartnerOffer, subjects
from services.backlog import work_left
from services.convert import cooperative_from_row, offer_from_row
from services.publishing import encode_event
from services.settings import Settings
from services.storage.db import make_engine
from services.storage.models import CooperativeRow, OfferRow, OutboxRow, SuggestionRow
from services.synthetic import kalbar_demo
from tests.processes import all_messages, assert_versions_consecutive, start_service

BATCH_SIZE = 50

DURABLES = [
    ("KOPDES_INPUT", "ingest-cooperatives"),
    ("KOPDES_INPUT", "ingest-offers"),
    ("KOPDES_INPUT", "ingest-withdrawals"),
    ("KOPDES_INTERNAL", "matcher"),
]


def start_replica(
    nats_url: str, database_url: str, data_dir: Path, name: str
) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return start_service(
        nats_url,
        database_url,
        data_dir,
        env={
            "KOPDES_RETRY_DELAY_SECONDS": "0.2",
            # Several batches in flight: replicas interleave.
            "KOPDES_BATCH_SIZE": str(BATCH_SIZE),
        },
        services=("ingest", "matcher"),
        log_name=name,
    )


async def consumers_ready(js: JetStreamContext) -> bool:
    try:
        for stream, durable in DURABLES:
            await js.consumer_info(stream, durable)
    except NotFoundError:
        return False
    return True


async def idle(js: JetStreamContext, database_url: str) -> bool:
    """Nothing pending or unacknowledged on any durable, nothing left in the outbox."""
    for stream, durable in DURABLES:
        info = await js.consumer_info(stream, durable)
        if info.num_pending or info.num_ack_pending:
            return False
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return work_left(session) == 0
    finally:
        engine.dispose()


class Workload:
    """~1,000 profiles interleaved with offers (some of small capacity), newer and older
    versions of profiles, newer versions of offers and withdrawals, in a shuffled order."""

    def __init__(self, limit: int = 1000, seed: int = 7) -> None:
        rng = random.Random(seed)
        profiles, offers = kalbar_demo(limit=limit)
        later, earlier = timedelta(hours=1), timedelta(hours=1)
        small = {o.offer_id: rng.choice([1, 2, 3]) for o in rng.sample(offers, 12)}
        self.offers = [
            o.model_copy(update={"capacity": small[o.offer_id]}) if o.offer_id in small else o
            for o in offers
        ]
        self.profiles = list(profiles)
        events: list[BaseModel] = [*self.profiles, *self.offers]
        self.newest: dict[str, CooperativeProfile] = {p.cooperative_id: p for p in profiles}
        for profile in rng.sample(profiles, limit // 4):
            units = list(profile.business_units)
            rng.shuffle(units)
            newer = profile.model_copy(
                update={
                    "updated_at": profile.updated_at + later,
                    "member_count": rng.choice([5, 30, 80, 400]),
                    "business_units": units[: max(1, len(units) - 2)],
                }
            )
            events.append(newer)
            self.newest[profile.cooperative_id] = newer
        for profile in rng.sample(profiles, limit // 10):  # out of order: must be ignored
            events.append(
                profile.model_copy(
                    update={"updated_at": profile.updated_at - earlier, "member_count": 1}
                )
            )
        self.newest_offers: dict[tuple[str, str], PartnerOffer] = {
            (o.partner_id, o.offer_id): o for o in self.offers
        }
        for offer in rng.sample(self.offers, 6):
            newer_offer = offer.model_copy(
                update={"updated_at": offer.updated_at + later, "min_members": 60}
            )
            events.append(newer_offer)
            self.newest_offers[(offer.partner_id, offer.offer_id)] = newer_offer
        self.withdrawn: set[tuple[str, str]] = set()
        for offer in rng.sample(self.offers, 4):
            events.append(
                OfferWithdrawn(
                    offer_id=offer.offer_id,
                    partner_id=offer.partner_id,
                    withdrawn_at=offer.updated_at + 2 * later,
                    reason="kuota habis",
                )
            )
            self.withdrawn.add((offer.partner_id, offer.offer_id))
        rng.shuffle(events)
        self.events = events

    async def publish(self, js: JetStreamContext) -> None:
        for event in self.events:
            subject, data, msg_id = encode_event(event)
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})


async def check_invariants(js: JetStreamContext, database_url: str, work: Workload) -> None:
    """Every event applied once, no suggestion published twice, capacity never exceeded,
    and each offer's pending set what one process computing from the final data gives."""
    settings = Settings()
    engine = make_engine(database_url)
    with Session(engine) as session:
        coops = {c.cooperative_id: c for c in session.exec(select(CooperativeRow))}
        offers = {(o.partner_id, o.offer_id): o for o in session.exec(select(OfferRow))}
        suggestions = {s.suggestion_id: s for s in session.exec(select(SuggestionRow))}
        internal_outbox = set(
            session.exec(
                select(OutboxRow.msg_id).where(col(OutboxRow.subject).startswith("kopdes.internal"))
            )
        )
    engine.dispose()

    # The database holds the newest version of every entity.
    assert set(coops) == set(work.newest)
    for cooperative_id, newest in work.newest.items():
        row = coops[cooperative_id]
        assert row.member_count == newest.member_count, cooperative_id
        assert row.business_units == list(newest.business_units), cooperative_id
    assert set(offers) == set(work.newest_offers)
    for key, offer in work.newest_offers.items():
        assert offers[key].min_members == offer.min_members, key
        assert (offers[key].withdrawn_at is not None) == (key in work.withdrawn), key

    # One change message per applied change (each written once, by the winner), and the
    # newest version of every cooperative among them.
    internal = await all_messages(js, "KOPDES_INTERNAL")
    internal_ids = [m.headers["Nats-Msg-Id"] for m in internal]
    assert len(internal_ids) == len(set(internal_ids))
    assert set(internal_ids) == internal_outbox
    for cooperative_id, newest in work.newest.items():
        assert f"cooperative:{cooperative_id}:{newest.updated_at.isoformat()}" in internal_outbox

    # No suggestion state published twice; versions consecutive; the last one stored.
    published = await all_messages(js, "KOPDES_MATCH")
    assert_versions_consecutive(published, suggestions)

    # Capacity never exceeded at any point of the published stream.
    live: dict[tuple[str, str], set[str]] = defaultdict(set)
    pair_of = {s.suggestion_id: (s.partner_id, s.offer_id) for s in suggestions.values()}
    for message in published:
        body = json.loads(message.data)
        key = pair_of[body["suggestion_id"]]
        if message.subject == subjects.MATCH_SUGGESTED:
            live[key].add(body["suggestion_id"])
        else:
            live[key].discard(body["suggestion_id"])
        capacity = work.newest_offers[key].capacity
        limit = min(capacity or settings.suggestions_per_offer, settings.suggestions_per_offer)
        assert len(live[key]) <= limit, (key, len(live[key]), limit)

    # The pending sets are the ones a single process computes from the final data.
    index = MatchIndex()
    for row in coops.values():
        index.upsert_cooperative(cooperative_from_row(row))
    for row in offers.values():
        if row.withdrawn_at is None:
            index.upsert_offer(offer_from_row(row))
    today = date.today()
    pending: dict[tuple[str, str], set[str]] = defaultdict(set)
    for s in suggestions.values():
        if s.status == "pending":
            pending[(s.partner_id, s.offer_id)].add(s.cooperative_id)
    nonempty = 0
    for key, offer in work.newest_offers.items():
        expected: set[str] = set()
        if key not in work.withdrawn:
            slots = min(
                offer.capacity or settings.suggestions_per_offer, settings.suggestions_per_offer
            )
            best = index.best_cooperatives(
                f"{key[0]}/{key[1]}", slots, today, min_score=settings.min_score
            )
            expected = {m.cooperative_id for m in best}
        if pending[key] != expected:  # say who is in the wrong place, and the history
            history = [
                (m.subject.rsplit(".", 1)[-1], m.headers["Nats-Msg-Id"])
                for m in published
                if pair_of[json.loads(m.data)["suggestion_id"]] == key
            ]
            extra = {
                c: index.score(f"{key[0]}/{key[1]}", c, today) for c in pending[key] - expected
            }
            missing = {
                m.cooperative_id: m.score for m in best if m.cooperative_id not in pending[key]
            }
            print(key, "extra", {c: m and m.score for c, m in extra.items()}, "missing", missing)
            print(*history, sep="\n")
        assert pending[key] == expected, key
        nonempty += bool(expected)
    assert nonempty >= 10  # the workload does produce suggestions to compare
