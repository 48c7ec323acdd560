"""Finding, paging and exporting the queue: search, province and district filters, keyset
pages, filters kept through the detail page and "Berikutnya", age, CSV/XLSX, overview."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session

from schemas.regions import region_table
from services.review import worklist
from services.review.labels import OFFER_TYPE_LABELS
from services.storage.models import SuggestionRow
from services.storage.types import utcnow
from tests.integration.review.test_queue_and_cli import listed
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


def villages(result) -> set[str]:
    return {i["village_code"] for i in result["items"]}


def test_search_by_village_or_cooperative_name_forgives_case_accents_and_typos(
    client, seeded, tokens
):
    admin = tokens["admin"]
    assert villages(listed(client, admin, q="KUALA DÚA")) == {SUNGAI_RAYA_A}
    assert villages(listed(client, admin, q="kuala mandr")) == {KUALA_MANDOR}  # a typo
    assert villages(listed(client, admin, q="Dalam Kaum")) == {SAMBAS}
    assert villages(listed(client, admin, q="kdmp-6101012001")) == {SAMBAS}  # an id
    assert villages(listed(client, admin, q="61.12.01")) == {SUNGAI_RAYA_A, SUNGAI_RAYA_B}
    # The cooperative's own name (the seeded names carry their village code)
    assert villages(listed(client, admin, q="merah putih 62.01.01.1011")) == {KOTAWARINGIN}
    assert listed(client, admin, q="tidak ada desa seperti ini")["total"] == 0
    # A search never widens the scope.
    assert listed(client, tokens["pmo.kalteng"], q="kuala dua")["total"] == 0


def test_province_filter_and_districts_named_with_their_regency(app, client, seeded, tokens):
    assert villages(listed(client, tokens["admin"], province="62")) == {KOTAWARINGIN}
    page = logged_in(app, "admin")
    first = page.get("/").text
    assert 'name="province"' in first and "Kalimantan Tengah" in first
    assert 'name="district"' not in first, "districts wait for a regency"
    with_regency = page.get("/", params={"province": "61", "regency": "61.12"}).text
    assert ">Sungai Raya, Kubu Raya</option>" in with_regency
    assert ">Kuala Mandor B, Kubu Raya</option>" in with_regency
    assert "Sambas, Sambas" not in with_regency
    # A regency of another province is dropped rather than combined into nothing.
    mixed = page.get("/", params={"province": "62", "regency": "61.12"}).text
    assert "2 menunggu" in mixed


def test_partner_picker_takes_a_typed_name(client, seeded, tokens):
    by_name = listed(client, tokens["admin"], partner="bulog")
    assert {i["partner_id"] for i in by_name["items"]} == {"bulog"} and by_name["total"] == 5
    by_words = listed(client, tokens["admin"], partner="rakyat indonesia")
    assert {i["partner_id"] for i in by_words["items"]} == {"bri"}
    assert listed(client, tokens["admin"], partner="pertamina")["total"] == 0


def test_keyset_pages_walk_the_whole_queue_forward_and_back(client, seeded, tokens):
    token = tokens["admin"]
    for sort in ("score", "newest", "oldest", "cooperative"):
        seen: list[str] = []
        result = listed(client, token, per_page=3, sort=sort)
        while True:
            seen += [i["suggestion_id"] for i in result["items"]]
            if not result["next_cursor"]:
                break
            result = listed(client, token, per_page=3, sort=sort, after=result["next_cursor"])
        everything = [
            i["suggestion_id"] for i in listed(client, token, per_page=100, sort=sort)["items"]
        ]
        assert seen == everything and len(seen) == 10, sort
        last = listed(client, token, per_page=3, sort=sort, end=True)
        assert [i["suggestion_id"] for i in last["items"]] == everything[-3:]
        back = listed(client, token, per_page=3, sort=sort, before=last["previous_cursor"])
        assert [i["suggestion_id"] for i in back["items"]] == everything[-6:-3]
    bad = client.get("/api/v1/suggestions", headers=bearer(token), params={"after": "banyak~x"})
    assert bad.status_code == 422


def test_queue_pages_link_by_cursor_and_keep_the_filter(app, seeded):
    page = logged_in(app, "admin")
    html = page.get("/", params={"partner": "bri", "sort": "oldest"}).text
    assert "5 dari 5" in html and "Berikutnya ›" not in html
    html = page.get("/", params={"min_score": "0"}).text  # 10 of 10: one page of 25
    assert "10 dari 10" in html
    links = [
        href
        for href in (part.split('"')[0] for part in html.split('href="')[1:])
        if href.startswith("/suggestions/")
    ]
    assert links and all("min_score=0" in href for href in links)
    assert 'href="/export.csv?min_score=0"' in html


def test_detail_keeps_the_filter_and_berikutnya_opens_the_next_of_the_same_queue(app, seeded):
    pmo = logged_in(app, "pmo.kalbar")
    query = {"regency": "61.12", "partner": "bri"}  # Kubu Raya, BRI: scores 90, 85, 80
    first, second, third = (seeded.sid(v) for v in (SUNGAI_RAYA_A, SUNGAI_RAYA_B, KUALA_MANDOR))
    detail = pmo.get(f"/suggestions/{first}", params=query).text
    assert 'href="/?regency=61.12&amp;partner=bri">‹ Antrean' in detail
    form = {
        "csrf_token": csrf_of(detail),
        "decision": "approved",
        "version": "1",
        "reason_code": "sesuai_kebutuhan",
    }
    # The confirmation step keeps the filter for the decision it confirms.
    asked = pmo.post(f"/suggestions/{first}/decide?regency=61.12&partner=bri", data=form)
    assert f'action="/suggestions/{first}/decide?regency=61.12&amp;partner=bri"' in asked.text
    answer = pmo.post(
        f"/suggestions/{first}/decide?regency=61.12&partner=bri",
        data={**form, "confirmed": "1"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/suggestions/{first}?regency=61.12&partner=bri"
    decided = pmo.get(answer.headers["location"]).text
    assert "Berikutnya ›" in decided
    following = pmo.get(f"/suggestions/{first}/next", params=query, follow_redirects=False)
    assert following.headers["location"] == f"/suggestions/{second}?regency=61.12&partner=bri"
    following = pmo.get(f"/suggestions/{second}/next", params=query, follow_redirects=False)
    assert following.headers["location"].startswith(f"/suggestions/{third}?")
    # After the last one of the filtered queue: back to that queue, not to another one.
    last = pmo.get(f"/suggestions/{third}/next", params=query, follow_redirects=False)
    assert last.headers["location"] == "/?regency=61.12&partner=bri"
    assert "Tidak ada saran berikutnya" in pmo.get(last.headers["location"]).text


def test_age_is_shown_and_highlighted_past_the_reminder_period(app, seeded):
    with Session(seeded.engine) as session:
        row = session.get(SuggestionRow, seeded.sid(SAMBAS))
        assert row is not None
        row.created_at = utcnow() - timedelta(days=10)
        session.add(row)
        session.commit()
    html = logged_in(app, "pmo.kalbar").get("/", params={"sort": "oldest"}).text
    assert html.count("Menunggu sejak") == 8
    assert 'class="age small late">Menunggu sejak' in html and "(10 hari)" in html
    assert html.count(' late"') == 1


def _sheet(body: bytes) -> Worksheet:
    """The one sheet of an exported workbook."""
    sheet = load_workbook(io.BytesIO(body)).active
    assert isinstance(sheet, Worksheet)
    return sheet


def _rows_of_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_export_of_the_filtered_queue_as_csv_and_xlsx(app, seeded):
    pmo = logged_in(app, "pmo.kalbar")
    answer = pmo.get("/export.csv", params={"regency": "61.12", "partner": "bri"})
    assert answer.headers["content-disposition"] == 'attachment; filename="antrean-saran.csv"'
    rows = _rows_of_csv(answer.content)
    assert [r["Desa/kelurahan"] for r in rows] == ["Kuala Dua", "Sungai Raya", "Kuala Mandor B"]
    assert rows[0]["Kabupaten/kota"] == "Kabupaten Kubu Raya"
    assert rows[0]["Provinsi"] == "Kalimantan Barat" and rows[0]["Mitra"] == "Bank Rakyat Indonesia"
    assert rows[0]["ID saran"] == seeded.sid(SUNGAI_RAYA_A) and rows[0]["Skor"] == "90"
    sheet = _sheet(pmo.get("/export.xlsx", params={"regency": "61.12"}).content)
    values = list(sheet.values)
    assert values[0][:2] == ("ID saran", "Skor") and len(values) == 1 + 6
    assert {v[6] for v in values[1:]} == {"Kuala Dua", "Sungai Raya", "Kuala Mandor B"}
    # Scope holds in exports as everywhere.
    kalteng = _rows_of_csv(logged_in(app, "pmo.kalteng").get("/export.csv").content)
    assert {r["Kode desa"] for r in kalteng} == {KOTAWARINGIN}
    assert pmo.get("/export.pdf").status_code == 404


def test_an_export_holds_the_queue_in_its_order_in_every_sort_and_cut_at_the_limit(
    app, client, seeded, tokens, monkeypatch
):
    admin = logged_in(app, "admin")
    queues = {}
    for sort in ("score", "newest", "oldest", "cooperative"):
        queue = listed(client, tokens["admin"], per_page=100, sort=sort)["items"]
        queues[sort] = [i["suggestion_id"] for i in queue]
        rows = _rows_of_csv(admin.get("/export.csv", params={"sort": sort}).content)
        assert [r["ID saran"] for r in rows] == queues[sort], sort
    monkeypatch.setattr(worklist, "MAX_EXPORT", 4)
    for sort, ids in queues.items():
        rows = _rows_of_csv(admin.get("/export.csv", params={"sort": sort}).content)
        assert [r["ID saran"] for r in rows] == ids[:4], sort
        values = list(_sheet(admin.get("/export.xlsx", params={"sort": sort}).content).values)
        assert [v[0] for v in values[1:]] == ids[:4], sort
    # Filtered and cut: the filter's best, as its queue lists them.
    kubu = [i["suggestion_id"] for i in listed(client, tokens["admin"], regency="61.12")["items"]]
    rows = _rows_of_csv(admin.get("/export.csv", params={"regency": "61.12"}).content)
    assert [r["ID saran"] for r in rows] == kubu[:4]


def test_an_exported_row_names_what_the_queue_shows_with_its_time_in_wib(
    app, client, seeded, tokens
):
    created = datetime(2026, 1, 31, 20, 5, 42, tzinfo=UTC)  # 1 February, 03:05 in WIB
    with Session(seeded.engine) as session:
        sambas_row = session.get(SuggestionRow, seeded.sid(SAMBAS))
        assert sambas_row is not None
        sambas_row.created_at = created
        session.add(sambas_row)
        session.commit()
    queue = listed(client, tokens["admin"], per_page=100)["items"]
    rows = {
        r["ID saran"]: r for r in _rows_of_csv(logged_in(app, "admin").get("/export.csv").content)
    }
    assert len(rows) == len(queue)
    regions = region_table()
    for item in queue:
        row = rows[item["suggestion_id"]]
        village = item["village_code"]
        assert row["Skor"] == str(round(item["score"]))
        assert (row["Koperasi"], row["ID koperasi"]) == (
            item["cooperative_name"],
            item["cooperative_id"],
        )
        assert [row[c] for c in ("Desa/kelurahan", "Kecamatan", "Kabupaten/kota", "Provinsi")] == [
            regions.name(village),
            regions.name(village[:8]),
            regions.name(item["regency_code"]),
            regions.name(item["province_code"]),
        ]
        assert (row["Kode desa"], row["Mitra"], row["ID mitra"], row["Tawaran"]) == (
            village,
            item["partner_name"],
            item["partner_id"],
            item["offer_title"],
        )
        assert row["Jenis tawaran"] == OFFER_TYPE_LABELS[item["offer_type"]]
    sambas = rows[seeded.sid(SAMBAS)]
    assert sambas["Menunggu sejak"] == "2026-02-01 03:05"
    days = (datetime.now(UTC) - created).days
    assert int(sambas["Lama menunggu (hari)"]) in (days, days + 1)  # a midnight may pass
    others = [r for sid, r in rows.items() if sid != seeded.sid(SAMBAS)]
    assert all(r["Lama menunggu (hari)"] == "0" for r in others)


def test_admin_overview_groups_provinces_and_links_to_the_queue(app, seeded):
    admin = logged_in(app, "admin")
    html = admin.get("/overview").text
    assert "Saran per provinsi" in html
    assert 'href="/overview?province=61">Kalimantan Barat</a>' in html
    assert 'href="/?province=62"' in html and "Kubu Raya" not in html
    province = admin.get("/overview", params={"province": "61"}).text
    assert 'href="/?regency=61.12"' in province and "Kotawaringin" not in province
    rows = _rows_of_csv(admin.get("/overview.csv").content)
    assert {r["Kabupaten/kota"] for r in rows} == {
        "Kabupaten Kubu Raya",
        "Kabupaten Sambas",
        "Kabupaten Kotawaringin Barat",
    }
    kubu = next(r for r in rows if r["Kode kabupaten/kota"] == "61.12")
    assert (kubu["Provinsi"], kubu["Menunggu"], kubu["Koperasi"]) == ("Kalimantan Barat", "6", "3")
    # A PMO's overview lists its regencies, each a link to its queue.
    assert 'href="/?regency=61.01"' in logged_in(app, "pmo.kalbar").get("/overview").text


def test_pages_are_gzip_compressed(app, seeded):
    admin = logged_in(app, "admin")
    answer = admin.get("/", headers={"accept-encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert f"{2 * len(VILLAGES)} menunggu" in answer.text
    packed = admin.get("/export.csv", headers={"accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["vary"]
    # A client that takes no gzip gets the same file as it is.
    plain = admin.get("/export.csv", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == packed.content and len(_rows_of_csv(plain.content)) == 2 * len(VILLAGES)
    # An XLSX file is a zip already: sent as it is.
    xlsx = admin.get("/export.xlsx", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in xlsx.headers
    assert _sheet(xlsx.content).max_row == 1 + 2 * len(VILLAGES)


def test_an_export_holds_at_most_max_export_rows_and_the_queue_says_so(app, seeded, monkeypatch):
    monkeypatch.setattr(worklist, "MAX_EXPORT", 2)
    pmo = logged_in(app, "pmo.kalbar")
    rows = _rows_of_csv(pmo.get("/export.csv").content)
    best = {seeded.sid(SUNGAI_RAYA_A), seeded.sid(SUNGAI_RAYA_A, "bulog")}  # score 90 both
    assert {r["ID saran"] for r in rows} == best and len(rows) == 2
    assert _sheet(pmo.get("/export.xlsx").content).max_row == 1 + 2
    assert "Unduhan memuat 2 saran teratas dari 8" in pmo.get("/").text
    assert "Unduhan memuat" not in pmo.get("/", params={"regency": "61.01"}).text
