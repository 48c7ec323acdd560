"""The notify service on a real nats-server and a real database: the durable consumer,
redelivery, the outbox relay publishing. What a decision leads to (a rejection notifies
nobody, bad decisions are dead-lettered with a reason) is tested on the handler itself,
faster, in test_notify_handler.py."""

from __future__ import annotations

import nats
from sqlmodel import Session, select

from schemas import Notification, subjects
from services.storage.models import NotificationRow
from tests.support.harness import Harness
from tests.support.notify_steps import COOP_ID, decide, decision, notify_messages, suggested

SERVICES = ["ingest", "matcher", "notify"]


def stored(h: Harness, model: type) -> list:
    with Session(h.pipeline.runtime.engine) as session:
        return list(session.exec(select(model)).all())


async def test_approval_notifies_cooperative_and_partner_in_bahasa(settings):
    async with Harness(settings, SERVICES) as h:
        row = await suggested(h)
        await decide(h, row.suggestion_id, note="Mohon dokumen NIB disiapkan minggu ini.")
        await h.settle()

    coop = [Notification.model_validate(p) for p in h.of(subjects.notify_cooperative(COOP_ID))]
    partner = [Notification.model_validate(p) for p in h.of(subjects.notify_partner("bri"))]
    assert len(coop) == len(partner) == 1
    [to_coop], [to_partner] = coop, partner
    assert to_coop.recipient_type == "cooperative" and to_coop.recipient_id == COOP_ID
    assert to_partner.recipient_type == "partner" and to_partner.recipient_id == "bri"
    for n in (to_coop, to_partner):
        assert n.suggestion_id == row.suggestion_id
        assert "Kredit modal kerja" in n.body  # which offer
        assert "Langkah berikutnya" in n.body  # the next step
        assert "Catatan koordinator: Mohon dokumen NIB disiapkan minggu ini." in n.body
    assert "Bank Rakyat Indonesia" in to_coop.body  # who, for the cooperative
    assert "Koperasi Desa Merah Putih Kuala Dua" in to_partner.body  # who, for the partner
    assert "Kuala Dua, Sungai Raya, Kubu Raya" in to_partner.body
    assert "disetujui" in to_coop.title
    # The Nats-Msg-Id is the notification id; the inbox holds both, unread.
    ids = {msg_id for _, _, msg_id in notify_messages(h)}
    assert ids == {to_coop.notification_id, to_partner.notification_id}
    inbox = stored(h, NotificationRow)
    assert {r.notification_id for r in inbox} == ids
    assert all(r.read_at is None for r in inbox)


async def test_duplicate_and_redelivered_decisions_notify_once(settings):
    async with Harness(settings, SERVICES) as h:
        row = await suggested(h)
        first = await decide(h, row.suggestion_id)
        # The same decision again without a Nats-Msg-Id (JetStream stores it twice), and a
        # second click on "approve" that published a new decision for the same suggestion.
        await h.publish(subjects.MATCH_DECIDED, first)
        await h.publish(subjects.MATCH_DECIDED, decision(row.suggestion_id, note="klik kedua"))
        await h.settle()
        assert len(notify_messages(h)) == 2
    # Every decision delivered again: the durable consumer is deleted, so a restarted
    # service reads the whole stream from the start.
    nc = await nats.connect(settings.nats_url)
    await nc.jetstream().delete_consumer("KOPDES_MATCH", "notify")
    await nc.close()
    async with Harness(settings, SERVICES) as h2:
        await h2.settle()
        info = await h2.js.consumer_info("KOPDES_MATCH", "notify")
        assert info.delivered.stream_seq >= 3, "the decisions were delivered again"
        messages = notify_messages(h2)  # the ordered consumer replays the whole stream
    assert len(messages) == 2
    assert len({msg_id for _, _, msg_id in messages}) == 2
    assert len(stored(h2, NotificationRow)) == 2
