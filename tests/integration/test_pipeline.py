"""The event pipeline end to end on a real nats-server and a real database."""

from __future__ import annotations

import base64
import json

from sqlmodel import Session, select

from schemas import MatchSuggestion
from services.review.ranks import current_ranks
from services.storage.models import CooperativeRow, DeadLetterRow, OfferRow, SuggestionRow
from tests.support import builders
from tests.support.harness import Harness

COOPS = "kopdes.cooperative.upserted"
BRI_OFFERS = "kopdes.offer.upserted.bri"


def rows(harness: Harness, model: type) -> list:
    with Session(harness.pipeline.runtime.engine) as session:
        return list(session.exec(select(model)).all())


async def test_offer_and_profiles_in_suggestions_out(settings):
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile())
        await h.publish(
            COOPS,
            builders.profile(cooperative_id="KDMP-6112012001", village_code=builders.SUNGAI_RAYA),
        )
        # Outside the offer's regency: never suggested.
        await h.publish(
            COOPS,
            builders.profile(
                cooperative_id="KDMP-6101012001", village_code=builders.SAMBAS_VILLAGE
            ),
        )
        # Too few members: never suggested.
        await h.publish(COOPS, builders.profile(cooperative_id="KDMP-small", member_count=5))
        await h.publish(BRI_OFFERS, builders.offer())
        await h.settle()

    suggested = {s["cooperative_id"]: MatchSuggestion.model_validate(s) for s in h.suggested}
    assert set(suggested) == {"KDMP-6112012004", "KDMP-6112012001"}
    for suggestion in suggested.values():
        assert suggestion.offer_id == "bri-kur-kuburaya-2026"
        assert suggestion.partner_id == "bri"
        assert suggestion.regency_code == "61.12"
        assert 0 < suggestion.score <= 100
        assert suggestion.explanation, "every suggestion carries its explanation"
    # A published rank is the rank when it was published; the place now is counted from
    # the stored scores when read (the other cooperative may have overtaken it since).
    assert all(s.rank in (1, 2) for s in suggested.values())
    stored = rows(h, SuggestionRow)
    with Session(h.pipeline.runtime.engine) as session:
        ranks = current_ranks(session, stored)
    best_first = sorted(stored, key=lambda r: (-r.score, r.cooperative_id))
    assert [ranks[r.suggestion_id] for r in best_first] == [1, 2]
    assert {r.cooperative_id for r in stored} == set(suggested)
    assert all(r.status == "pending" for r in stored)
    # Every publish carries a deterministic Nats-Msg-Id.
    ids = [hd["Nats-Msg-Id"] for hd in h.headers["kopdes.match.suggested"]]
    assert len(set(ids)) == len(ids) == 2


async def test_duplicate_and_older_events_change_nothing(settings):
    newer = builders.profile(updated_at="2026-11-05T08:00:00+07:00", member_count=150)
    older = builders.profile(updated_at="2026-11-03T08:00:00+07:00", member_count=10)
    async with Harness(settings) as h:
        await h.publish(BRI_OFFERS, builders.offer())
        await h.publish(COOPS, newer)
        await h.settle()
        first = list(h.suggested)
        # The same event again (without a Nats-Msg-Id, so JetStream stores it twice),
        # an older version, and the offer again.
        await h.publish(COOPS, newer)
        await h.publish(COOPS, older)
        await h.publish(BRI_OFFERS, builders.offer())
        await h.settle()

        [coop] = rows(h, CooperativeRow)
        assert coop.member_count == 150
        assert h.suggested == first, "no suggestion is published twice for the same state"
        assert not h.retracted
        assert not h.dead_letters


async def test_newer_offer_in_another_offset_wins(settings):
    # 09:00 WITA (UTC+8) is 08:00 WIB (UTC+7) plus nothing: equal instants are not newer.
    async with Harness(settings) as h:
        await h.publish(
            BRI_OFFERS, builders.offer(title="Kredit A", updated_at="2026-11-01T08:00:00+07:00")
        )
        await h.publish(
            BRI_OFFERS, builders.offer(title="Kredit B", updated_at="2026-11-01T09:00:00+08:00")
        )
        await h.publish(
            BRI_OFFERS, builders.offer(title="Kredit C", updated_at="2026-11-01T01:00:01+00:00")
        )
        await h.settle()
        [offer] = rows(h, OfferRow)
        assert offer.title == "Kredit C"


async def test_bad_inputs_are_dead_lettered_and_good_ones_around_them_processed(settings):
    cases = [
        (COOPS, b"{not json", "invalid_json"),
        (COOPS, b"\xff\xfe\x00garbage", "invalid_encoding"),
        (COOPS, json.dumps(builders.profile(member_count=-1)).encode(), "validation_error"),
        (
            COOPS,
            json.dumps(builders.profile(village_code="61.12.01.9999")).encode(),
            "validation_error",
        ),
        (
            COOPS,
            json.dumps(builders.profile(cooperative_id="bad id!")).encode(),
            "validation_error",
        ),
        (COOPS, b"[1, 2, 3]", "invalid_json"),
        ("kopdes.offer.upserted.bni", json.dumps(builders.offer()).encode(), "partner_mismatch"),
        (BRI_OFFERS, json.dumps(builders.offer(offer_type="gift")).encode(), "validation_error"),
        (
            BRI_OFFERS,
            json.dumps(builders.offer(min_amount_idr=5, max_amount_idr=1)).encode(),
            "validation_error",
        ),
        (COOPS, json.dumps(builders.profile(needs="x" * 300_000)).encode(), "payload_too_large"),
    ]
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile(cooperative_id="good-before"))
        for subject, data, _ in cases:
            await h.publish(subject, data)
        await h.publish(COOPS, builders.profile(cooperative_id="good-after"))
        await h.publish(BRI_OFFERS, builders.offer())
        await h.settle()

        # Each input subject has its own consumer: order holds per subject only.
        letters = {d["raw"]: d for d in h.dead_letters}
        assert len(letters) == len(cases)
        for subject, data, error_type in cases:
            raw = data.decode() if data.isascii() else base64.b64encode(data).decode()
            if error_type == "payload_too_large":
                raw = raw[: settings.max_payload_bytes]
            letter = letters[raw]
            assert (letter["subject"], letter["error_type"]) == (subject, error_type)
        reasons = {d["reason"] for d in h.dead_letters}
        for field in ("member_count", "village_code", "cooperative_id", "offer_type", "min_amount"):
            assert any(field in r for r in reasons), field
        assert any("'bri'" in r and "'bni'" in r for r in reasons)
        assert letters["{not json"]["reason"].startswith("payload is not JSON")
        assert letters[base64.b64encode(cases[1][1]).decode()]["raw_encoding"] == "base64"
        assert all(d["subject"] and d["received_at"] for d in h.dead_letters)
        assert len(rows(h, DeadLetterRow)) == len(cases)
        assert {c.cooperative_id for c in rows(h, CooperativeRow)} == {"good-before", "good-after"}
        assert {s["cooperative_id"] for s in h.suggested} == {"good-before", "good-after"}


async def test_withdrawal_retracts_and_late_older_offer_stays_withdrawn(settings):
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile())
        await h.publish(BRI_OFFERS, builders.offer())
        await h.settle()
        assert len(h.suggested) == 1
        await h.publish("kopdes.offer.withdrawn.bri", builders.withdrawal())
        await h.settle()
        assert [r["reason"] for r in h.retracted] == ["offer_withdrawn"]
        assert h.retracted[0]["suggestion_id"] == h.suggested[0]["suggestion_id"]
        # An older version arriving late does not bring the offer back.
        await h.publish(BRI_OFFERS, builders.offer(updated_at="2026-10-30T08:00:00+07:00"))
        await h.settle()
        assert len(h.suggested) == 1
        [offer] = rows(h, OfferRow)
        assert offer.withdrawn_at is not None


async def test_withdrawal_before_the_offer_still_holds(settings):
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile())
        # Offers and withdrawals have their own consumers: settle so the withdrawal comes first.
        await h.publish("kopdes.offer.withdrawn.bri", builders.withdrawal())
        await h.settle()
        await h.publish(BRI_OFFERS, builders.offer())
        await h.settle()
        assert not h.suggested
        # A re-publication after the withdrawal reopens it.
        await h.publish(BRI_OFFERS, builders.offer(updated_at="2026-11-03T08:00:00+07:00"))
        await h.settle()
        assert len(h.suggested) == 1


async def test_profile_change_makes_pair_ineligible_and_retracts(settings):
    async with Harness(settings) as h:
        await h.publish(COOPS, builders.profile())
        await h.publish(BRI_OFFERS, builders.offer())
        await h.settle()
        assert len(h.suggested) == 1
        await h.publish(
            COOPS, builders.profile(member_count=3, updated_at="2026-11-04T08:00:00+07:00")
        )
        await h.settle()
        assert [r["reason"] for r in h.retracted] == ["no_longer_eligible"]
        [row] = rows(h, SuggestionRow)
        assert row.status == "retracted"


async def test_capacity_limits_suggestions_and_better_cooperative_supersedes(settings):
    async with Harness(settings) as h:
        await h.publish(BRI_OFFERS, builders.offer(capacity=1))
        weak = builders.profile(
            cooperative_id="weak", business_units=["kantor koperasi"], commodities=[], needs=""
        )
        await h.publish(COOPS, weak)
        await h.settle()
        strong = builders.profile(cooperative_id="strong")
        await h.publish(COOPS, strong)
        await h.settle()
        pending = [r for r in rows(h, SuggestionRow) if r.status == "pending"]
        assert [r.cooperative_id for r in pending] == ["strong"]
        if any(s["cooperative_id"] == "weak" for s in h.suggested):
            assert [r["reason"] for r in h.retracted] == ["superseded"]
