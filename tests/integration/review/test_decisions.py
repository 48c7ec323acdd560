"""Approve, reject, bulk approve, reopen: one decision per submit, capacity, audit, events."""

from __future__ import annotations

import json
import threading

from sqlmodel import Session, col, select

from schemas import Decision, MatchDecision, MatchSuggestion, internal
from schemas.internal import PairDecided
from services.review import decisions
from services.storage.models import AuditRow, CoordinatorRow, DecisionRow, OutboxRow
from tests.support.review import (
    KUALA_MANDOR,
    SAMBAS,
    SUNGAI_RAYA_A,
    SUNGAI_RAYA_B,
    bearer,
    csrf_of,
    logged_in,
)


def outbox(engine, subject: str = "kopdes.match.decided") -> list[OutboxRow]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(OutboxRow).where(OutboxRow.subject == subject).order_by(col(OutboxRow.id))
            ).all()
        )


def rows(engine, model) -> list:
    with Session(engine) as session:
        return list(session.exec(select(model)).all())


def decide(client, token, sid, decision="approved", reason="sesuai_kebutuhan", version=1, note=""):
    return client.post(
        f"/api/v1/suggestions/{sid}/decision",
        headers=bearer(token),
        json={"decision": decision, "reason_code": reason, "note": note, "version": version},
    )


def test_approve_publishes_one_decided_event_through_the_outbox(client, engine, seeded, tokens):
    sid = seeded.sid(SUNGAI_RAYA_A)
    response = decide(client, tokens["pu.sungairaya"], sid, note="sudah dicek ke lapangan")
    assert response.status_code == 201, response.text
    assert response.json()["decision"] == "approved"
    row = seeded.row(sid)
    assert (row.status, row.version) == ("approved", 2)
    [message] = outbox(engine)
    assert message.msg_id == f"{sid}:decided:2"
    event = MatchDecision.model_validate_json(message.payload)
    assert event.suggestion_id == sid and event.decision == "approved"
    assert event.reason_code == "sesuai_kebutuhan"
    assert event.note == "sudah dicek ke lapangan"
    assert event.coordinator_id == "pu.sungairaya"


def test_a_second_submit_gets_409_and_the_existing_decision_not_a_second_event(
    client, engine, seeded, tokens
):
    sid = seeded.sid(SUNGAI_RAYA_A)
    assert decide(client, tokens["pu.sungairaya"], sid).status_code == 201
    again = decide(client, tokens["pu.sungairaya"], sid)
    assert again.status_code == 409
    assert "sudah disetujui oleh pu.sungairaya" in again.json()["detail"]
    assert again.json()["existing"]["decision"] == "approved"
    # Someone else, with the other decision, on the version they saw: refused too.
    other = decide(client, tokens["pmo.kalbar"], sid, "rejected", "sudah_ada_mitra")
    assert other.status_code == 409
    assert len(outbox(engine)) == 1
    assert len(rows(engine, DecisionRow)) == 1
    assert seeded.row(sid).status == "approved"


def test_a_double_submitted_page_form_records_one_decision(app, engine, seeded):
    client = logged_in(app, "pu.sungairaya")
    sid = seeded.sid(SUNGAI_RAYA_B)
    page = client.get(f"/suggestions/{sid}")
    assert 'name="version" value="1"' in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "decision": "rejected",
        "reason_code": "koperasi_belum_siap",
        "note": "pengurus belum lengkap",
        "version": "1",
    }
    first = client.post(f"/suggestions/{sid}/decide", data=form)
    second = client.post(f"/suggestions/{sid}/decide", data=form)
    assert first.status_code == second.status_code == 200  # redirected to the detail
    assert "Saran ditolak" in first.text
    assert "sudah ditolak oleh pu.sungairaya" in second.text
    assert "Keputusan tidak dicatat dua kali" in second.text
    assert len(outbox(engine)) == 1
    assert seeded.row(sid).status == "rejected"


def test_concurrent_submits_of_one_suggestion_make_one_decision(engine, seeded):
    sid = seeded.sid(KUALA_MANDOR)
    with Session(engine) as session:
        admin = session.exec(select(CoordinatorRow).where(CoordinatorRow.username == "admin")).one()
    results: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            decisions.decide(engine, admin, sid, Decision.APPROVED, "sesuai_kebutuhan", "", 1)
            results.append("ok")
        except decisions.Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "conflict", "conflict", "ok"]
    assert len(outbox(engine)) == 1


def test_a_stale_version_is_refused(client, seeded, tokens):
    response = decide(client, tokens["admin"], seeded.sid(SAMBAS), version=7)
    assert response.status_code == 409
    assert "berubah sejak Anda membukanya" in response.json()["detail"]
    assert seeded.row(seeded.sid(SAMBAS)).status == "pending"


def test_reason_codes_are_checked(client, engine, seeded, tokens):
    sid = seeded.sid(SAMBAS)
    wrong_list = decide(client, tokens["admin"], sid, "approved", "sudah_ada_mitra")
    assert wrong_list.status_code == 422
    assert "tidak dikenal" in wrong_list.json()["detail"]
    other = decide(client, tokens["admin"], sid, "rejected", "lainnya")
    assert other.status_code == 422
    assert "perlu catatan" in other.json()["detail"]
    too_long = decide(client, tokens["admin"], sid, "rejected", "lainnya", note="x" * 1001)
    assert too_long.status_code == 422
    assert not outbox(engine)
    ok = decide(client, tokens["admin"], sid, "rejected", "lainnya", note="koperasi dibubarkan")
    assert ok.status_code == 201
    reasons = client.get("/api/v1/reasons", headers=bearer(tokens["admin"])).json()
    assert reasons["rejected"]["lainnya"].startswith("Lainnya")


def test_capacity_is_respected_when_approving(client, engine, seeded, tokens):
    # Bulog's offer takes two cooperatives.
    token = tokens["admin"]
    assert decide(client, token, seeded.sid(SUNGAI_RAYA_A, "bulog")).status_code == 201
    assert decide(client, token, seeded.sid(SUNGAI_RAYA_B, "bulog")).status_code == 201
    full = decide(client, token, seeded.sid(KUALA_MANDOR, "bulog"))
    assert full.status_code == 409
    assert "Kuota tawaran sudah penuh: 2 koperasi" in full.json()["detail"]
    assert seeded.row(seeded.sid(KUALA_MANDOR, "bulog")).status == "pending"
    assert len(outbox(engine)) == 2
    # Rejecting is still possible when the offer is full.
    reject = decide(client, token, seeded.sid(KUALA_MANDOR, "bulog"), "rejected", "sudah_ada_mitra")
    assert reject.status_code == 201


def test_concurrent_approvals_for_the_last_place_let_one_through(engine, seeded):
    with Session(engine) as session:
        admin = session.exec(select(CoordinatorRow).where(CoordinatorRow.username == "admin")).one()
    decisions.decide(
        engine,
        admin,
        seeded.sid(SAMBAS, "bulog"),
        Decision.APPROVED,
        "sesuai_kebutuhan",
        "",
        1,
    )
    contenders = [seeded.sid(v, "bulog") for v in (SUNGAI_RAYA_A, SUNGAI_RAYA_B, KUALA_MANDOR)]
    results: dict[str, str] = {}
    barrier = threading.Barrier(len(contenders))

    def attempt(sid: str) -> None:
        barrier.wait()
        try:
            decisions.decide(engine, admin, sid, Decision.APPROVED, "sesuai_kebutuhan", "", 1)
            results[sid] = "ok"
        except decisions.Conflict as refused:
            results[sid] = refused.message

    threads = [threading.Thread(target=attempt, args=(sid,)) for sid in contenders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()).count("ok") == 1, results
    assert all("Kuota" in v for v in results.values() if v != "ok")
    approved = [s for s in contenders if seeded.row(s).status == "approved"]
    assert len(approved) == 1


def test_bulk_approve_approves_each_and_says_why_not(client, engine, seeded, tokens):
    items = [
        {"suggestion_id": seeded.sid(v, "bulog"), "version": 1}
        for v in (SUNGAI_RAYA_A, SUNGAI_RAYA_B, KUALA_MANDOR)
    ] + [{"suggestion_id": seeded.sid(SUNGAI_RAYA_A), "version": 1}]
    response = client.post(
        "/api/v1/suggestions/bulk-approve",
        headers=bearer(tokens["pmo.kuburaya"]),
        json={"items": items, "reason_code": "prioritas_program"},
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["approved"]) == 3
    [(refused, why)] = body["refused"].items()
    assert refused in {i["suggestion_id"] for i in items[:3]}
    assert "Kuota" in why
    assert len(outbox(engine)) == 3
    audit = [a for a in rows(engine, AuditRow) if a.action == "approved"]
    assert len(audit) == 3 and all(a.after["bulk"] for a in audit)


def test_bulk_approve_from_the_queue_page(app, engine, seeded):
    client = logged_in(app, "pu.sungairaya")
    queue = client.get("/")
    chosen = [seeded.sid(SUNGAI_RAYA_A), seeded.sid(SUNGAI_RAYA_B)]
    form = {
        "csrf_token": csrf_of(queue.text),
        "selected": [f"{sid}:1" for sid in chosen],
        "back": "/?sort=score",
    }
    # First the confirmation: who will be told, nothing approved yet.
    confirmation = client.post("/bulk-approve", data=form)
    assert confirmation.status_code == 200
    assert "Setujui 2 saran yang dipilih?" in confirmation.text
    assert "Kemitraan disetujui" in confirmation.text
    assert "Bank Rakyat Indonesia" in confirmation.text
    assert {seeded.row(s).status for s in chosen} == {"pending"}
    assert 'name="confirmed" value="1"' in confirmation.text
    response = client.post(
        "/bulk-approve", data={**form, "confirmed": "1", "reason_code": "sesuai_kebutuhan"}
    )
    assert response.status_code == 200
    assert "2 saran disetujui." in response.text
    assert {seeded.row(s).status for s in chosen} == {"approved"}
    assert "2 menunggu" in response.text  # the two bulog suggestions are left


def test_only_a_pmo_or_admin_reopens_and_reopening_is_audited(app, client, engine, seeded, tokens):
    sid = seeded.sid(SUNGAI_RAYA_A)
    assert (
        decide(client, tokens["pu.sungairaya"], sid, "rejected", "sudah_ada_mitra").status_code
        == 201
    )
    [told] = outbox(engine, internal.pair_decided("61"))  # the matcher of the province
    assert json.loads(told.payload)["decision"] == "rejected"
    refused = client.post(
        f"/api/v1/suggestions/{sid}/reopen",
        headers=bearer(tokens["pu.sungairaya"]),
        json={"version": 2},
    )
    assert refused.status_code == 403
    assert "Hanya PMO atau admin" in refused.json()["detail"]
    page = logged_in(app, "pu.sungairaya").get(f"/suggestions/{sid}").text
    assert "Buka kembali keputusan" not in page
    reopened = client.post(
        f"/api/v1/suggestions/{sid}/reopen",
        headers=bearer(tokens["pmo.kuburaya"]),
        json={"version": 2, "note": "koperasi minta ditinjau ulang"},
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "pending" and reopened.json()["version"] == 3
    # Pending again, announced again with its own message id.
    [suggested] = outbox(engine, "kopdes.match.suggested")
    assert suggested.msg_id == f"{sid}:suggested:3"
    assert MatchSuggestion.model_validate_json(suggested.payload).suggestion_id == sid
    # And it can be decided again, on the new version.
    assert decide(client, tokens["pu.sungairaya"], sid, version=3).status_code == 201
    msg_ids = [m.msg_id for m in outbox(engine)]
    # The reopening is a decision event too (contract v1.1), on the version it made.
    assert msg_ids == [f"{sid}:decided:2", f"{sid}:decided:3", f"{sid}:decided:4"]
    history = client.get(f"/api/v1/suggestions/{sid}", headers=bearer(tokens["admin"])).json()
    trail = [
        (a["actor"], a["action"], a["before"]["status"], a["after"]["status"])
        for a in reversed(history["audit"])
    ]
    assert trail == [
        ("pu.sungairaya", "rejected", "pending", "rejected"),
        ("pmo.kuburaya", "reopened", "rejected", "pending"),
        ("pu.sungairaya", "approved", "pending", "approved"),
    ]
    assert history["audit"][1]["note"] == "koperasi minta ditinjau ulang"
    assert [d["decision"] for d in history["decisions"]] == ["approved", "rejected"]


def test_reopen_through_the_page(app, client, seeded, tokens):
    sid = seeded.sid(SAMBAS)
    assert decide(client, tokens["pmo.kalbar"], sid).status_code == 201
    pmo = logged_in(app, "pmo.kalbar")
    page = pmo.get(f"/suggestions/{sid}")
    assert "Buka kembali keputusan" in page.text and "Disetujui" in page.text
    form = {"csrf_token": csrf_of(page.text), "version": "2", "note": "salah pilih"}
    confirmation = pmo.post(f"/suggestions/{sid}/reopen", data=form)
    assert "Buka kembali keputusan ini?" in confirmation.text
    # An approval was announced: the confirmation says both parties hear of the reversal.
    assert "Kemitraan dibatalkan" in confirmation.text
    assert "Bank Rakyat Indonesia" in confirmation.text
    assert seeded.row(sid).status == "approved"
    response = pmo.post(f"/suggestions/{sid}/reopen", data={**form, "confirmed": "1"})
    assert "Keputusan dibuka kembali" in response.text
    assert seeded.row(sid).status == "pending"
    # A business assistant posting the form directly is refused.
    pu = logged_in(app, "pu.sungairaya")
    sid_b = seeded.sid(SUNGAI_RAYA_B)
    assert decide(client, tokens["pu.sungairaya"], sid_b).status_code == 201
    for confirmed in ("", "1"):
        response = pu.post(
            f"/suggestions/{sid_b}/reopen",
            data={"csrf_token": csrf_of(pu.get("/").text), "version": "2", "confirmed": confirmed},
        )
        assert response.status_code == 403
    assert seeded.row(sid_b).status == "approved"


def test_decisions_tell_the_matcher_of_the_province_and_approvals_every_province(
    client, engine, seeded, tokens
):
    sid = seeded.sid(SAMBAS)
    assert decide(client, tokens["admin"], sid, "rejected", "data_tidak_valid").status_code == 201
    [told] = outbox(engine, internal.pair_decided("61"))
    change = PairDecided.model_validate_json(told.payload)
    assert (change.suggestion_id, change.decision, change.province_code) == (sid, "rejected", "61")
    assert change.approved == 0 and change.score == seeded.row(sid).score
    event = json.loads(outbox(engine)[0].payload)
    assert event["decision"] == "rejected" and event["reason_code"] == "data_tidak_valid"
    # An approval changes the offer's count of approvals, which every province it covers
    # needs (its capacity is national); this offer covers Kalimantan Barat only.
    other = seeded.sid(SUNGAI_RAYA_A)
    assert decide(client, tokens["admin"], other).status_code == 201
    approvals = [
        PairDecided.model_validate_json(m.payload)
        for m in outbox(engine, internal.pair_decided("61"))
    ]
    assert [(c.decision, c.approved) for c in approvals] == [("rejected", 0), ("approved", 1)]


def test_the_matcher_cannot_overwrite_a_decision_made_meanwhile(engine, seeded):
    """The matcher writes with the status in the statement: a row a coordinator decided
    meanwhile is neither retracted nor re-ranked, and nothing is announced for it."""
    from datetime import date

    from matcher.shortlist import Retracted, Rule, Shortlist, Suggested
    from services.matching import repository
    from tests.support.review import coop_id

    with Session(engine) as session:
        admin = session.exec(select(CoordinatorRow).where(CoordinatorRow.username == "admin")).one()
    sid = seeded.sid(SAMBAS)
    rank = seeded.row(sid).rank
    decisions.decide(engine, admin, sid, Decision.APPROVED, "sesuai_kebutuhan", "", 1)
    shortlist = Shortlist("61", Rule(), date.today())
    key, cid = "bri/kur-kalbar", coop_id(SAMBAS)
    changes = repository.Changes(
        [
            (shortlist, Retracted(key, cid, "superseded")),
            (shortlist, Suggested(key, cid, 70.0, rank + 5, ("offer",), announce=False)),
        ],
        [],
        [],
    )
    with Session(engine) as matcher:
        assert repository.write(matcher, changes, date.today()) == 0
        matcher.commit()
    row = seeded.row(sid)
    assert (row.status, row.version, row.rank) == ("approved", 2, rank)
    assert outbox(engine, "kopdes.match.retracted") == []
