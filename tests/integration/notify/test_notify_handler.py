"""Notify's consumer in memory: FastStream's TestNatsBroker delivers decisions to the real
router (decoder, handler, dead letters, acknowledgement) on a real database, no nats-server.

JetStream tells a consumer a message's stream position and delivery count in its reply
subject; the tests set it as the server would, so a redelivery is one argument away. What
only a server shows (the durable consumer, redelivery after a nak or a crash, the outbox
relay publishing) stays with test_notify_service.py and the e2e crash tests.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from faststream.nats.testing import PatchedMessage
from sqlalchemy import Engine
from sqlmodel import Session, select

from schemas import Notification, subjects
from services.notify.service import DURABLE, Notifier, notify_router
from services.platform.backoff import backoff_delay
from services.platform.consuming import MAX_RETRY_DELAY
from services.platform.runtime import Runtime
from services.platform.settings import Settings
from services.platform.topology import MATCH
from services.storage.models import DeadLetterRow, NotificationRow, OutboxRow
from tests.support.notify_steps import decision
from tests.support.review import SUNGAI_RAYA_A, Seeded, coop_id, seed

SEQUENCE = count(1)


def ack_subject(delivered: int = 1) -> str:
    """The reply subject JetStream gives a delivery of the notify consumer."""
    seq = next(SEQUENCE)
    return f"$JS.ACK.{MATCH.name}.{DURABLE}.{delivered}.{seq}.{seq}.1767225600000000000.0"


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float | None]]:
    """How each delivered message was settled: ("ack", None), ("nak", delay) or ("term", None)."""
    # TestNatsBroker's messages settle as no-ops; these record what the handler decided.
    seen: list[tuple[str, float | None]] = []

    async def ack(self: PatchedMessage) -> None:
        seen.append(("ack", None))

    async def nak(self: PatchedMessage, delay: float | None = None) -> None:
        seen.append(("nak", delay))

    async def term(self: PatchedMessage) -> None:
        seen.append(("term", None))

    for name, method in (("ack", ack), ("nak", nak), ("term", term)):
        monkeypatch.setattr(PatchedMessage, name, method)
    return seen


@pytest.fixture
def rows(engine: Engine) -> Seeded:
    return seed(engine)


@pytest.fixture
def notifier(engine: Engine, database_url: str, tmp_path: Path) -> Notifier:
    settings = Settings(
        database_url=database_url, data_dir=tmp_path / "data", retry_delay_seconds=0.5
    )
    return Notifier(Runtime(settings, engine, NatsBroker()))


@pytest.fixture
async def broker(notifier: Notifier) -> AsyncIterator[NatsBroker]:
    broker = notifier.runtime.broker
    broker.include_router(notify_router(notifier))
    async with TestNatsBroker(broker) as test_broker:
        yield test_broker


async def deliver(broker: NatsBroker, payload: dict[str, Any] | bytes, delivered: int = 1) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await broker.publish(data, subjects.MATCH_DECIDED, reply_to=ack_subject(delivered))


def stored(engine: Engine, model: type) -> list[Any]:
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


async def test_an_approval_stores_and_enqueues_one_notification_per_recipient(
    broker: NatsBroker, engine: Engine, rows: Seeded, settled: list[tuple[str, float | None]]
) -> None:
    sid = rows.sid(SUNGAI_RAYA_A)
    await deliver(broker, decision(sid, note="Mohon dokumen NIB disiapkan."))

    assert settled == [("ack", None)]
    inbox = stored(engine, NotificationRow)
    assert {(n.recipient_type, n.recipient_id) for n in inbox} == {
        ("cooperative", coop_id(SUNGAI_RAYA_A)),
        ("partner", "bri"),
    }
    assert all(n.suggestion_id == sid and n.read_at is None for n in inbox)
    # What the relay will publish: one message per notification, its id the Nats-Msg-Id.
    outbox = {o.msg_id: o for o in stored(engine, OutboxRow)}
    assert set(outbox) == {n.notification_id for n in inbox}
    for row in inbox:
        sent = Notification.model_validate_json(outbox[row.notification_id].payload)
        assert outbox[row.notification_id].subject == (
            subjects.notify_cooperative(row.recipient_id)
            if row.recipient_type == "cooperative"
            else subjects.notify_partner(row.recipient_id)
        )
        assert "disetujui" in sent.title
        assert "Catatan koordinator: Mohon dokumen NIB disiapkan." in sent.body
    assert not stored(engine, DeadLetterRow)


async def test_a_redelivered_decision_notifies_once(
    broker: NatsBroker, engine: Engine, rows: Seeded, settled: list[tuple[str, float | None]]
) -> None:
    payload = decision(rows.sid(SUNGAI_RAYA_A))
    await deliver(broker, payload)
    await deliver(broker, payload, delivered=2)  # the ack was lost: JetStream sends it again

    assert settled == [("ack", None), ("ack", None)]
    assert len(stored(engine, NotificationRow)) == 2
    assert len(stored(engine, OutboxRow)) == 2


async def test_a_rejection_notifies_nobody(
    broker: NatsBroker, engine: Engine, rows: Seeded, settled: list[tuple[str, float | None]]
) -> None:
    await deliver(broker, decision(rows.sid(SUNGAI_RAYA_A), approved=False))

    assert settled == [("ack", None)]
    assert not stored(engine, NotificationRow)
    assert not stored(engine, OutboxRow)
    assert not stored(engine, DeadLetterRow)


async def test_bad_decisions_are_dead_lettered_with_a_reason_and_not_redelivered(
    broker: NatsBroker, engine: Engine, rows: Seeded, settled: list[tuple[str, float | None]]
) -> None:
    await deliver(broker, b"{not json")
    await deliver(broker, decision("sg-doesnotexist"))
    await deliver(broker, {**decision(rows.sid(SUNGAI_RAYA_A)), "decision": "maybe"})

    assert settled == [("ack", None)] * 3
    assert not stored(engine, NotificationRow)
    letters = stored(engine, DeadLetterRow)
    assert sorted(letter.error_type for letter in letters) == [
        "invalid_decision",
        "invalid_decision",
        "refused",
    ]
    reasons = " | ".join(letter.reason for letter in letters)
    assert "unknown suggestion 'sg-doesnotexist'" in reasons
    assert "decision" in reasons
    assert all(letter.subject == subjects.MATCH_DECIDED for letter in letters)
    # Each known by its stream position, as the server numbered it.
    assert len({letter.source for letter in letters}) == 3
    assert all(letter.source.startswith(f"{MATCH.name}:") for letter in letters)


async def test_a_failing_handler_is_retried_with_back_off_then_given_up(
    broker: NatsBroker,
    engine: Engine,
    notifier: Notifier,
    rows: Seeded,
    settled: list[tuple[str, float | None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(session: Session, decided: Any) -> int:
        raise RuntimeError("template missing")

    monkeypatch.setattr(notifier, "decided", broken)
    payload = decision(rows.sid(SUNGAI_RAYA_A))
    last = notifier.settings.max_deliver
    for delivered in (1, 2, last):
        await deliver(broker, payload, delivered=delivered)

    base = notifier.settings.retry_delay_seconds
    # Redelivered later and later while deliveries remain; the last one is given up:
    # recorded as a dead letter and acknowledged, so it stops coming back.
    assert settled == [
        ("nak", backoff_delay(1, base, MAX_RETRY_DELAY)),
        ("nak", backoff_delay(2, base, MAX_RETRY_DELAY)),
        ("ack", None),
    ]
    [letter] = stored(engine, DeadLetterRow)
    assert letter.error_type == "handler_error"
    assert f"failed {last} times" in letter.reason and "template missing" in letter.reason
    assert not stored(engine, NotificationRow)
