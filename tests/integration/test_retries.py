"""A message that keeps failing in its handler is retried a bounded number of times with a
delay, then dead-lettered with its reason; it never holds back the messages around it."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

import services.ingest.service
from services.ingest.store import apply_event as real_apply_event
from services.ingest.store import apply_events as real_apply_events
from services.storage.models import CooperativeRow, DeadLetterRow
from tests.support import builders
from tests.support.harness import Harness

COOPS = "kopdes.cooperative.upserted"


@pytest.fixture
def poisoned(monkeypatch):
    """Applying the cooperative 'poison' always fails, as a bug in a handler would: alone
    or in a batch (which then fails as a whole)."""
    attempts: list[str] = []

    def poison_in(events):
        poisoned = [e for e in events if getattr(e, "cooperative_id", None) == "poison"]
        if poisoned:
            attempts.extend(e.cooperative_id for e in poisoned)
            raise RuntimeError("simulated handler bug")

    def apply_event(session, event):
        poison_in([event])
        return real_apply_event(session, event)

    def apply_events(session, events):
        poison_in(events)
        return real_apply_events(session, events)

    monkeypatch.setattr(services.ingest.service, "apply_event", apply_event)
    monkeypatch.setattr(services.ingest.service, "apply_events", apply_events)
    return attempts


async def test_poison_message_is_retried_then_dead_lettered(settings, poisoned):
    settings = settings.model_copy(update={"max_deliver": 3, "retry_delay_seconds": 0.1})
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile(cooperative_id="before"))
        await h.publish(COOPS, builders.profile(cooperative_id="poison"))
        await h.publish(COOPS, builders.profile(cooperative_id="after"))
        await h.settle()

        with Session(h.pipeline.runtime.engine) as session:
            stored = {c.cooperative_id for c in session.exec(select(CooperativeRow))}
            [letter] = session.exec(select(DeadLetterRow)).all()
        assert stored == {"before", "after"}
        # Each delivery applies it at most twice: in its batch, then alone.
        assert settings.max_deliver <= len(poisoned) <= 2 * settings.max_deliver
        assert letter.error_type == "handler_error"
        assert "failed 3 times" in letter.reason and "simulated handler bug" in letter.reason
        assert '"poison"' in letter.raw
        [published] = h.dead_letters
        assert published["error_type"] == "handler_error"
