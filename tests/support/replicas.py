"""Replicas of the pipeline as real processes, the events to feed them, and the checks.

Each replica is ``python -m services run ingest [matcher]`` on the same nats-server and
database. Ingest replicas share the durable consumers, so JetStream splits the events
between them; matcher replicas share the provinces (one owner each at a time).
"""

from __future__ import annotations

import random
import subprocess
from datetime import date, timedelta
from pathlib import Path

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from sqlmodel import Session, select

from matcher.shortlist import Rule, Shortlist
from matcher.shortlist import select as select_pairs
from schemas import CooperativeProfile, OfferWithdrawn, PartnerOffer, internal
from services.demo import synthetic
from services.demo.synthetic import cooperatives
from services.matching.repository import cooperative_of, offer_of
from services.platform.outbox import unsent
from services.platform.publishing import encode_event
from services.platform.settings import Settings
from services.platform.topology import consumers_backlog
from services.storage.db import make_engine
from services.storage.models import CooperativeRow, OfferRow, OutboxRow, SuggestionRow
from tests.support.processes import all_messages, assert_versions_consecutive, start_service

BATCH_SIZE = 50


def start_replica(
    nats_url: str,
    database_url: str,
    data_dir: Path,
    name: str,
    services: tuple[str, ...] = ("ingest", "matcher"),
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
        services=services,
        log_name=name,
    )


async def consumers_ready(js: JetStreamContext) -> bool:
    """Ingest's consumers and one matcher consumer per province exist."""
    try:
        for durable in ("ingest-cooperatives", "ingest-offers", "ingest-withdrawals"):
            await js.consumer_info("KOPDES_INPUT", durable)
        for province in internal.provinces():
            await js.consumer_info("KOPDES_INTERNAL", f"matcher-{province}")
    except NotFoundError:
        return False
    return True


async def idle(js: JetStreamContext, database_url: str) -> bool:
    """Nothing pending or unacknowledged on any durable, nothing left in the outbox."""
    if await consumers_backlog(js):
        return False
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return unsent(session) == 0
    finally:
        engine.dispose()


class Workload:
    """~1,000 profiles across every province interleaved with 40 national, provincial and
    regency offers (some of small capacity), newer and older versions of profiles, newer
    versions of offers and withdrawals, in a shuffled order."""

    def __init__(self, limit: int = 1000, seed: int = 7) -> None:
        rng = random.Random(seed)
        profiles = cooperatives(None, limit=limit)
        offers = _offers(40)
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


def _offers(count: int) -> list[PartnerOffer]:
    return synthetic.offers(None, count=count)


async def check_invariants(js: JetStreamContext, database_url: str, work: Workload) -> None:
    """Every event applied once, no suggestion published twice, and the pending suggestions
    what one process computing the rule from the final data gives."""
    settings = Settings()
    engine = make_engine(database_url)
    with Session(engine) as session:
        coops = {c.cooperative_id: c for c in session.exec(select(CooperativeRow))}
        offer_rows = {(o.partner_id, o.offer_id): o for o in session.exec(select(OfferRow))}
        suggestions = {s.suggestion_id: s for s in session.exec(select(SuggestionRow))}
        unsent = session.exec(select(OutboxRow.msg_id)).all()
    engine.dispose()

    # The database holds the newest version of every entity.
    assert set(coops) == set(work.newest)
    for cooperative_id, newest in work.newest.items():
        row = coops[cooperative_id]
        assert row.member_count == newest.member_count, cooperative_id
        assert row.business_units == list(newest.business_units), cooperative_id
    assert set(offer_rows) == set(work.newest_offers)
    for key, offer in work.newest_offers.items():
        assert offer_rows[key].min_members == offer.min_members, key
        assert (offer_rows[key].withdrawn_at is not None) == (key in work.withdrawn), key

    # Everything committed was published (a published outbox row is deleted), each change
    # message once, the newest version of every cooperative among them.
    assert unsent == []
    changes = await all_messages(js, "KOPDES_INTERNAL")
    change_ids = [m.headers["Nats-Msg-Id"] for m in changes]
    assert len(change_ids) == len(set(change_ids))
    for cooperative_id, newest in work.newest.items():
        assert f"cooperative:{cooperative_id}:{newest.updated_at.isoformat()}" in change_ids

    # No suggestion state published twice (every Nats-Msg-Id unique); versions consecutive.
    published = await all_messages(js, "KOPDES_MATCH")
    assert_versions_consecutive(published, suggestions)

    # The pending suggestions are the rule computed from scratch, province by province.
    rule = Rule(
        settings.suggestions_per_province,
        settings.offers_per_cooperative,
        settings.min_score,
        settings.material_score_change,
    )
    expected: set[tuple[str, str]] = set()
    for province in internal.provinces():
        shortlist = Shortlist(province, rule, date.today())
        for row in coops.values():
            shortlist.upsert_cooperative(cooperative_of(row))
        for offer_row in offer_rows.values():
            shortlist.upsert_offer(offer_of(offer_row))
        expected |= set(select_pairs(shortlist.index, rule, date.today()))
    pending = {
        (f"{s.partner_id}/{s.offer_id}", s.cooperative_id)
        for s in suggestions.values()
        if s.status == "pending"
    }
    assert pending == expected, (sorted(pending - expected)[:5], sorted(expected - pending)[:5])
    provinces = {s.province_code for s in suggestions.values() if s.status == "pending"}
    assert len(provinces) >= 10  # the workload does spread over the provinces
