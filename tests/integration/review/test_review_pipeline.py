"""The review inside the pipeline on a real nats-server: decisions become events, and a
rejected pair comes back only after a material change of the profile or the offer."""

from __future__ import annotations

import httpx
from sqlmodel import Session, select

from schemas import Decision, MatchDecision
from services.review import decisions
from services.review.accounts import add_coordinator, create_token
from services.review.models import CoordinatorCreate
from services.storage.models import Role, SuggestionRow
from tests.support import builders
from tests.support.harness import Harness

COOPS = "kopdes.cooperative.upserted"
BRI_OFFERS = "kopdes.offer.upserted.bri"
DECIDED = "kopdes.match.decided"


def admin(engine):
    return add_coordinator(
        engine,
        CoordinatorCreate(
            username="admin", role=Role.ADMIN, scope=[], password="kata-sandi-uji-123"
        ),
    )


def suggestion(h: Harness, cooperative_id: str) -> SuggestionRow:
    with Session(h.pipeline.runtime.engine) as session:
        return session.exec(
            select(SuggestionRow).where(SuggestionRow.cooperative_id == cooperative_id)
        ).one()


async def test_decisions_over_http_reach_nats_once_each(settings):
    async with Harness(settings, ["ingest", "matcher", "review"]) as h:
        engine = h.pipeline.runtime.engine
        await h.publish(BRI_OFFERS, builders.offer())
        await h.publish(COOPS, builders.profile())
        await h.publish(
            COOPS,
            builders.profile(cooperative_id="KDMP-6112012001", village_code=builders.SUNGAI_RAYA),
        )
        await h.settle()
        assert len(h.suggested) == 2
        coordinator = add_coordinator(
            engine,
            CoordinatorCreate(
                username="pmo.kuburaya", role=Role.PMO, scope=["61.12"], password="x" * 12
            ),
        )
        token = create_token(engine, coordinator.username)
        first, second = (s["suggestion_id"] for s in h.suggested)
        base = f"http://127.0.0.1:{settings.web_port}/api/v1"
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}
        ) as web:
            approve = {"decision": "approved", "reason_code": "sesuai_kebutuhan", "version": 1}
            reject = {
                "decision": "rejected",
                "reason_code": "sudah_ada_mitra",
                "note": "sudah bermitra dengan BPR setempat",
                "version": 1,
            }
            assert (
                await web.post(f"/suggestions/{first}/decision", json=approve)
            ).status_code == 201
            assert (
                await web.post(f"/suggestions/{second}/decision", json=reject)
            ).status_code == 201
            again = await web.post(f"/suggestions/{first}/decision", json=approve)
            assert again.status_code == 409
        await h.settle()

    events = {e["suggestion_id"]: MatchDecision.model_validate(e) for e in h.of(DECIDED)}
    assert len(h.of(DECIDED)) == 2, "one event per decision, none for the double submit"
    assert events[first].decision == "approved"
    assert events[second].decision == "rejected"
    assert events[second].note == "sudah bermitra dengan BPR setempat"
    assert events[second].coordinator_id == "pmo.kuburaya"
    # The version the decision was taken on, for readers that de-duplicate by it (notify).
    assert events[first].suggestion_version == events[second].suggestion_version == 2
    assert sorted(hd["Nats-Msg-Id"] for hd in h.headers[DECIDED]) == sorted(
        [f"{first}:decided:2", f"{second}:decided:2"]
    )


async def test_a_rejected_pair_returns_only_after_a_material_change(settings):
    async with Harness(settings, ["ingest", "matcher"]) as h:
        engine = h.pipeline.runtime.engine
        coordinator = admin(engine)
        await h.publish(BRI_OFFERS, builders.offer())
        await h.publish(COOPS, builders.profile())
        await h.settle()
        [suggested] = h.suggested
        sid = suggested["suggestion_id"]
        decisions.decide(
            engine, coordinator, sid, Decision.REJECTED, "tidak_sesuai_kebutuhan", "", 1
        )

        # Newer profile and offer versions, but nothing that matching looks at changed.
        await h.publish(
            COOPS,
            builders.profile(name="KDMP Kuala Dua (baru)", updated_at="2026-11-05T08:00:00+07:00"),
        )
        await h.publish(
            BRI_OFFERS,
            builders.offer(
                title="Kredit modal kerja (judul baru)", updated_at="2026-11-05T08:00:00+07:00"
            ),
        )
        await h.settle()
        assert len(h.suggested) == 1, "not suggested again without a material change"
        assert suggestion(h, "KDMP-6112012004").status == "rejected"

        # The cooperative now trades rice as well: a material change.
        await h.publish(
            COOPS,
            builders.profile(
                commodities=["sawit", "karet", "padi"], updated_at="2026-11-06T08:00:00+07:00"
            ),
        )
        await h.settle()
        assert len(h.suggested) == 2
        assert h.suggested[-1]["suggestion_id"] == sid
        row = suggestion(h, "KDMP-6112012004")
        assert row.status == "pending" and row.version == 3

        # Rejected again; then the offer names produce it buys: suggested once more.
        decisions.decide(engine, coordinator, sid, Decision.REJECTED, "koperasi_belum_siap", "", 3)
        await h.publish(
            BRI_OFFERS,
            builders.offer(commodities=["padi"], updated_at="2026-11-07T08:00:00+07:00"),
        )
        await h.settle()
        assert len(h.suggested) == 3
        assert suggestion(h, "KDMP-6112012004").status == "pending"


async def test_an_approved_pair_is_never_suggested_again(settings):
    async with Harness(settings, ["ingest", "matcher"]) as h:
        engine = h.pipeline.runtime.engine
        coordinator = admin(engine)
        await h.publish(BRI_OFFERS, builders.offer())
        await h.publish(COOPS, builders.profile())
        await h.settle()
        [suggested] = h.suggested
        decisions.decide(
            engine,
            coordinator,
            suggested["suggestion_id"],
            Decision.APPROVED,
            "sesuai_kebutuhan",
            "",
            1,
        )
        await h.publish(
            COOPS,
            builders.profile(commodities=["padi"], updated_at="2026-11-06T08:00:00+07:00"),
        )
        await h.settle()
        assert len(h.suggested) == 1
        assert suggestion(h, "KDMP-6112012004").status == "approved"


async def test_a_taken_port_does_not_stop_the_other_services(settings, caplog):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.web_port = taken.getsockname()[1]
        async with Harness(settings, ["ingest", "matcher", "review"]) as h:
            await h.publish(BRI_OFFERS, builders.offer())
            await h.publish(COOPS, builders.profile())
            await h.settle()
            assert len(h.suggested) == 1
    assert "review dashboard could not listen" in caplog.text
