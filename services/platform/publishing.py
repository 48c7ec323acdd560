"""Publishing contract events to JetStream: subjects and deterministic ``Nats-Msg-Id``s.

Used by ``kopdes-match publish`` and the demo, the way a partner system would publish.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nats
from pydantic import BaseModel

from schemas import CooperativeProfile, OfferWithdrawn, PartnerOffer, subjects
from services.platform.settings import Settings


def subject_for(payload: dict[str, Any]) -> str | None:
    """The contract subject an event belongs on, judged by its fields."""
    partner = payload.get("partner_id")
    if isinstance(partner, str) and "offer_id" in payload:
        if "withdrawn_at" in payload:
            return subjects.offer_withdrawn(partner)
        return subjects.offer_upserted(partner)
    if "cooperative_id" in payload:
        return subjects.COOPERATIVE_UPSERTED
    return None


def msg_id_for(payload: dict[str, Any], data: bytes) -> str:
    """``id:updated_at`` as CONTRACT.md suggests; a content hash for anything else."""
    if "offer_id" in payload and "withdrawn_at" in payload:
        return (
            f"{payload.get('partner_id')}/{payload['offer_id']}:withdrawn:{payload['withdrawn_at']}"
        )
    if "offer_id" in payload and "updated_at" in payload:
        return f"{payload.get('partner_id')}/{payload['offer_id']}:{payload['updated_at']}"
    if "cooperative_id" in payload and "updated_at" in payload:
        return f"{payload['cooperative_id']}:{payload['updated_at']}"
    return "sha256:" + hashlib.sha256(data).hexdigest()


def encode_event(event: BaseModel) -> tuple[str, bytes, str]:
    """(subject, body, msg id) for a contract event model."""
    data = event.model_dump_json().encode()
    payload = json.loads(data)
    if isinstance(event, CooperativeProfile | PartnerOffer | OfferWithdrawn):
        subject = subject_for(payload)
        assert subject is not None
        return subject, data, msg_id_for(payload, data)
    raise TypeError(f"not an input event: {type(event).__name__}")


def read_events(path: Path) -> tuple[list[tuple[int, bytes, dict[str, Any] | None]], list[str]]:
    """(line, raw bytes, parsed object or None) per event of a JSON or JSON Lines file."""
    text = path.read_text(encoding="utf-8")
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, list | dict):
        items = whole if isinstance(whole, list) else [whole]
        events = []
        for number, item in enumerate(items, start=1):
            events.append((number, json.dumps(item, ensure_ascii=False).encode(), item))
        return events, []
    events, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError as exc:
            parsed = None
            problems.append(
                f"{path}:{number}: not JSON ({exc.msg}); sent as-is only with --subject"
            )
        events.append((number, line.encode(), parsed if isinstance(parsed, dict) else None))
    return events, problems


async def publish_all(settings: Settings, messages: Iterable[tuple[str, bytes, str]]) -> int:
    nc = await nats.connect(settings.nats_servers, name="kopdes-match-publish")
    sent = 0
    try:
        js = nc.jetstream()
        for subject, data, msg_id in messages:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
            sent += 1
    finally:
        await nc.close()
    return sent


async def publish_file(
    settings: Settings, path: Path, subject: str | None
) -> tuple[int, list[str]]:
    events, problems = read_events(path)
    messages = []
    for number, data, payload in events:
        target = subject or (subject_for(payload) if payload is not None else None)
        if target is None:
            if payload is not None:
                problems.append(f"{path}:{number}: cannot tell the subject; give --subject")
            continue
        messages.append((target, data, msg_id_for(payload or {}, data)))
    return await publish_all(settings, messages), problems
