"""The overview is computed once per scope and kept; a decision drops it for the scopes
that hold the decided suggestion, and only for those; past fresh it is served while it is
computed again."""

from __future__ import annotations

from sqlmodel import Session

from schemas import suggestion_id
from services.review import overview, search
from services.storage.models import CooperativeRow, SuggestionRow
from services.storage.types import utcnow
from tests.support.review import KOTAWARINGIN, SAMBAS, SUNGAI_RAYA_A, bearer, coop_id
from tests.support.waiting import wait_until


def _pending(client, token: str) -> dict[str, int]:
    answer = client.get("/api/v1/overview", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return {r["regency_code"]: r["pending"] for r in answer.json()["regencies"]}


def _approved(client, token: str) -> dict[str, int]:
    answer = client.get("/api/v1/overview", headers=bearer(token))
    return {r["regency_code"]: r["approved"] for r in answer.json()["regencies"]}


def _add_pending(engine, village: str, offer: str) -> None:
    """A suggestion written behind the dashboard's back (as the matcher would)."""
    cooperative = coop_id(village)
    now = utcnow()
    with Session(engine) as session:
        session.add(
            SuggestionRow(
                suggestion_id=suggestion_id("bri", offer, cooperative),
                partner_id="bri",
                offer_id=offer,
                cooperative_id=cooperative,
                regency_code=village[:5],
                province_code=village[:2],
                village_code=village,
                score=70.0,
                rank=9,
                basis=["offer"],
                explanation=[],
                created_at=now,
                updated_at=now,
            )
        )
        session.commit()


def test_the_overview_is_kept_until_a_decision_in_its_scope(client, engine, seeded, tokens):
    admin, kalbar, kalteng = tokens["admin"], tokens["pmo.kalbar"], tokens["pmo.kalteng"]
    assert _pending(client, admin) == {"61.12": 6, "61.01": 2, "62.01": 2}
    assert _pending(client, kalteng) == {"62.01": 2}
    # New suggestions in Sambas and Kotawaringin: the kept overviews do not count them yet.
    _add_pending(engine, SAMBAS, "kur-lain")
    _add_pending(engine, KOTAWARINGIN, "kur-lain")
    assert _pending(client, admin)["61.01"] == 2
    assert _pending(client, kalteng) == {"62.01": 2}

    # A decision in Kubu Raya (Kalimantan Barat): the admin's and the province PMO's
    # overviews are computed again, with the decision and everything else that changed.
    sid = seeded.sid(SUNGAI_RAYA_A)
    answer = client.post(
        f"/api/v1/suggestions/{sid}/decision",
        json={"decision": "approved", "reason_code": "sesuai_kebutuhan", "version": 1},
        headers=bearer(kalbar),
    )
    assert answer.status_code == 201, answer.text
    assert _pending(client, admin) == {"61.12": 5, "61.01": 3, "62.01": 3}
    assert _approved(client, admin)["61.12"] == 1
    assert _pending(client, kalbar) == {"61.12": 5, "61.01": 3}
    # Kalimantan Tengah's PMO holds nothing of it: theirs is kept as it was.
    assert _pending(client, kalteng) == {"62.01": 2}


def test_reopening_drops_the_kept_overview_too(client, seeded, tokens):
    kalbar = tokens["pmo.kalbar"]
    sid = seeded.sid(SUNGAI_RAYA_A)
    client.post(
        f"/api/v1/suggestions/{sid}/decision",
        json={"decision": "rejected", "reason_code": "sudah_ada_mitra", "version": 1},
        headers=bearer(kalbar),
    )
    assert _pending(client, kalbar)["61.12"] == 5
    answer = client.post(
        f"/api/v1/suggestions/{sid}/reopen", json={"version": 2}, headers=bearer(kalbar)
    )
    assert answer.status_code == 200, answer.text
    assert _pending(client, kalbar)["61.12"] == 6


def test_a_stale_overview_is_served_while_it_is_computed_again(
    client, engine, seeded, tokens, monkeypatch
):
    """Past ``fresh`` the kept overview still answers at once and a background thread
    computes it again; past ``stale`` the request waits for it."""
    admin = tokens["admin"]
    monkeypatch.setattr(overview._overviews, "fresh", 0.0)
    assert _pending(client, admin)["61.01"] == 2
    _add_pending(engine, SAMBAS, "kur-lain")
    assert _pending(client, admin)["61.01"] == 2  # the kept one, while the refresh runs
    wait_until(lambda: _pending(client, admin)["61.01"] == 3)

    monkeypatch.setattr(overview._overviews, "stale", 0.0)
    _add_pending(engine, SAMBAS, "kur-lain-2")
    assert _pending(client, admin)["61.01"] == 4  # too old to serve: computed now


def test_a_renamed_cooperative_is_found_once_the_names_are_rebuilt(engine, seeded, monkeypatch):
    """The search's names are rebuilt in the background when the cooperatives change;
    searches meanwhile use the names as they were."""
    assert search.search(engine, "Sungai Raya").village_codes  # the names, built now
    with Session(engine) as session:
        row = session.get(CooperativeRow, coop_id(SAMBAS))
        assert row is not None
        row.name, row.updated_at = "Koperasi Tani Makmur Sejahtera", utcnow()
        session.add(row)
        session.commit()
    monkeypatch.setattr(search, "RECHECK_SECONDS", 0.0)
    renamed = [coop_id(SAMBAS)]
    wait_until(lambda: search.search(engine, "Makmur Sejahtera").cooperative_ids == renamed)


def test_a_queue_total_is_kept_per_filter_until_a_decision_in_its_scope(
    client, engine, seeded, tokens
):
    kalbar, kalteng = tokens["pmo.kalbar"], tokens["pmo.kalteng"]

    def total(token: str, **params: str) -> int:
        answer = client.get("/api/v1/suggestions", params=params, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        return answer.json()["total"]

    assert total(kalbar) == 8 and total(kalbar, regency="61.01") == 2
    assert total(kalteng) == 2
    _add_pending(engine, SAMBAS, "kur-lain")
    _add_pending(engine, KOTAWARINGIN, "kur-lain")
    assert total(kalbar) == 8 and total(kalteng) == 2  # kept
    assert total(kalbar, regency="61.01", partner="bri") == 2  # another filter: counted now
    answer = client.post(
        f"/api/v1/suggestions/{seeded.sid(SUNGAI_RAYA_A)}/decision",
        json={"decision": "rejected", "reason_code": "sudah_ada_mitra", "version": 1},
        headers=bearer(kalbar),
    )
    assert answer.status_code == 201, answer.text
    assert total(kalbar) == 8 and total(kalbar, regency="61.01") == 3  # -1 decided, +1 new
    assert total(kalteng) == 2  # not of its scope: kept
