"""Why a suggestion is on the list (its basis), and the queue of one cooperative across
offers (a business assistant's view) or of one offer: pages, API, exports, scope."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from services.review.filters import QueueFilter
from services.review.queue import queue
from services.storage.models import CoordinatorRow
from tests.review.conftest import (
    KOTAWARINGIN,
    KUALA_MANDOR,
    SAMBAS,
    SUNGAI_RAYA_A,
    SUNGAI_RAYA_B,
    VILLAGES,
    bearer,
    coop_id,
    logged_in,
)
from tests.review.test_queue_and_cli import listed

BRI = "bri/kur-kalbar"
BULOG = "bulog/serap-gabah"
OFFER_SENTENCE = "Termasuk 20 koperasi terbaik untuk tawaran ini di Provinsi Kalimantan Barat."
COOPERATIVE_SENTENCE = "Termasuk 3 tawaran terbaik untuk koperasi ini."


def pairs(result: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i["village_code"], i["partner_id"]) for i in result["items"]}


def test_api_suggestions_carry_basis_and_province(client, seeded, tokens):
    items = {
        (i["village_code"], i["partner_id"]): i
        for i in listed(client, tokens["admin"], per_page=100)["items"]
    }
    assert len(items) == 2 * len(VILLAGES)
    assert items[(KUALA_MANDOR, "bri")]["basis"] == ["offer", "cooperative"]
    assert items[(SAMBAS, "bri")]["basis"] == ["offer"]
    assert items[(SAMBAS, "bulog")]["basis"] == ["cooperative"]
    assert items[(KOTAWARINGIN, "bulog")]["province_code"] == "62"
    assert items[(SAMBAS, "bulog")]["province_code"] == "61"
    detail = client.get(
        f"/api/v1/suggestions/{seeded.sid(KUALA_MANDOR)}", headers=bearer(tokens["admin"])
    ).json()
    assert detail["suggestion"]["basis"] == ["offer", "cooperative"]
    assert detail["suggestion"]["province_code"] == "61"
    assert {s["basis"][0] for s in detail["same_cooperative"]} == {"cooperative"}  # Bulog's


def test_api_lists_a_cooperatives_suggestions_across_offers_and_an_offers(client, seeded, tokens):
    admin = tokens["admin"]
    sambas = listed(client, admin, cooperative=coop_id(SAMBAS))
    assert pairs(sambas) == {(SAMBAS, "bri"), (SAMBAS, "bulog")} and sambas["total"] == 2
    # Exact, and combined with the other filters.
    assert listed(client, admin, cooperative=coop_id(SAMBAS)[:-1])["total"] == 0
    assert pairs(listed(client, admin, cooperative=coop_id(SAMBAS), partner="bulog")) == {
        (SAMBAS, "bulog")
    }
    assert pairs(listed(client, admin, offer=BULOG)) == {(v, "bulog") for v in VILLAGES}
    assert pairs(listed(client, admin, offer=BRI, regency="61.12")) == {
        (v, "bri") for v in (SUNGAI_RAYA_A, SUNGAI_RAYA_B, KUALA_MANDOR)
    }
    assert listed(client, admin, offer="bri/serap-gabah")["total"] == 0
    # Keyset pages keep to the cooperative.
    first = listed(client, admin, cooperative=coop_id(SAMBAS), per_page=1)
    second = listed(
        client, admin, cooperative=coop_id(SAMBAS), per_page=1, after=first["next_cursor"]
    )
    assert pairs(first) | pairs(second) == pairs(sambas) and not second["next_cursor"]
    for bad in ("bri", "bri/", "/kur-kalbar", "bri/kur kalbar"):
        answer = client.get("/api/v1/suggestions", headers=bearer(admin), params={"offer": bad})
        assert answer.status_code == 422, bad
        assert "partner_id/offer_id" in answer.json()["detail"]


def test_scope_holds_in_the_cooperative_and_offer_queues(app, client, seeded, tokens):
    # Sambas lies in Kalimantan Barat: Kalimantan Tengah's PMO sees none of it.
    assert listed(client, tokens["pmo.kalteng"], cooperative=coop_id(SAMBAS))["total"] == 0
    assert pairs(listed(client, tokens["pmo.kalteng"], offer=BRI)) == {(KOTAWARINGIN, "bri")}
    # A village's business assistant sees the offer's suggestion of that village only.
    assert pairs(listed(client, tokens["pu.desa"], offer=BRI)) == {(SUNGAI_RAYA_B, "bri")}
    page = logged_in(app, "pmo.kalteng").get("/", params={"cooperative": coop_id(SAMBAS)}).text
    assert "0 menunggu" in page
    # The filter shows the id it was given, not the name of a cooperative out of scope.
    assert f"<strong>{coop_id(SAMBAS)}</strong>" in page and "Dalam Kaum" not in page
    out_of_scope = logged_in(app, "pmo.kalteng").get(
        "/export.csv", params={"cooperative": coop_id(SAMBAS)}
    )
    assert len(list(csv.reader(io.StringIO(out_of_scope.content.decode("utf-8-sig"))))) == 1


def test_queue_rows_show_the_basis_as_short_badges(app, seeded):
    html = logged_in(app, "admin").get("/", params={"regency": "61.12", "partner": "bri"}).text
    assert html.count('<span class="tag">Masuk 20 besar provinsi</span>') == 3
    assert html.count('<span class="tag">Masuk 3 tawaran teratas koperasi</span>') == 1
    bulog = logged_in(app, "admin").get("/", params={"offer": BULOG}).text
    assert bulog.count('<span class="tag">Masuk 3 tawaran teratas koperasi</span>') == 5
    assert "Masuk 20 besar provinsi" not in bulog


def test_detail_explains_the_basis_and_links_to_the_cooperatives_and_offers_queues(app, seeded):
    pu = logged_in(app, "pu.sungairaya")
    detail = pu.get(f"/suggestions/{seeded.sid(SUNGAI_RAYA_A)}").text
    assert f"<li>{OFFER_SENTENCE}</li>" in detail and COOPERATIVE_SENTENCE not in detail
    cooperative_queue = f"/?cooperative={coop_id(SUNGAI_RAYA_A)}"
    assert f'href="{cooperative_queue}">Semua saran untuk koperasi ini</a>' in detail
    assert 'href="/?offer=bri%2Fkur-kalbar">Semua saran untuk tawaran ini</a>' in detail
    both = pu.get(f"/suggestions/{seeded.sid(KUALA_MANDOR)}").status_code
    assert both == 404, "Kuala Mandor lies outside the Sungai Raya district"
    admin_detail = logged_in(app, "admin").get(f"/suggestions/{seeded.sid(KUALA_MANDOR)}").text
    assert f"<li>{OFFER_SENTENCE}</li>" in admin_detail
    assert f"<li>{COOPERATIVE_SENTENCE}</li>" in admin_detail

    # The cooperative's queue: both of its offers, named, with the filter kept everywhere.
    queue = pu.get(cooperative_queue).text
    assert "2 menunggu" in queue
    assert "Hanya saran untuk koperasi <strong>Koperasi Desa Merah Putih 61.12.01.2004" in queue
    assert f'<input type="hidden" name="cooperative" value="{coop_id(SUNGAI_RAYA_A)}">' in queue
    assert 'href="/">Tampilkan semua koperasi</a>' in queue
    links = [p.split('"')[0] for p in queue.split('href="')[1:] if p.startswith("/suggestions/")]
    assert sorted(links) == sorted(
        f"/suggestions/{seeded.sid(SUNGAI_RAYA_A, p)}?cooperative={coop_id(SUNGAI_RAYA_A)}"
        for p in ("bri", "bulog")
    )
    # "Berikutnya" walks the cooperative's suggestions, then returns to its queue.
    following = pu.get(links[0].replace("?", "/next?"), follow_redirects=False)
    assert following.headers["location"] == links[1]
    last = pu.get(links[1].replace("?", "/next?"), follow_redirects=False)
    assert last.headers["location"] == cooperative_queue

    offer_queue = pu.get("/", params={"offer": BRI}).text
    assert "2 menunggu" in offer_queue  # the district's two villages
    assert "Hanya saran untuk tawaran <strong>Tawaran Bank Rakyat Indonesia (Bank" in offer_queue


def test_malformed_offer_filter_is_refused_with_a_message(app, seeded):
    answer = logged_in(app, "admin").get("/", params={"offer": "bri"})
    assert answer.status_code == 422
    assert "ID mitra/ID tawaran" in answer.text


def test_exports_follow_the_cooperative_and_offer_filters(app, seeded):
    pmo = logged_in(app, "pmo.kalbar")
    rows = list(
        csv.DictReader(
            io.StringIO(
                pmo.get("/export.csv", params={"cooperative": coop_id(SAMBAS)}).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert {(r["ID koperasi"], r["ID mitra"]) for r in rows} == {
        (coop_id(SAMBAS), "bri"),
        (coop_id(SAMBAS), "bulog"),
    }
    body = pmo.get("/export.csv", params={"offer": BULOG}).content.decode("utf-8-sig")
    by_offer = list(csv.DictReader(io.StringIO(body)))
    assert {r["ID mitra"] for r in by_offer} == {"bulog"} and len(by_offer) == 4  # not Kalteng


@pytest.mark.parametrize("narrowed", [{"cooperative": coop_id(SAMBAS)}, {"offer": BRI}])
def test_narrowed_queue_leads_with_its_index_on_sqlite(engine, seeded, narrowed):
    """The queue stays fast: one cooperative's or offer's rows come through its index, not
    a walk down the whole pending queue in score order."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from its statistics")
    index = (
        "ix_suggestion_cooperative_status"
        if "cooperative" in narrowed
        else "ix_suggestion_offer_status"
    )
    statements: list[tuple[str, Any]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    with Session(engine) as session:
        admin = session.exec(select(CoordinatorRow).where(CoordinatorRow.username == "admin")).one()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            page = queue(session, admin, QueueFilter(**narrowed))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        assert page.items
        plans = [
            " | ".join(
                row[3]
                for row in session.connection().exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters
                )
            )
            for statement, parameters in statements
            if "FROM suggestion" in statement
        ]
    # The count and the page's ids through the index; then the page's rows by their ids.
    count, page_ids, page_rows = plans
    assert index in count and index in page_ids, plans
    assert "sqlite_autoindex_suggestion_1 (suggestion_id=?)" in page_rows, plans
