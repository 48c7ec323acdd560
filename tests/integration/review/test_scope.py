"""A coordinator never sees, lists, counts or decides a suggestion outside their scope."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from schemas import Decision
from services.review import decisions
from services.review.scope import ScopeError, validate_scope
from services.storage.models import OutboxRow, Role
from tests.support.review import (
    KOTAWARINGIN,
    KUALA_MANDOR,
    SAMBAS,
    SUNGAI_RAYA_A,
    SUNGAI_RAYA_B,
    VILLAGES,
    bearer,
    csrf_of,
    logged_in,
)

VISIBLE = {
    "admin": set(VILLAGES),
    "pmo.kalbar": {SUNGAI_RAYA_A, SUNGAI_RAYA_B, KUALA_MANDOR, SAMBAS},
    "pmo.kuburaya": {SUNGAI_RAYA_A, SUNGAI_RAYA_B, KUALA_MANDOR},
    "pu.sungairaya": {SUNGAI_RAYA_A, SUNGAI_RAYA_B},
    "pu.desa": {SUNGAI_RAYA_B},
    "pmo.kalteng": {KOTAWARINGIN},
}
PARTNERS = ("bri", "bulog")


def _ids(seeded, villages):
    return {seeded.sid(v, p) for v in villages for p in PARTNERS}


def _outbox(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(OutboxRow)).one()


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_api_lists_and_counts_only_the_scope(client, seeded, tokens, username):
    response = client.get("/api/v1/suggestions", headers=bearer(tokens[username]))
    assert response.status_code == 200
    body = response.json()
    assert {i["suggestion_id"] for i in body["items"]} == _ids(seeded, VISIBLE[username])
    assert body["total"] == 2 * len(VISIBLE[username])


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_queue_page_lists_and_counts_only_the_scope(app, seeded, username):
    page = logged_in(app, username).get("/").text
    for village in VILLAGES:
        for partner in PARTNERS:
            shown = seeded.sid(village, partner) in page
            assert shown == (village in VISIBLE[username]), (username, village)
    assert f"{2 * len(VISIBLE[username])} menunggu" in page


@pytest.mark.parametrize("username", ["pu.sungairaya", "pmo.kuburaya", "pmo.kalteng"])
def test_detail_outside_the_scope_is_not_found(app, client, seeded, tokens, username):
    pages = logged_in(app, username)
    for village in VILLAGES:
        sid = seeded.sid(village)
        expected = 200 if village in VISIBLE[username] else 404
        api = client.get(f"/api/v1/suggestions/{sid}", headers=bearer(tokens[username]))
        assert api.status_code == expected, (username, village)
        assert pages.get(f"/suggestions/{sid}").status_code == expected
    # Out of scope reads exactly like an id that does not exist.
    missing = client.get("/api/v1/suggestions/sg-nope", headers=bearer(tokens[username]))
    outside = client.get(
        f"/api/v1/suggestions/{seeded.sid(SAMBAS)}", headers=bearer(tokens[username])
    )
    if SAMBAS not in VISIBLE[username]:
        assert outside.json() == missing.json()


def test_detail_lists_other_suggestions_only_within_the_scope(client, seeded, tokens):
    sid = seeded.sid(SUNGAI_RAYA_A)
    body = client.get(f"/api/v1/suggestions/{sid}", headers=bearer(tokens["pu.sungairaya"])).json()
    assert {s["village_code"] for s in body["same_offer"]} == {SUNGAI_RAYA_B}
    assert {s["partner_id"] for s in body["same_cooperative"]} == {"bulog"}
    body = client.get(f"/api/v1/suggestions/{sid}", headers=bearer(tokens["admin"])).json()
    assert {s["village_code"] for s in body["same_offer"]} == set(VILLAGES) - {SUNGAI_RAYA_A}


def test_decisions_outside_the_scope_are_refused_and_change_nothing(
    app, client, engine, seeded, tokens
):
    sid = seeded.sid(SAMBAS)
    response = client.post(
        f"/api/v1/suggestions/{sid}/decision",
        headers=bearer(tokens["pu.sungairaya"]),
        json={"decision": "approved", "reason_code": "sesuai_kebutuhan", "version": 1},
    )
    assert response.status_code == 404
    pages = logged_in(app, "pmo.kuburaya")
    token = csrf_of(pages.get("/").text)
    response = pages.post(
        f"/suggestions/{sid}/decide",
        data={
            "csrf_token": token,
            "decision": "rejected",
            "reason_code": "sudah_ada_mitra",
            "version": "1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 404
    bulk = client.post(
        "/api/v1/suggestions/bulk-approve",
        headers=bearer(tokens["pu.desa"]),
        json={
            "items": [
                {"suggestion_id": sid, "version": 1},
                {"suggestion_id": seeded.sid(SUNGAI_RAYA_A), "version": 1},
            ],
            "reason_code": "sesuai_kebutuhan",
        },
    ).json()
    assert bulk["approved"] == []
    assert set(bulk["refused"]) == {sid, seeded.sid(SUNGAI_RAYA_A)}
    assert seeded.row(sid).status == "pending"
    assert seeded.row(seeded.sid(SUNGAI_RAYA_A)).status == "pending"
    assert _outbox(engine) == 0, "no event for a refused decision"


def test_reopen_outside_the_scope_is_not_found(client, seeded, tokens):
    sid = seeded.sid(SAMBAS)
    decided = client.post(
        f"/api/v1/suggestions/{sid}/decision",
        headers=bearer(tokens["pmo.kalbar"]),
        json={"decision": "rejected", "reason_code": "sudah_ada_mitra", "version": 1},
    )
    assert decided.status_code == 201
    response = client.post(
        f"/api/v1/suggestions/{sid}/reopen",
        headers=bearer(tokens["pmo.kalteng"]),
        json={"version": 2},
    )
    assert response.status_code == 404
    assert seeded.row(sid).status == "rejected"


def test_overview_counts_only_the_scope(app, client, seeded, tokens):
    for village in (SAMBAS, KOTAWARINGIN, SUNGAI_RAYA_A):
        client.post(
            f"/api/v1/suggestions/{seeded.sid(village)}/decision",
            headers=bearer(tokens["admin"]),
            json={"decision": "approved", "reason_code": "sesuai_kebutuhan", "version": 1},
        ).raise_for_status()
    body = client.get("/api/v1/overview", headers=bearer(tokens["pmo.kuburaya"])).json()
    assert [r["regency_code"] for r in body["regencies"]] == ["61.12"]
    [kubu_raya] = body["regencies"]
    assert (kubu_raya["pending"], kubu_raya["approved"], kubu_raya["rejected"]) == (5, 1, 0)
    assert (kubu_raya["cooperatives"], kubu_raya["covered"]) == (3, 1)
    assert {p["partner_id"]: p["approved"] for p in body["partners"]} == {"bri": 1, "bulog": 0}
    body = client.get("/api/v1/overview", headers=bearer(tokens["pu.desa"])).json()
    assert [(r["regency_code"], r["approved"], r["cooperatives"]) for r in body["regencies"]] == [
        ("61.12", 0, 1)
    ]
    page = logged_in(app, "pu.desa").get("/overview").text
    assert "Kubu Raya" in page and "Sambas" not in page and "Kotawaringin" not in page


def test_filter_choices_offer_only_regions_in_scope(app, seeded):
    page = logged_in(app, "pmo.kuburaya").get("/").text
    assert "Kubu Raya" in page and "Sambas" not in page
    assert "Kuala Mandor" in page  # a district in scope


def test_scope_rules_per_role():
    assert validate_scope(Role.PMO, ["61", "62.01"]) == ["61", "62.01"]
    assert validate_scope(Role.BUSINESS_ASSISTANT, ["61.12.01", SUNGAI_RAYA_A]) == [
        "61.12.01",
        SUNGAI_RAYA_A,
    ]
    assert validate_scope(Role.ADMIN, []) == []
    for role, scope in (
        (Role.PMO, ["61.12.01"]),  # a district is a business assistant's
        (Role.BUSINESS_ASSISTANT, ["61.12"]),  # a regency is a PMO's
        (Role.PMO, []),
        (Role.PMO, ["99.99"]),
        (Role.ADMIN, ["61"]),
    ):
        with pytest.raises(ScopeError):
            validate_scope(role, scope)


def test_a_disabled_coordinator_sees_nothing(engine, seeded):
    from services.review.accounts import set_active
    from services.review.filters import QueueFilter
    from services.review.queue import queue

    row = set_active(engine, "admin", active=False)
    with Session(engine) as session:
        assert queue(session, row, QueueFilter()).total == 0
    with pytest.raises(decisions.NotFound):
        decisions.decide(
            engine, row, seeded.sid(SAMBAS), Decision.APPROVED, "sesuai_kebutuhan", "", 1
        )
