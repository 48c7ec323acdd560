"""Login, sessions, CSRF, rate limiting, tokens and roles of the review dashboard and API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from services.review.accounts import set_active
from services.storage.models import CoordinatorRow
from tests.support.review import PASSWORD, bearer, csrf_of, logged_in, login


def test_pages_need_a_login(client):
    for path in ("/", "/overview", "/suggestions/sg-anything"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200
    assert "Masuk" in page.text and 'lang="id"' in page.text


def test_login_sets_a_httponly_samesite_cookie_and_shows_the_queue(client):
    response = login(client, "pmo.kalbar")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie.replace("httponly", "")  # off unless configured
    queue = client.get("/")
    assert queue.status_code == 200 and "Antrean saran" in queue.text


def test_secure_cookie_when_configured(review_settings, engine, seeded):
    from types import SimpleNamespace

    from services.review.web import create_app

    review_settings.cookie_secure = True
    app = create_app(SimpleNamespace(settings=review_settings, engine=engine, relay=None))
    with TestClient(app, base_url="https://testserver") as client:
        response = login(client, "pmo.kalbar")
        assert "; secure" in response.headers["set-cookie"].lower()


def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    wrong = login(client, "pmo.kalbar", "salah-sekali-123")
    unknown = login(client, "nobody", "salah-sekali-123")
    assert wrong.status_code == unknown.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in wrong.text
    assert "Nama pengguna atau kata sandi salah" in unknown.text


def test_passwords_are_stored_as_argon2_hashes(engine, seeded):
    with Session(engine) as session:
        for row in session.exec(select(CoordinatorRow)):
            assert row.password_hash.startswith("$argon2id$")
            assert PASSWORD not in row.password_hash


def test_five_failed_logins_block_that_user_and_ip_for_the_window(client, review_settings):
    assert review_settings.login_max_failures == 5
    for _ in range(5):
        assert login(client, "pu.sungairaya", "salah-sekali-123").status_code == 401
    blocked = login(client, "pu.sungairaya")  # even the right password now
    assert blocked.status_code == 429
    assert "Terlalu banyak percobaan masuk yang gagal" in blocked.text
    # Another username from the same address is not blocked.
    assert login(client, "pmo.kalbar").status_code == 303


def test_successful_login_clears_earlier_failures(client):
    for _ in range(4):
        login(client, "pu.sungairaya", "salah-sekali-123")
    assert login(client, "pu.sungairaya").status_code == 303
    client.cookies.clear()
    for _ in range(4):
        assert login(client, "pu.sungairaya", "salah-sekali-123").status_code == 401
    assert login(client, "pu.sungairaya").status_code == 303


def test_every_form_post_needs_the_csrf_token(app, seeded):
    client = logged_in(app, "pmo.kalbar")
    sid = seeded.sid("61.12.01.2004")
    posts: dict[str, dict[str, object]] = {
        "/login": {"username": "pmo.kalbar", "password": PASSWORD},
        "/logout": {},
        f"/suggestions/{sid}/decide": {
            "decision": "approved",
            "reason_code": "sesuai_kebutuhan",
            "version": "1",
        },
        f"/suggestions/{sid}/reopen": {"version": "2"},
        "/bulk-approve": {"selected": [f"{sid}:1"], "reason_code": "sesuai_kebutuhan"},
    }
    resumable = {f"/suggestions/{sid}/decide", f"/suggestions/{sid}/reopen", "/bulk-approve"}
    for path, data in posts.items():
        for token in (None, "forged-token"):
            form = dict(data) if token is None else {**data, "csrf_token": token}
            response = client.post(path, data=form, follow_redirects=False)
            if path in resumable:
                # A decision form is kept to be sent again by hand, never applied.
                assert response.status_code == 303, path
                assert response.headers["location"] == "/lanjutkan"
                again = client.get("/lanjutkan")
                assert "Kirim ulang" in again.text and "CSRF" in again.text
                assert f'action="{path}"' in again.text
            else:
                assert response.status_code == 403, path
                assert "CSRF" in response.text
            # A post from another site is refused outright, not kept.
            foreign = client.post(
                path, data=form, headers={"Origin": "https://evil.example"}, follow_redirects=False
            )
            assert foreign.status_code == 403 and "CSRF" in foreign.text, path
    assert seeded.row(sid).status == "pending", "nothing was decided without the token"
    # The session still works (logout was refused too).
    assert client.get("/", follow_redirects=False).status_code == 200


def test_logout_ends_the_session(app):
    client = logged_in(app, "pmo.kalbar")
    token = csrf_of(client.get("/").text)
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/", follow_redirects=False).status_code == 303


def test_disabling_a_coordinator_ends_session_and_tokens_at_once(app, engine, tokens):
    client = logged_in(app, "pmo.kalbar")
    api = TestClient(app)
    assert api.get("/api/v1/me", headers=bearer(tokens["pmo.kalbar"])).status_code == 200
    set_active(engine, "pmo.kalbar", active=False)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert api.get("/api/v1/me", headers=bearer(tokens["pmo.kalbar"])).status_code == 401
    assert login(TestClient(app), "pmo.kalbar").status_code == 401


def test_api_needs_a_valid_bearer_token(client, tokens):
    assert client.get("/api/v1/suggestions").status_code == 401
    bad = client.get("/api/v1/suggestions", headers=bearer("kdm_not-a-real-token"))
    assert bad.status_code == 401
    assert bad.json()["detail"] == "Token tidak sah atau dicabut."
    me = client.get("/api/v1/me", headers=bearer(tokens["pu.sungairaya"])).json()
    assert me["username"] == "pu.sungairaya" and me["role"] == "business_assistant"
    assert "password_hash" not in me


def test_the_api_ignores_the_session_cookie(app):
    # Cookies are not credentials for the API, so a forged cross-site request has none.
    client = logged_in(app, "admin")
    assert client.get("/api/v1/suggestions").status_code == 401


def test_openapi_documents_the_api_and_its_bearer_auth(client):
    doc = client.get("/api/v1/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/api/v1/suggestions",
        "/api/v1/suggestions/{suggestion_id}",
        "/api/v1/suggestions/{suggestion_id}/decision",
        "/api/v1/suggestions/bulk-approve",
        "/api/v1/suggestions/{suggestion_id}/reopen",
        "/api/v1/overview",
    ):
        assert path in paths, path
    assert "/login" not in paths, "pages are not part of the API"
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert "409" in paths["/api/v1/suggestions/{suggestion_id}/decision"]["post"]["responses"]
