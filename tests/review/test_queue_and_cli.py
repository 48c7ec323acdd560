"""Queue filters, sorting and pages; the overview page; coordinator accounts on the CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from services.cli import app as cli
from services.review.accounts import ensure_demo_coordinators
from services.review.auth import verify_password
from tests.review.conftest import (
    KOTAWARINGIN,
    KUALA_MANDOR,
    SAMBAS,
    SUNGAI_RAYA_A,
    SUNGAI_RAYA_B,
    bearer,
    logged_in,
)


def listed(client, token, **params):
    response = client.get("/api/v1/suggestions", headers=bearer(token), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_filters_by_regency_district_partner_type_and_score(client, seeded, tokens):
    token = tokens["admin"]
    villages = lambda body: {i["village_code"] for i in body["items"]}  # noqa: E731
    assert villages(listed(client, token, regency="61.12")) == {
        SUNGAI_RAYA_A,
        SUNGAI_RAYA_B,
        KUALA_MANDOR,
    }
    assert villages(listed(client, token, district="61.12.01")) == {SUNGAI_RAYA_A, SUNGAI_RAYA_B}
    bulog = listed(client, token, partner="bulog")
    assert {i["partner_id"] for i in bulog["items"]} == {"bulog"} and bulog["total"] == 5
    offtake = listed(client, token, offer_type="offtake")
    assert {i["offer_type"] for i in offtake["items"]} == {"offtake"}
    # Scores are 90, 85, 80, 75, 70 by village.
    assert villages(listed(client, token, min_score=80)) == {
        SUNGAI_RAYA_A,
        SUNGAI_RAYA_B,
        KUALA_MANDOR,
    }
    # A filter never widens the scope.
    assert listed(client, tokens["pu.desa"], regency="61.01")["total"] == 0


def test_sorting_and_pages(client, seeded, tokens):
    token = tokens["admin"]
    by_score = listed(client, token, partner="bri")["items"]
    assert [i["score"] for i in by_score] == sorted((i["score"] for i in by_score), reverse=True)
    by_name = listed(client, token, partner="bri", sort="cooperative")["items"]
    assert [i["cooperative_name"] for i in by_name] == sorted(
        i["cooperative_name"] for i in by_name
    )
    first = listed(client, token, per_page=4, page=1)
    third = listed(client, token, per_page=4, page=3)
    assert (first["total"], first["pages"], len(first["items"]), len(third["items"])) == (
        10,
        3,
        4,
        2,
    )
    seen = {
        i["suggestion_id"]
        for p in (1, 2, 3)
        for i in listed(client, token, per_page=4, page=p)["items"]
    }
    assert len(seen) == 10, "pages do not overlap"
    bad = client.get("/api/v1/suggestions", headers=bearer(token), params={"min_score": 300})
    assert bad.status_code == 422


def test_queue_page_filters_and_rejects_bad_input_in_words(app, seeded):
    client = logged_in(app, "pmo.kalbar")
    page = client.get("/", params={"regency": "61.01", "sort": "newest"}).text
    assert seeded.sid(SAMBAS) in page and seeded.sid(SUNGAI_RAYA_A) not in page
    assert "2 menunggu" in page
    bad = client.get("/", params={"min_score": "banyak"})
    assert bad.status_code == 422
    assert "Skor minimal harus berupa angka" in bad.text
    past_the_end = client.get("/", params={"page": "2"}).text
    assert "Halaman ini kosong" in past_the_end and "Tidak ada saran" not in past_the_end


def test_detail_page_explains_the_score_in_words(app, seeded):
    page = logged_in(app, "pu.desa").get(f"/suggestions/{seeded.sid(SUNGAI_RAYA_B)}").text
    assert "Kecocokan unit usaha: 90,0 dari 100 (bobot 40%)" in page
    assert "Tawaran Bank Rakyat Indonesia" in page
    assert "Sungai Raya, Kubu Raya, Kalimantan Barat" in page
    assert "Perum Bulog" in page  # the other suggestion of this cooperative
    assert "Setujui saran" in page and "Tolak saran" in page


def test_overview_page_shows_numbers_and_bars(app, client, seeded, tokens):
    for village, decision, reason in (
        (SUNGAI_RAYA_A, "approved", "sesuai_kebutuhan"),
        (SUNGAI_RAYA_B, "rejected", "sudah_ada_mitra"),
    ):
        client.post(
            f"/api/v1/suggestions/{seeded.sid(village)}/decision",
            headers=bearer(tokens["admin"]),
            json={"decision": decision, "reason_code": reason, "version": 1},
        ).raise_for_status()
    page = logged_in(app, "admin").get("/overview", params={"province": "61"}).text
    assert "Saran per kabupaten/kota" in page
    assert 'aria-label="4 menunggu, 1 disetujui, 1 ditolak"' in page  # Kubu Raya's bar
    assert "Tingkat persetujuan per mitra" in page
    assert "50%" in page  # BRI: one approved, one rejected
    assert "Kotawaringin Barat" in logged_in(app, "admin").get("/overview?province=62").text
    api = client.get("/api/v1/overview", headers=bearer(tokens["admin"])).json()
    rates = {p["partner_id"]: p["approval_rate"] for p in api["partners"]}
    assert rates == {"bri": 0.5, "bulog": None}
    assert KOTAWARINGIN.startswith("62")


def test_cli_adds_lists_disables_and_issues_tokens(database_url, tmp_path):
    runner = CliRunner()
    common = ["--database-url", database_url, "--data-dir", str(tmp_path / "data")]
    added = runner.invoke(
        cli,
        [
            "coordinator",
            "add",
            "pu.kuala",
            "--role",
            "business_assistant",
            "--scope",
            "61.12.01",
            "--password",
            "rahasia-panjang-1",
            *common,
        ],
    )
    assert added.exit_code == 0, added.output
    wrong = runner.invoke(
        cli,
        [
            "coordinator",
            "add",
            "pmo.x",
            "--role",
            "pmo",
            "--scope",
            "61.12.01",
            "--password",
            "rahasia-panjang-1",
            *common,
        ],
    )
    assert wrong.exit_code == 2 and "is a district" in wrong.output
    short = runner.invoke(
        cli, ["coordinator", "add", "adm", "--role", "admin", "--password", "pendek", *common]
    )
    assert short.exit_code == 2
    listing = runner.invoke(cli, ["coordinator", "list", *common])
    assert "pu.kuala" in listing.output and "Sungai Raya" in listing.output
    token = runner.invoke(cli, ["coordinator", "token", "pu.kuala", *common])
    assert token.exit_code == 0 and token.output.strip().startswith("kdm_")
    disabled = runner.invoke(cli, ["coordinator", "disable", "pu.kuala", *common])
    assert disabled.exit_code == 0
    assert runner.invoke(cli, ["coordinator", "token", "pu.kuala", *common]).exit_code == 2
    assert "no" in runner.invoke(cli, ["coordinator", "list", *common]).output


def test_demo_coordinators_get_fresh_passwords(engine):
    first = ensure_demo_coordinators(engine)
    second = ensure_demo_coordinators(engine)
    assert [(u, r, s) for u, _, r, s in first] == [(u, r, s) for u, _, r, s in second]
    assert {u for u, *_ in first} == {"pmo.kalbar", "pendamping.sungairaya", "admin"}
    assert all(a[1] != b[1] for a, b in zip(first, second, strict=True))
    from sqlmodel import Session, select

    from services.storage.models import CoordinatorRow

    with Session(engine) as session:
        rows = {c.username: c for c in session.exec(select(CoordinatorRow))}
    for username, password, _, _ in second:
        assert verify_password(rows[username].password_hash, password)


def test_bulk_approve_returns_only_to_a_path_on_this_site(app, seeded):
    from tests.review.conftest import csrf_of

    client = logged_in(app, "pu.desa")
    token = csrf_of(client.get("/").text)
    for back in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        response = client.post(
            "/bulk-approve",
            data={"csrf_token": token, "reason_code": "sesuai_kebutuhan", "back": back},
            follow_redirects=False,
        )
        assert response.status_code == 303 and response.headers["location"] == "/"
