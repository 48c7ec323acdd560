"""Shared steps of the notification tests: a stored suggestion and a coordinator's decision."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from schemas import Decision, subjects
from services.review.decisions import tell_matcher
from services.storage.models import SuggestionRow, SuggestionStatus
from tests.support import builders
from tests.support.harness import Harness

COOPS = "kopdes.cooperative.upserted"
BRI_OFFERS = "kopdes.offer.upserted.bri"
COOP_ID = "KDMP-6112012004"


async def suggested(h: Harness) -> SuggestionRow:
    """Publish a profile and an offer; return the suggestion the matcher stored."""
    await h.publish(COOPS, builders.profile())
    await h.publish(BRI_OFFERS, builders.offer())
    await h.settle()
    with Session(h.pipeline.runtime.engine) as session:
        return session.exec(select(SuggestionRow)).one()


def decision(
    suggestion_id: str, approved: bool = True, note: str = "Segera tindak lanjuti.", **kw: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "suggestion_id": suggestion_id,
        "decision": "approved" if approved else "rejected",
        "reason_code": "cocok" if approved else "tidak_cocok",
        "note": note,
        "coordinator_id": "pmo-kuburaya",
        "decided_at": datetime.now(UTC).isoformat(),
    }
    payload.update(kw)
    return payload


async def decide(
    h: Harness, suggestion_id: str, approved: bool = True, **kw: Any
) -> dict[str, Any]:
    """What the review dashboard does: store the decision, then publish it."""
    with Session(h.pipeline.runtime.engine) as session:
        row = session.get(SuggestionRow, suggestion_id)
        assert row is not None
        row.status = SuggestionStatus.APPROVED if approved else SuggestionStatus.REJECTED
        row.version += 1
        session.add(row)
        # As services/review/decisions.py does, so that the matcher knows.
        tell_matcher(session, row, Decision.APPROVED if approved else Decision.REJECTED)
        session.commit()
    payload = decision(suggestion_id, approved, **kw)
    await h.publish(subjects.MATCH_DECIDED, payload)
    return payload


def notify_messages(h: Harness) -> list[tuple[str, dict[str, Any], str]]:
    """(subject, payload, Nats-Msg-Id) of everything published under kopdes.notify.>."""
    out = []
    for subject, payloads in h.outputs.items():
        if subject.startswith("kopdes.notify."):
            for payload, headers in zip(payloads, h.headers[subject], strict=True):
                out.append((subject, payload, headers.get("Nats-Msg-Id", "")))
    return out


def dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
