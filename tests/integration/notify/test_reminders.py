"""Reminders and closed offers, with a controllable clock, on a real database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, select

from schemas import CooperativeProfile, PartnerOffer, subjects, suggestion_id
from services.ingest.convert import cooperative_row, offer_row
from services.notify.reminders import Sweeper
from services.platform.settings import Settings
from services.storage.db import session_scope
from services.storage.models import (
    NotificationRow,
    OfferRow,
    OutboxRow,
    ReminderRow,
    SuggestionRow,
    SuggestionStatus,
)
from tests.support import builders
from tests.support.harness import Harness
from tests.support.notify_steps import BRI_OFFERS, COOP_ID, decide, suggested
from tests.support.waiting import eventually

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed(session: Session, coop_id: str, village: str, status: SuggestionStatus) -> str:
    profile = CooperativeProfile.model_validate(
        builders.profile(cooperative_id=coop_id, village_code=village)
    )
    session.add(cooperative_row(profile))
    if session.get(OfferRow, ("bri", "bri-kur-kuburaya-2026")) is None:
        offer = PartnerOffer.model_validate(builders.offer(regions=[]))
        session.add(offer_row(offer, None, ""))
        session.flush()
    sid = suggestion_id("bri", "bri-kur-kuburaya-2026", coop_id)
    regency = ".".join(village.split(".")[:2])
    session.add(
        SuggestionRow(
            suggestion_id=sid,
            partner_id="bri",
            offer_id="bri-kur-kuburaya-2026",
            cooperative_id=coop_id,
            regency_code=regency,
            village_code=village,
            score=70.0,
            rank=1,
            status=status,
            created_at=T0,
            updated_at=T0,
        )
    )
    return sid


def reminders(engine) -> list[NotificationRow]:
    with Session(engine) as session:
        return list(
            session.exec(select(NotificationRow).where(NotificationRow.kind == "reminder")).all()
        )


def test_pending_suggestions_remind_their_regency_once_per_period(engine):
    settings = Settings(reminder_after_days=3)
    with session_scope(engine) as session:
        a = seed(session, "KDMP-a", builders.KUALA_DUA, SuggestionStatus.PENDING)
        b = seed(session, "KDMP-b", builders.SUNGAI_RAYA, SuggestionStatus.PENDING)
        c = seed(session, "KDMP-c", builders.SAMBAS_VILLAGE, SuggestionStatus.PENDING)
        seed(session, "KDMP-d", builders.SUNGAI_RAYA, SuggestionStatus.APPROVED)
    clock = Clock(T0 + timedelta(days=2, hours=23))
    sweeper = Sweeper(engine, settings, now=clock)
    assert sweeper.sweep() == 0, "not pending long enough yet"

    clock.now = T0 + timedelta(days=3, minutes=1)
    assert sweeper.sweep() == 2, "one reminder per regency"
    first = {r.recipient_id: r for r in reminders(engine)}
    assert set(first) == {"61.12", "61.01"}
    assert all(r.recipient_type == "coordinator" for r in first.values())
    assert "2 usulan kemitraan di Kabupaten Kubu Raya" in first["61.12"].body
    assert a in first["61.12"].body and b in first["61.12"].body
    assert c in first["61.01"].body
    with Session(engine) as session:
        outbox = {r.subject: json.loads(r.payload) for r in session.exec(select(OutboxRow))}
        rows = session.exec(select(ReminderRow)).all()
    assert set(outbox) == {"kopdes.notify.coordinator.61.12", "kopdes.notify.coordinator.61.01"}
    assert sorted(outbox["kopdes.notify.coordinator.61.12"]["suggestion_ids"]) == sorted([a, b])
    assert {(r.suggestion_id, r.period_index) for r in rows} == {(a, 1), (b, 1), (c, 1)}

    # The same period: neither another sweep nor a restarted service reminds again.
    assert sweeper.sweep() == 0
    clock.now = T0 + timedelta(days=5, hours=23)
    assert Sweeper(engine, settings, now=clock).sweep() == 0
    assert len(reminders(engine)) == 2

    # A decision meanwhile: the next period reminds of what is still pending only.
    with session_scope(engine) as session:
        row = session.get(SuggestionRow, b)
        assert row is not None
        row.status = SuggestionStatus.APPROVED
    clock.now = T0 + timedelta(days=6, minutes=1)
    assert Sweeper(engine, settings, now=clock).sweep() == 2
    second = [
        r
        for r in reminders(engine)
        if r.notification_id not in {n.notification_id for n in first.values()}
    ]
    kubu = next(r for r in second if r.recipient_id == "61.12")
    assert "1 usulan kemitraan" in kubu.body and a in kubu.body and b not in kubu.body


def test_approved_offer_withdrawn_or_expired_notifies_the_cooperative_once(engine):
    settings = Settings(reminder_after_days=0)  # reminders off: closed offers only
    with session_scope(engine) as session:
        approved = seed(session, "KDMP-a", builders.KUALA_DUA, SuggestionStatus.APPROVED)
        seed(session, "KDMP-b", builders.SUNGAI_RAYA, SuggestionStatus.PENDING)
    clock = Clock(T0)
    sweeper = Sweeper(engine, settings, now=clock)
    assert sweeper.sweep() == 0

    with session_scope(engine) as session:
        offer = session.get(OfferRow, ("bri", "bri-kur-kuburaya-2026"))
        assert offer is not None
        offer.withdrawn_at, offer.withdraw_reason = T0, "kuota habis"
    assert sweeper.sweep() == 1, "the approved cooperative only, not the pending one"
    assert sweeper.sweep() == 0
    with Session(engine) as session:
        [note] = session.exec(select(NotificationRow)).all()
        [out] = session.exec(select(OutboxRow)).all()
    assert note.recipient_id == "KDMP-a" and note.suggestion_id == approved
    assert "ditarik oleh mitra (alasan: kuota habis)" in note.body
    assert (
        out.subject == subjects.notify_cooperative("KDMP-a") and out.msg_id == note.notification_id
    )

    # Offered again, then past its validity date: told that it expired.
    with session_scope(engine) as session:
        offer = session.get(OfferRow, ("bri", "bri-kur-kuburaya-2026"))
        assert offer is not None
        offer.withdrawn_at, offer.valid_until = None, date(2026, 12, 31)
    clock.now = datetime(2026, 12, 31, 12, tzinfo=UTC)
    assert sweeper.sweep() == 0, "valid through its last day"
    clock.now = datetime(2027, 1, 1, 12, tzinfo=UTC)
    assert sweeper.sweep() == 1
    assert Sweeper(engine, settings, now=clock).sweep() == 0
    with Session(engine) as session:
        expired = session.exec(
            select(NotificationRow).where(NotificationRow.kind == "offer_expired")
        ).one()
    assert "berakhir masa berlakunya pada 31-12-2026" in expired.body


async def test_withdrawal_after_approval_reaches_the_cooperative_on_nats(settings):
    config = settings.model_copy(update={"notify_sweep_seconds": 0.2})
    async with Harness(config, ["ingest", "matcher", "notify"]) as h:
        row = await suggested(h)
        await decide(h, row.suggestion_id)
        await h.settle()
        await h.publish(
            "kopdes.offer.withdrawn.bri",
            builders.withdrawal(withdrawn_at=datetime.now(UTC).isoformat()),
        )
        await h.settle()
        subject = subjects.notify_cooperative(COOP_ID)
        got = await eventually(lambda: len(h.of(subject)) == 2 and h.of(subject))
        assert "ditarik oleh mitra" in got[1]["body"]
        assert got[1]["suggestion_id"] == row.suggestion_id
        assert BRI_OFFERS  # the offer came from the partner's own subject
