"""Reopening an approval tells the cooperative and the partner (contract v1.1): approve →
reopen → reject through the review's JSON API, on a real nats-server, with loopback
webhooks; each notice goes out once on NATS, in the inbox and on the webhook."""

from __future__ import annotations

import json

import httpx
from sqlmodel import Session, col, select

from schemas import subjects
from services.notify.webhooks import register_endpoint
from services.review.accounts import add_coordinator, create_token
from services.review.models import CoordinatorCreate
from services.storage.db import session_scope
from services.storage.models import NotificationRow, Role
from tests.conftest import eventually
from tests.harness import Harness
from tests.notify.helpers import COOP_ID, notify_messages, suggested
from tests.notify.receiver import Receiver

SERVICES = ["ingest", "matcher", "review", "notify"]


def inbox(h: Harness, recipient_type: str) -> list[NotificationRow]:
    with Session(h.pipeline.runtime.engine) as session:
        return list(
            session.exec(
                select(NotificationRow)
                .where(NotificationRow.recipient_type == recipient_type)
                .order_by(col(NotificationRow.created_at))
            ).all()
        )


async def test_reopened_approval_is_cancelled_once_for_cooperative_and_partner(settings):
    config = settings.model_copy(update={"webhook_poll_seconds": 0.1})
    with Receiver() as coop_hook, Receiver() as partner_hook:
        async with Harness(config, SERVICES) as h:
            engine = h.pipeline.runtime.engine
            row = await suggested(h)
            sid = row.suggestion_id
            add_coordinator(
                engine,
                CoordinatorCreate(
                    username="pmo.kuburaya", role=Role.PMO, scope=["61.12"], password="x" * 12
                ),
            )
            token = create_token(engine, "pmo.kuburaya")
            with session_scope(engine) as session:
                register_endpoint(
                    session,
                    "cooperative",
                    COOP_ID,
                    coop_hook.url,
                    allowed_hosts=config.webhook_hosts_allowed,
                )
                register_endpoint(
                    session,
                    "partner",
                    "bri",
                    partner_hook.url,
                    allowed_hosts=config.webhook_hosts_allowed,
                )
            base = f"http://127.0.0.1:{config.web_port}/api/v1"
            async with httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {token}"}
            ) as web:
                version = row.version
                approve = {"decision": "approved", "reason_code": "sesuai_kebutuhan"}
                answer = await web.post(
                    f"/suggestions/{sid}/decision", json={**approve, "version": version}
                )
                assert answer.status_code == 201, answer.text
                await h.settle()
                answer = await web.post(
                    f"/suggestions/{sid}/reopen",
                    json={"version": version + 1, "note": "Koperasi belum berbadan hukum."},
                )
                assert answer.status_code == 200, answer.text
                version = answer.json()["version"]
                # Reopening is not a decision one can post as one.
                sneaky = await web.post(
                    f"/suggestions/{sid}/decision",
                    json={"decision": "reopened", "reason_code": "x", "version": version},
                )
                assert sneaky.status_code == 422
                reject = {"decision": "rejected", "reason_code": "koperasi_belum_siap"}
                answer = await web.post(
                    f"/suggestions/{sid}/decision", json={**reject, "version": version}
                )
                assert answer.status_code == 201, answer.text
                # A reopened rejection was never announced: it tells nobody.
                answer = await web.post(f"/suggestions/{sid}/reopen", json={"version": version + 1})
                assert answer.status_code == 200, answer.text
            await h.settle()
            await eventually(lambda: len(coop_hook.accepted()) == 2)
            await eventually(lambda: len(partner_hook.accepted()) == 2)

            decided = [e["decision"] for e in h.of(subjects.MATCH_DECIDED)]
            assert decided == ["approved", "reopened", "rejected", "reopened"]

            # Each notice exactly once on NATS, per recipient, in order.
            published = notify_messages(h)
            titles = {
                subject: [p["title"].split(":")[0] for s, p, _ in published if s == subject]
                for subject in (
                    subjects.notify_cooperative(COOP_ID),
                    subjects.notify_partner("bri"),
                )
            }
            assert titles == {
                subjects.notify_cooperative(COOP_ID): [
                    "Kemitraan disetujui",
                    "Kemitraan dibatalkan",
                ],
                subjects.notify_partner("bri"): [
                    "Koperasi disetujui untuk penawaran Anda",
                    "Kemitraan dibatalkan",
                ],
            }
            assert len({msg_id for _, _, msg_id in published}) == 4

            # The inbox shows the cancellation after the approval, with the note.
            coop_inbox = inbox(h, "cooperative")
            assert [n.kind for n in coop_inbox] == ["approved", "cancelled"]
            assert "Koperasi belum berbadan hukum." in coop_inbox[1].body
            assert "Pendamping Usaha" in coop_inbox[1].body
            assert [n.kind for n in inbox(h, "partner")] == ["approved", "cancelled"]

            # The webhooks received the same notices, the cancellation last.
            for hook in (coop_hook, partner_hook):
                bodies = [json.loads(r.body) for r in hook.accepted()]
                assert bodies[-1]["title"].startswith("Kemitraan dibatalkan")
                assert bodies[-1]["suggestion_id"] == sid

            # The reopened decision delivered again changes nothing.
            reopened = next(e for e in h.of(subjects.MATCH_DECIDED) if e["decision"] == "reopened")
            await h.publish(subjects.MATCH_DECIDED, reopened)
            await h.settle()
            assert len(notify_messages(h)) == 4
            assert len(inbox(h, "cooperative")) == 2
