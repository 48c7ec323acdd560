"""Webhook delivery to a real HTTP receiver on loopback, with the notify service running."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from datetime import UTC, datetime

from sqlmodel import Session, select

from schemas import Notification, RecipientType, subjects
from services.notify.service import Notifier
from services.notify.webhooks import (
    WebhookError,
    register_endpoint,
    retry_delivery,
    sign,
    verify,
)
from services.platform.backoff import backoff_delay
from services.platform.settings import Settings
from services.storage.db import session_scope
from services.storage.models import WebhookDeliveryRow, WebhookDeliveryStatus
from tests.support.harness import Harness
from tests.support.notify_steps import COOP_ID, decide, suggested
from tests.support.waiting import eventually
from tests.support.webhook_receiver import Receiver

SERVICES = ["ingest", "matcher", "notify"]


def fast(settings: Settings, **kw: object) -> Settings:
    values = {
        "webhook_base_delay_seconds": 0.05,
        "webhook_max_delay_seconds": 0.2,
        "webhook_poll_seconds": 0.05,
        "webhook_timeout_seconds": 2.0,
        "webhook_max_attempts": 4,
        **kw,
    }
    return settings.model_copy(update=values)


def register(h: Harness, url: str, recipient_type: str = "cooperative") -> str:
    recipient_id = COOP_ID if recipient_type == "cooperative" else "bri"
    with session_scope(h.pipeline.runtime.engine) as session:
        _, secret = register_endpoint(
            session,
            recipient_type,
            recipient_id,
            url,
            allowed_hosts=h.settings.webhook_hosts_allowed,
        )
    return secret


def delivery_rows(h: Harness) -> list[WebhookDeliveryRow]:
    with Session(h.pipeline.runtime.engine) as session:
        return list(session.exec(select(WebhookDeliveryRow)).all())


def readme_verify(
    secret: str, body: bytes, header: str, delivery_id: str, tolerance: int = 300
) -> bool:
    """The receiver's check exactly as the README shows it (stdlib only)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


async def test_signature_verifies_and_body_is_the_notification(settings):
    with Receiver() as receiver:
        async with Harness(fast(settings), SERVICES) as h:
            secret = register(h, receiver.url)
            partner_secret = register(h, receiver.url, "partner")
            row = await suggested(h)
            await decide(h, row.suggestion_id)
            await h.settle()
            await eventually(lambda: len(receiver.accepted()) == 2)

    by_recipient = {}
    for got in receiver.accepted():
        note = Notification.model_validate_json(got.body)
        by_recipient[note.recipient_type] = (note, got)
        assert got.headers["content-type"] == "application/json"
        assert got.headers["x-kopdes-delivery-id"] == note.notification_id
    note, got = by_recipient[RecipientType.COOPERATIVE]
    header = got.headers["x-kopdes-signature"]
    delivery_id = got.headers["x-kopdes-delivery-id"]
    assert readme_verify(secret, got.body, header, delivery_id)
    assert verify(secret, got.body, header, delivery_id)
    # Each endpoint has its own secret; a changed body, another delivery id (a captured
    # delivery's signature replayed with a fresh id) or an old timestamp fails.
    assert not verify(partner_secret, got.body, header, delivery_id)
    assert not verify(secret, got.body.replace(b"Kuala", b"Kuala!"), header, delivery_id)
    assert not verify(secret, got.body, header, delivery_id + "-again")
    assert not readme_verify(secret, got.body, header, "nt-other")
    old = sign(secret, got.body, int(time.time()) - 3600, delivery_id)
    assert not verify(secret, got.body, old, delivery_id)
    # What the webhook carries is what NATS carries.
    published = h.of(subjects.notify_cooperative(COOP_ID))
    assert json.loads(got.body) == published[0]
    assert all(r.status == WebhookDeliveryStatus.DELIVERED for r in delivery_rows(h))


async def test_receiver_that_fails_then_recovers_gets_it_exactly_once(settings):
    with Receiver(script=[500, 503, 502]) as receiver:
        async with Harness(fast(settings, webhook_max_attempts=6), SERVICES) as h:
            register(h, receiver.url)
            row = await suggested(h)
            await decide(h, row.suggestion_id)
            await h.settle()
            await eventually(lambda: receiver.accepted())
            [delivery] = await eventually(
                lambda: [r for r in delivery_rows(h) if r.status == WebhookDeliveryStatus.DELIVERED]
            )
            time.sleep(0.5)  # more passes of the worker: nothing more is sent
    assert [r.answered for r in receiver.received] == [500, 503, 502, 200]
    assert len(receiver.accepted()) == 1
    assert len({r.headers["x-kopdes-delivery-id"] for r in receiver.received}) == 1
    assert delivery.attempts == 4
    assert delivery.delivered_at is not None


async def test_receiver_that_never_answers_is_given_up_then_retried_by_an_admin(settings):
    config = fast(settings, webhook_timeout_seconds=0.3, webhook_max_attempts=3)
    with Receiver(script=["hang", "hang", "hang"], hang_seconds=3) as receiver:
        async with Harness(config, SERVICES) as h:
            register(h, receiver.url)
            row = await suggested(h)
            await decide(h, row.suggestion_id)
            # Consumption does not wait on the receiver: the notifications are out on NATS
            # while the first request still hangs.
            await h.settle()
            assert len(h.of(subjects.notify_cooperative(COOP_ID))) == 1
            [failed] = await eventually(
                lambda: [r for r in delivery_rows(h) if r.status == WebhookDeliveryStatus.FAILED],
                timeout=30,
            )
            assert failed.attempts == 3
            assert "tidak ada jawaban" in failed.last_error
            assert len(receiver.received) == 3 and not receiver.accepted()
            time.sleep(0.5)
            assert len(receiver.received) == 3, "a failed delivery is not tried again by itself"

            # The receiver is back (the script is used up: it answers 200); an admin retries.
            # The pipeline hands out its parts' handles untyped (object); this one's a Notifier.
            notifier: Notifier = h.pipeline.handle("notify")  # type: ignore[assignment]
            with session_scope(h.pipeline.runtime.engine) as session:
                retry_delivery(session, failed.id, datetime.now(UTC))
            notifier.webhooks.wake()
            [done] = await eventually(
                lambda: [r for r in delivery_rows(h) if r.status == WebhookDeliveryStatus.DELIVERED]
            )
            with session_scope(h.pipeline.runtime.engine) as session:
                try:
                    retry_delivery(session, done.id, datetime.now(UTC))
                    raise AssertionError("a delivered delivery cannot be retried")
                except WebhookError as exc:
                    assert "hanya yang gagal" in str(exc)
    assert len(receiver.accepted()) == 1
    assert done.attempts == 1


def test_backoff_is_exponential_with_full_jitter():
    rng = random.Random(7)
    for attempts in range(1, 12):
        ceiling = min(600.0, 2.0 * 2 ** (attempts - 1))
        delays = [backoff_delay(attempts, 2.0, 600.0, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8, "the jitter spans the whole window"
        assert min(delays) < ceiling * 0.2


def test_registration_refuses_bad_input(engine):
    with session_scope(engine) as session:
        for args, message in (
            (("bank", "bri", "https://bri.example/hook"), "recipient_type"),
            (("partner", "", "https://bri.example/hook"), "recipient_id"),
            (("partner", "bri", "ftp://bri.example/hook"), "http"),
            (("partner", "bri", "not a url"), "http"),
        ):
            try:
                register_endpoint(session, *args)
                raise AssertionError(f"{args} was accepted")
            except WebhookError as exc:
                assert message in str(exc)
        row, first = register_endpoint(session, "partner", "bri", "https://bri.example/hook")
        again, second = register_endpoint(session, "partner", "bri", "https://bri.example/hook")
        assert again.id == row.id and first != second, "registering again rotates the secret"
