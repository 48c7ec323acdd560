"""Inputs meant to stall or crash ingest, on a real nats-server and both databases.

Each is refused at its first delivery with the field and the rule, its dead letter stored
whatever its subject, headers or bytes, and the valid inputs around it applied.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from services.storage.models import CooperativeRow, DeadLetterRow, OfferRow
from tests.support import builders
from tests.support.harness import Harness
from tests.support.waiting import eventually

COOPS = "kopdes.cooperative.upserted"
BRI = "kopdes.offer.upserted.bri"
LONG_ID = "x" * 306
LONG_SUBJECT = "kopdes.offer.upserted." + "p" * 300
FAR_FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def _nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * depth + b"]" * depth + b"}"


# (name, subject, data, Nats-Msg-Id, error_type, words the reason must hold)
CASES = [
    ("long msg id", BRI, b"{", LONG_ID, "invalid_json", "not JSON"),
    (
        "long subject token",
        LONG_SUBJECT,
        _json(builders.offer(offer_id="o-long")),
        None,
        "partner_mismatch",
        "partner_id 'bri'",
    ),
    (
        "NUL in a name",
        COOPS,
        _json(builders.profile(cooperative_id="c-nul", name="Koperasi\u0000Desa")),
        None,
        "validation_error",
        "name: Value error, text must not contain the NUL character",
    ),
    ("NUL in raw bytes", COOPS, b'{"name": "a\x00', None, "invalid_json", "not JSON"),
    ("nested 2,000 deep", COOPS, _nested(2000), None, "invalid_json", "nested deeper than 32"),
    (
        "5,000-digit integer",
        COOPS,
        b'{"member_count": ' + b"7" * 5000 + b"}",
        None,
        "invalid_json",
        "not usable JSON",
    ),
    (
        "year 1 with an offset",
        COOPS,
        _json(builders.profile(cooperative_id="c-y1", updated_at="0001-01-01T00:00:00+05:00")),
        None,
        "validation_error",
        "updated_at: Value error, is out of the representable range",
    ),
    (
        "year 9999 with an offset",
        COOPS,
        _json(builders.profile(cooperative_id="c-y9", updated_at="9999-12-31T23:00:00-05:00")),
        None,
        "validation_error",
        "updated_at: Value error, is out of the representable range",
    ),
    (
        "two days ahead",
        COOPS,
        _json(builders.profile(cooperative_id="c-future", updated_at=FAR_FUTURE)),
        None,
        "validation_error",
        "updated_at: Value error, is more than 24 hours ahead",
    ),
    (
        "member_count 10^30",
        COOPS,
        _json(builders.profile(cooperative_id="c-big", member_count=10**30)),
        None,
        "validation_error",
        "member_count: Input should be less than or equal to 2147483647",
    ),
    (
        "capacity 2^31",
        BRI,
        _json(builders.offer(offer_id="o-cap", capacity=2**31)),
        None,
        "validation_error",
        "capacity: Input should be less than or equal to 2147483647",
    ),
    (
        "NUL in a withdrawal reason",
        "kopdes.offer.withdrawn.bri",
        _json(builders.withdrawal(reason="habis\u0000")),
        None,
        "validation_error",
        "reason: Value error, text must not contain the NUL character",
    ),
]


async def test_each_hostile_input_is_refused_at_once_and_stored(settings):
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile(cooperative_id="good-before"))
        for _name, subject, data, msg_id, _type, _words in CASES:
            await h.publish(subject, data, msg_id=msg_id)
        await h.publish(COOPS, builders.profile(cooperative_id="good-after"))
        await h.publish(BRI, builders.offer())
        await h.settle(timeout=20)

        by_subject_and_type: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for letter in h.dead_letters:
            key = (letter["subject"], letter["error_type"])
            by_subject_and_type.setdefault(key, []).append(letter)
        assert len(h.dead_letters) == len(CASES)
        for name, subject, _data, _msg_id, error_type, words in CASES:
            reasons = [d["reason"] for d in by_subject_and_type.get((subject, error_type), [])]
            assert any(words in r for r in reasons), (name, reasons)
        assert not any(d["error_type"] == "handler_error" for d in h.dead_letters)

        # Every input was delivered once: refused at its first delivery, never retried.
        delivered = 0
        for durable in ("ingest-cooperatives", "ingest-offers", "ingest-withdrawals"):
            info = await h.js.consumer_info("KOPDES_INPUT", durable)
            delivered += info.delivered.consumer_seq
        assert delivered == len(CASES) + 3

        with Session(h.pipeline.runtime.engine) as session:
            stored = session.exec(select(DeadLetterRow)).all()
            coops = {c.cooperative_id for c in session.exec(select(CooperativeRow)).all()}
            offers = session.exec(select(OfferRow)).all()
        assert len(stored) == len(CASES)
        long_id = next(r for r in stored if r.msg_id and r.msg_id.startswith("xxx"))
        assert long_id.msg_id is not None
        assert len(long_id.msg_id) == 255 and long_id.msg_id.endswith("[cut from 306 chars]")
        long_subject = next(r for r in stored if r.subject.startswith("kopdes.offer.upserted.pp"))
        assert len(long_subject.subject) == 255
        assert long_subject.subject.endswith("[cut from 322 chars]")
        nul = next(r for r in stored if r.raw.startswith('{"name"'))
        assert nul.raw == '{"name": "a\\u0000'
        assert coops == {"good-before", "good-after"}
        assert [o.offer_id for o in offers] == ["bri-kur-kuburaya-2026"]


async def test_a_far_future_profile_cannot_freeze_later_updates(settings):
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile(updated_at="9999-12-31T00:00:00+00:00"))
        await h.publish(COOPS, builders.profile(member_count=77))
        await h.settle()
        with Session(h.pipeline.runtime.engine) as session:
            [coop] = session.exec(select(CooperativeRow)).all()
        assert coop.member_count == 77
        [letter] = h.dead_letters
        assert "more than 24 hours ahead" in letter["reason"]


@pytest.mark.parametrize("poison", [b"{", b'{"offer_id": "x\\u0000"}'])
async def test_a_flood_from_one_partner_does_not_hold_back_another(settings, poison):
    """1,000 refusals from bri, then a valid offer from bni: applied within 5 s."""
    async with Harness(settings) as h:
        for n in range(1000):
            # Core publishes, in order on one connection; each with its own long id.
            headers = {"Nats-Msg-Id": f"{n:04d}" + LONG_ID}
            await h.nc.publish(BRI, poison, headers=headers)
        valid = builders.offer(partner_id="bni", offer_id="bni-kur", partner_name="BNI")
        ack = await h.js.publish("kopdes.offer.upserted.bni", _json(valid))
        assert ack.seq == 1001  # stored behind the whole flood

        def applied() -> bool:
            with Session(h.pipeline.runtime.engine) as session:
                return session.get(OfferRow, ("bni", "bni-kur")) is not None

        await eventually(applied, timeout=5)
        await h.settle()
        assert len(h.dead_letters) == 1000
