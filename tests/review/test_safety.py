"""The dashboard's safety rails over HTTP on a real database: the confirmation step, logins
that end on the server, forms kept across an expired login, security headers, local
redirects only, and the Notifikasi page by name, with a search and local times."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.storage.db import session_scope
from services.storage.models import LoginSessionRow, NotificationRow
from tests.review.conftest import SUNGAI_RAYA_A, SUNGAI_RAYA_B, coop_id, csrf_of, logged_in


def test_approving_on_a_page_first_names_who_is_told(app, seeded):
    client = logged_in(app, "pu.sungairaya")
    sid = seeded.sid(SUNGAI_RAYA_A)
    page = client.get(f"/suggestions/{sid}")
    form = {
        "csrf_token": csrf_of(page.text),
        "decision": "approved",
        "reason_code": "sesuai_kebutuhan",
        "note": "Hubungi pengurus minggu ini.",
        "version": "1",
    }
    confirmation = client.post(f"/suggestions/{sid}/decide", data=form)
    assert confirmation.status_code == 200
    text = confirmation.text
    assert "Setujui saran ini?" in text and "Siapa yang diberi tahu" in text
    assert f"Koperasi Desa Merah Putih {SUNGAI_RAYA_A}" in text
    assert "Bank Rakyat Indonesia" in text and "Kemitraan disetujui" in text
    assert "Hubungi pengurus minggu ini." in text, "the typed note is carried over"
    assert seeded.row(sid).status == "pending", "nothing is decided before the confirmation"
    done = client.post(f"/suggestions/{sid}/decide", data={**form, "confirmed": "1"})
    assert "Saran disetujui" in done.text
    assert seeded.row(sid).status == "approved"
    # A rejection tells nobody outside: no confirmation step.
    sid_b = seeded.sid(SUNGAI_RAYA_B)
    rejected = client.post(
        f"/suggestions/{sid_b}/decide",
        data={**form, "decision": "rejected", "reason_code": "sudah_ada_mitra"},
    )
    assert "Saran ditolak" in rejected.text
    assert seeded.row(sid_b).status == "rejected"


def test_a_reopened_rejection_is_confirmed_as_telling_nobody(app, seeded):
    client = logged_in(app, "pmo.kalbar")
    sid = seeded.sid(SUNGAI_RAYA_A)
    token = csrf_of(client.get(f"/suggestions/{sid}").text)
    client.post(
        f"/suggestions/{sid}/decide",
        data={
            "csrf_token": token,
            "decision": "rejected",
            "reason_code": "sudah_ada_mitra",
            "version": "1",
        },
    )
    confirmation = client.post(
        f"/suggestions/{sid}/reopen", data={"csrf_token": token, "version": "2"}
    )
    assert "tidak diberi tahu" in confirmation.text
    assert "Kemitraan dibatalkan" not in confirmation.text


def test_logout_ends_the_login_on_the_server(app, engine):
    client = logged_in(app, "pmo.kalbar")
    kept_cookie = client.cookies.get("kopdes_session")
    assert kept_cookie
    token = csrf_of(client.get("/").text)
    client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    with Session(engine) as session:
        assert not session.exec(select(LoginSessionRow)).all()
    # The cookie from before the logout (a copy kept by anyone) no longer works.
    thief = TestClient(app, cookies={"kopdes_session": kept_cookie})
    response = thief.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_a_note_typed_before_the_login_expired_is_sent_after_logging_in_again(app, engine, seeded):
    client = logged_in(app, "pu.sungairaya")
    sid = seeded.sid(SUNGAI_RAYA_B)
    page = client.get(f"/suggestions/{sid}")
    with session_scope(engine) as session:  # the login ends meanwhile (expired, logged out)
        for row in session.exec(select(LoginSessionRow)).all():
            session.delete(row)
    note = "Pengurus belum lengkap; tunggu RAT bulan depan."
    response = client.post(
        f"/suggestions/{sid}/decide",
        data={
            "csrf_token": csrf_of(page.text),
            "decision": "rejected",
            "reason_code": "koperasi_belum_siap",
            "note": note,
            "version": "1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/login"
    login_page = client.get("/login")
    assert "catatan Anda disimpan" in login_page.text
    logged = client.post(
        "/login",
        data={
            "username": "pu.sungairaya",
            "password": "kata-sandi-uji-123",
            "csrf_token": csrf_of(login_page.text),
        },
        follow_redirects=False,
    )
    assert logged.headers["location"] == "/lanjutkan"
    resume = client.get("/lanjutkan")
    assert "Kirim ulang: Tolak saran" in resume.text and note in resume.text
    assert seeded.row(sid).status == "pending", "not applied before the coordinator resends"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', resume.text))
    sent = client.post(f"/suggestions/{sid}/decide", data={**fields, "note": note})
    assert "Saran ditolak" in sent.text
    assert seeded.row(sid).status == "rejected"
    assert client.get("/lanjutkan", follow_redirects=False).headers["location"] == "/"


def test_every_answer_carries_the_security_headers(app, seeded):
    client = logged_in(app, "admin")
    for path in (
        "/login",
        "/",
        "/overview",
        "/notifikasi",
        "/static/review.css",
        "/api/v1/me",
        "/api/v1/docs",
        "/no-such-page",
    ):
        response = client.get(path, follow_redirects=False)
        csp = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp, path
        assert response.headers.get("x-content-type-options") == "nosniff", path
        assert response.headers.get("referrer-policy") == "same-origin", path
    assert "script-src 'self';" in client.get("/").headers["content-security-policy"]


def test_mark_read_returns_only_to_a_path_on_this_site(app, engine, seeded):
    sid = seeded.sid(SUNGAI_RAYA_A)
    with session_scope(engine) as session:
        session.add(
            NotificationRow(
                notification_id="nt-1",
                recipient_type="cooperative",
                recipient_id=coop_id(SUNGAI_RAYA_A),
                suggestion_id=sid,
                kind="approved",
                title="Kemitraan disetujui: Bank Rakyat Indonesia",
                body="Kemitraan untuk koperasi telah disetujui koordinator.",
                created_at=datetime(2026, 12, 1, 1, 0, tzinfo=UTC),
            )
        )
    client = logged_in(app, "pmo.kalbar")
    token = csrf_of(client.get("/notifikasi").text)
    for back in ("//evil.example", "/\\evil.example", "https://evil.example/", "/\t/evil.example"):
        response = client.post(
            "/notifikasi/nt-1/dibaca",
            data={"csrf_token": token, "read": "true", "back": back},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/notifikasi", back


def test_notifikasi_finds_inboxes_by_name_and_shows_local_time(app, engine, seeded):
    sid = seeded.sid(SUNGAI_RAYA_A)
    with session_scope(engine) as session:
        for kind, hour, recipient_type, recipient_id in (
            ("approved", 1, "cooperative", coop_id(SUNGAI_RAYA_A)),
            ("cancelled", 2, "cooperative", coop_id(SUNGAI_RAYA_A)),
            ("approved", 1, "partner", "bri"),
        ):
            session.add(
                NotificationRow(
                    notification_id=f"nt-{kind}-{recipient_type}",
                    recipient_type=recipient_type,
                    recipient_id=recipient_id,
                    suggestion_id=sid,
                    kind=kind,
                    title=f"Kemitraan {kind}",
                    body="Baris pertama.\nBaris kedua yang panjang " + "sekali " * 60,
                    created_at=datetime(2026, 12, 1, hour, 0, tzinfo=UTC),
                )
            )
    client = logged_in(app, "pmo.kalbar")
    found = client.get("/notifikasi", params={"q": "merah putih 61.12.01.2004"})
    assert f"Koperasi Desa Merah Putih {SUNGAI_RAYA_A}" in found.text
    assert "Kalimantan Barat" in found.text, "the recipient's region is shown"
    assert "Bank Rakyat Indonesia" not in found.text
    partner = client.get("/notifikasi", params={"q": "RAKYAT"})
    assert "Bank Rakyat Indonesia" in partner.text
    inbox = client.get(
        "/notifikasi",
        params={"recipient_type": "cooperative", "recipient_id": coop_id(SUNGAI_RAYA_A)},
    )
    # Kalimantan Barat keeps WIB: 01:00 UTC is 08:00 WIB, labelled.
    assert "01-12-2026 08:00 WIB" in inbox.text
    assert "UTC" not in inbox.text
    # The approval shows that it was taken back later.
    assert "Dibatalkan kemudian (01-12-2026 09:00 WIB)" in inbox.text
