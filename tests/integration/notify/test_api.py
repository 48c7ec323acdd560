"""The notifications API and pages (FastAPI, real database), behind a coordinator login.

The login itself belongs to the review dashboard; here a header names the coordinator,
so that the rules tested are this module's: admin only for webhooks, scope for inboxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

import pytest
from fastapi import FastAPI, Header, HTTPException
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.notify.api import notify_api, notify_pages
from services.storage.db import session_scope
from services.storage.models import SuggestionStatus, WebhookDeliveryRow, WebhookDeliveryStatus
from tests.integration.notify.test_inbox_cli import notify
from tests.integration.notify.test_reminders import seed
from tests.support import builders


@dataclass
class Who:
    role: str
    scope: list[str] = field(default_factory=list)
    active: bool = True
    username: str = "tester"


def who(x_coordinator: Annotated[str | None, Header()] = None) -> Who:
    if not x_coordinator:
        raise HTTPException(401, "login")
    role, _, scope = x_coordinator.partition(":")
    return Who(role, [s for s in scope.split(",") if s])


ADMIN = {"X-Coordinator": "admin"}
KUBU_RAYA = {"X-Coordinator": "pmo:61.12"}
SAMBAS = {"X-Coordinator": "pmo:61.01"}


@pytest.fixture
def client(engine):
    app = FastAPI()
    app.state.engine = engine
    app.include_router(notify_api(who), prefix="/api/v1")
    app.include_router(notify_pages(who))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def stored(engine):
    with session_scope(engine) as session:
        a = seed(session, "KDMP-a", builders.KUALA_DUA, SuggestionStatus.APPROVED)
        b = seed(session, "KDMP-b", builders.SAMBAS_VILLAGE, SuggestionStatus.APPROVED)
        return {
            "a1": notify(session, a, "KDMP-a", 1),
            "a2": notify(session, a, "KDMP-a", 2),
            "b": notify(session, b, "KDMP-b", 3),
        }


def test_inbox_api_in_scope_read_and_unread(client, stored):
    assert client.get("/api/v1/inbox/cooperative/KDMP-a").status_code == 401
    got = client.get("/api/v1/inbox/cooperative/KDMP-a", headers=KUBU_RAYA).json()
    assert got["unread"] == 2
    assert [i["notification_id"] for i in got["items"]] == [stored["a2"], stored["a1"]]
    # Out of scope: an empty inbox, and the notification cannot be touched.
    assert client.get("/api/v1/inbox/cooperative/KDMP-a", headers=SAMBAS).json()["items"] == []
    r = client.post(f"/api/v1/notifications/{stored['a1']}/read", headers=SAMBAS)
    assert r.status_code == 404 and "tidak ditemukan" in r.json()["detail"]

    r = client.post(f"/api/v1/notifications/{stored['a1']}/read", headers=KUBU_RAYA)
    assert r.status_code == 200 and r.json()["read"] is True
    unread = client.get(
        "/api/v1/inbox/cooperative/KDMP-a", params={"unread": True}, headers=KUBU_RAYA
    ).json()
    assert unread["unread"] == 1 and [i["notification_id"] for i in unread["items"]] == [
        stored["a2"]
    ]
    r = client.post(f"/api/v1/notifications/{stored['a1']}/unread", headers=ADMIN)
    assert r.json()["read"] is False
    bad = client.get("/api/v1/inbox/bank/KDMP-a", headers=ADMIN)
    assert bad.status_code == 422 and "jenis penerima" in bad.json()["detail"]


def test_webhook_api_is_for_admins_and_retries_failed_deliveries(client, engine, stored):
    body = {
        "recipient_type": "cooperative",
        "recipient_id": "KDMP-a",
        "url": "https://koperasi.example/h",
    }
    assert client.post("/api/v1/webhooks", json=body, headers=KUBU_RAYA).status_code == 403
    assert client.get("/api/v1/webhooks", headers=KUBU_RAYA).status_code == 403
    created = client.post("/api/v1/webhooks", json=body, headers=ADMIN)
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks", headers=ADMIN).json()
    assert [w["url"] for w in listed] == [body["url"]] and "secret" not in listed[0]
    bad = client.post("/api/v1/webhooks", json={**body, "url": "javascript:x"}, headers=ADMIN)
    assert bad.status_code == 422 and "http" in bad.json()["detail"]
    internal = client.post(
        "/api/v1/webhooks", json={**body, "url": "http://127.0.0.1:9/h"}, headers=ADMIN
    )
    assert internal.status_code == 422 and "alamat internal" in internal.json()["detail"]

    with session_scope(engine) as session:
        a = seed(session, "KDMP-c", builders.KUALA_DUA, SuggestionStatus.APPROVED)
        notify(session, a, "KDMP-a", 9)
    with session_scope(engine) as session:
        [delivery] = session.exec(select(WebhookDeliveryRow)).all()
        delivery.status, delivery.attempts, delivery.last_error = (
            WebhookDeliveryStatus.FAILED,
            8,
            "HTTP 500: x",
        )
        delivery_id = delivery.id
    failed = client.get("/api/v1/webhook-deliveries/failed", headers=ADMIN).json()
    assert [d["id"] for d in failed] == [delivery_id] and failed[0]["last_error"] == "HTTP 500: x"
    assert (
        client.post(
            f"/api/v1/webhook-deliveries/{delivery_id}/retry", headers=KUBU_RAYA
        ).status_code
        == 403
    )
    r = client.post(f"/api/v1/webhook-deliveries/{delivery_id}/retry", headers=ADMIN)
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["attempts"] == 0
    again = client.post(f"/api/v1/webhook-deliveries/{delivery_id}/retry", headers=ADMIN)
    assert again.status_code == 409
    assert client.post("/api/v1/webhook-deliveries/999/retry", headers=ADMIN).status_code == 404


def test_pages_show_the_inbox_in_scope_and_failed_deliveries_with_retry(client, engine, stored):
    page = client.get(
        "/notifikasi",
        params={"recipient_type": "cooperative", "recipient_id": "KDMP-a"},
        headers=KUBU_RAYA,
    )
    assert page.status_code == 200
    assert "2 belum dibaca" in page.text and "Judul 2" in page.text
    assert "KDMP-b" not in page.text, "Sambas is out of a Kubu Raya PMO's scope"
    marked = client.post(
        f"/notifikasi/{stored['a1']}/dibaca",
        data={"read": "true", "back": "/notifikasi?recipient_id=KDMP-a"},
        headers=KUBU_RAYA,
        follow_redirects=False,
    )
    assert marked.status_code == 303
    page = client.get("/notifikasi", params={"recipient_id": "KDMP-a"}, headers=KUBU_RAYA)
    assert "1 belum dibaca" in page.text and "Tandai belum dibaca" in page.text

    assert client.get("/admin/webhook", headers=KUBU_RAYA).status_code == 403
    client.post(
        "/api/v1/webhooks",
        json={"recipient_type": "cooperative", "recipient_id": "KDMP-a", "url": "http://h.test/"},
        headers=ADMIN,
    )
    with session_scope(engine) as session:
        a = seed(session, "KDMP-c", builders.KUALA_DUA, SuggestionStatus.APPROVED)
        notify(session, a, "KDMP-a", 9)
    with session_scope(engine) as session:
        [delivery] = session.exec(select(WebhookDeliveryRow)).all()
        delivery.status = WebhookDeliveryStatus.FAILED
        delivery.last_error = "tidak ada jawaban dalam 10 detik"
        delivery_id = delivery.id
    page = client.get("/admin/webhook", headers=ADMIN)
    assert "tidak ada jawaban dalam 10 detik" in page.text and "Kirim ulang" in page.text
    done = client.post(
        f"/admin/webhook/pengiriman/{delivery_id}/ulang", headers=ADMIN, follow_redirects=True
    )
    assert "dijadwalkan ulang" in done.text and "Tidak ada pengiriman yang gagal" in done.text
    with Session(engine) as session:
        row = session.get(WebhookDeliveryRow, delivery_id)
        assert row is not None and row.status == WebhookDeliveryStatus.PENDING
