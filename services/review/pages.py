"""Dashboard pages (server-rendered, Bahasa Indonesia): login, queue, detail, overview."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from schemas import Decision
from services.platform.redirects import local_path
from services.review import confirm, decisions, export, resume, worklist
from services.review.auth import (
    authenticate,
    end_login,
    login_blocked,
    new_csrf_token,
    start_login,
)
from services.review.choices import filter_choices
from services.review.deps import CsrfChecked, PageCoordinator, SessionDep, SettingsDep
from services.review.detail import detail
from services.review.filters import QueueFilter, is_sort, narrowed_to, offer_key
from services.review.overview import overview
from services.review.queue import BadCursor, next_after, queue
from services.review.rendering import flash, render
from services.review.scope import scope_label
from services.storage.models import CoordinatorRow

router = APIRouter(include_in_schema=False)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    if request.session.get("login"):
        return RedirectResponse("/", status_code=303)
    return render(request, "login.html")


@router.post("/login", dependencies=[CsrfChecked])
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    ip = _client_ip(request)
    name = username.strip().lower()
    if login_blocked(session, settings, name, ip):
        minutes = settings.login_window_seconds // 60
        return render(
            request,
            "login.html",
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            error=f"Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {minutes} menit.",
            username=name,
        )
    coordinator = authenticate(session, settings, name, password, ip)
    if coordinator is None:
        return render(
            request,
            "login.html",
            status_code=status.HTTP_401_UNAUTHORIZED,
            error="Nama pengguna atau kata sandi salah, atau akun dinonaktifkan.",
            username=name,
        )
    # A fresh session on login: nothing from before the login carries over but a form
    # the coordinator was sending when the last login expired.
    kept = request.session.get(resume.KEPT)
    request.session.clear()
    request.session["login"] = start_login(session, settings, coordinator)
    request.session["csrf"] = new_csrf_token()
    if kept:
        request.session[resume.KEPT] = kept
        return RedirectResponse(resume.PATH, status_code=303)
    return RedirectResponse("/", status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, session: SessionDep) -> Response:
    login_id = request.session.get("login")
    if login_id:
        end_login(session, login_id)  # the cookie, even a copy of it, no longer works
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


SCORE_ERROR = "Skor minimal harus berupa angka 0 sampai 100."
OFFER_ERROR = "Tawaran ditulis sebagai ID mitra/ID tawaran, misalnya bri/kur-2026."


def queue_filter(
    q: Annotated[str, Query(max_length=100)] = "",
    province: Annotated[str, Query(max_length=2)] = "",
    regency: Annotated[str, Query(max_length=13)] = "",
    district: Annotated[str, Query(max_length=13)] = "",
    partner: Annotated[str, Query(max_length=200)] = "",
    offer_type: Annotated[str, Query(max_length=20)] = "",
    min_score: Annotated[str, Query(max_length=10)] = "",
    cooperative: Annotated[str, Query(max_length=64)] = "",
    offer: Annotated[str, Query(max_length=129)] = "",
    sort: Annotated[str, Query(max_length=20)] = "score",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    after: Annotated[str, Query(max_length=300)] = "",
    before: Annotated[str, Query(max_length=300)] = "",
    end: Annotated[str, Query(max_length=1)] = "",
) -> QueueFilter:
    """The queue's filter from the URL: every page that leads back to the queue keeps it."""
    try:
        score = float(min_score.replace(",", ".")) if min_score.strip() else None
    except ValueError:
        raise HTTPException(422, SCORE_ERROR) from None
    if score is not None and not 0 <= score <= 100:
        raise HTTPException(422, SCORE_ERROR)
    offer = offer.strip()
    if offer and offer_key(offer) is None:
        raise HTTPException(422, OFFER_ERROR)
    # A district or regency outside the chosen province or regency is dropped, not combined.
    regency = regency if not province or regency.startswith(province + ".") else ""
    district = district if regency and district.startswith(regency + ".") else ""
    return QueueFilter(
        q=q.strip() or None,
        province=province or None,
        regency=regency or None,
        district=district or None,
        partner=partner.strip() or None,
        offer_type=offer_type or None,
        min_score=score,
        cooperative=cooperative.strip() or None,
        offer=offer or None,
        sort=sort if is_sort(sort) else "score",
        page=page,
        after=after or None,
        before=before or None,
        end=bool(end),
    )


QueueFilterDep = Annotated[QueueFilter, Depends(queue_filter)]


def _with(params: dict[str, str], **more: object) -> str:
    """A query string of the filter and more (empty when there is nothing)."""
    query = urlencode({**params, **{k: v for k, v in more.items() if v}})
    return "?" + query if query else ""


@router.get("/", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    coordinator: PageCoordinator,
    f: QueueFilterDep,
) -> Response:
    params = f.params()
    # The filter form sends every field, empty or default ones too: the address bar (and a
    # link shared from it) shows only the filter that applies.
    canonical = {
        **params,
        **{
            k: request.query_params[k]
            for k in ("after", "before", "end", "page")
            if k in request.query_params
        },
    }
    if sorted(request.query_params.multi_items()) != sorted(canonical.items()):
        return RedirectResponse("/" + _with(canonical), status_code=303)
    try:
        result = queue(session, coordinator, f)
    except BadCursor:
        raise HTTPException(422, "Tautan halaman tidak sah. Buka antrean dari awal.") from None
    choices = filter_choices(session, coordinator)
    return render(
        request,
        "queue.html",
        coordinator=coordinator,
        scope=scope_label(coordinator),
        result=result,
        choices=choices,
        params=params,
        narrowed=narrowed_to(session, coordinator, f),
        query=_with(params),
        page_url=lambda **cursor: "/" + _with(params, **cursor),
        without=lambda key: "/" + _with({k: v for k, v in params.items() if k != key}),
        now=datetime.now(UTC),
        remind_days=settings.reminder_after_days,
        max_export=worklist.MAX_EXPORT,
    )


@router.get("/suggestions/{suggestion_id}", response_class=HTMLResponse)
def detail_page(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinator,
    suggestion_id: str,
    f: QueueFilterDep,
) -> Response:
    found = detail(session, coordinator, suggestion_id[:40])
    if found is None:
        raise HTTPException(404, decisions.NOT_FOUND)
    return render(
        request,
        "detail.html",
        coordinator=coordinator,
        scope=scope_label(coordinator),
        d=found,
        query=_with(f.params()),
        # A cooperative's suggestions across offers, and an offer's: each a queue of its own.
        cooperative_queue="/" + _with({"cooperative": found.suggestion.cooperative_id}),
        offer_queue="/"
        + _with({"offer": f"{found.suggestion.partner_id}/{found.suggestion.offer_id}"}),
    )


@router.get("/suggestions/{suggestion_id}/next")
def next_suggestion(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinator,
    suggestion_id: str,
    f: QueueFilterDep,
) -> Response:
    """The next suggestion of the same filtered queue, or the queue when there is none."""
    query = _with(f.params())
    following = next_after(session, coordinator, f, suggestion_id[:40])
    if following is None:
        flash(request, "Tidak ada saran berikutnya untuk saringan ini.")
        return RedirectResponse("/" + query, status_code=303)
    return RedirectResponse(f"/suggestions/{following}{query}", status_code=303)


def _confirm(
    request: Request,
    coordinator: CoordinatorRow,
    kind: str,
    found: list[confirm.Pair],
    action: str,
    fields: dict[str, str | list[str]],
    back: str,
    note: str = "",
) -> Response:
    """The confirmation step: what will happen and who will be told, before it happens."""
    return render(
        request,
        "confirm.html",
        coordinator=coordinator,
        kind=kind,
        pairs=found,
        action=action,
        fields=fields,
        back=back,
        note=note,
    )


@router.post("/suggestions/{suggestion_id}/decide", dependencies=[CsrfChecked])
def decide(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinator,
    suggestion_id: str,
    decision: Annotated[Decision, Form()],
    version: Annotated[int, Form()],
    f: QueueFilterDep,
    reason_code: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=decisions.MAX_NOTE)] = "",
    confirmed: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    path = f"/suggestions/{suggestion_id}"
    here = path + _with(f.params())
    try:
        if decision == Decision.APPROVED and confirmed != "1":
            decisions.check_reason(decision, reason_code, note.strip())
            found = confirm.pairs(session, coordinator, [suggestion_id[:40]])
            if not found:
                raise decisions.NotFound(decisions.NOT_FOUND)
            fields: dict[str, str | list[str]] = {
                "decision": decision.value,
                "version": str(version),
                "reason_code": reason_code,
            }
            action = f"{path}/decide" + _with(f.params())
            return _confirm(request, coordinator, "approve", found, action, fields, here, note)
        decisions.decide(
            request.app.state.engine,
            coordinator,
            suggestion_id,
            decision,
            reason_code,
            note,
            version,
        )
    except decisions.NotFound as refused:
        raise HTTPException(404, refused.message) from None
    except decisions.DecisionError as refused:
        flash(request, refused.message, "error")
        return RedirectResponse(here, status_code=303)
    request.app.state.wake()
    word = "disetujui" if decision == Decision.APPROVED else "ditolak"
    flash(request, f"Saran {word}. Keputusan sudah dikirim.")
    return RedirectResponse(here, status_code=303)


@router.post("/suggestions/{suggestion_id}/reopen", dependencies=[CsrfChecked])
def reopen(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinator,
    suggestion_id: str,
    version: Annotated[int, Form()],
    f: QueueFilterDep,
    note: Annotated[str, Form(max_length=decisions.MAX_NOTE)] = "",
    confirmed: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    path = f"/suggestions/{suggestion_id}"
    here = path + _with(f.params())
    if confirmed != "1":
        if not coordinator.may_reopen:
            raise HTTPException(403, "Hanya PMO atau admin yang dapat membuka kembali keputusan.")
        found = confirm.pairs(session, coordinator, [suggestion_id[:40]])
        if not found:
            raise HTTPException(404, decisions.NOT_FOUND)
        fields: dict[str, str | list[str]] = {"version": str(version)}
        action = f"{path}/reopen" + _with(f.params())
        return _confirm(request, coordinator, "reopen", found, action, fields, here, note)
    try:
        decisions.reopen(request.app.state.engine, coordinator, suggestion_id, version, note)
    except decisions.NotFound as refused:
        raise HTTPException(404, refused.message) from None
    except decisions.Forbidden as refused:
        raise HTTPException(403, refused.message) from None
    except decisions.DecisionError as refused:
        flash(request, refused.message, "error")
        return RedirectResponse(here, status_code=303)
    request.app.state.wake()
    flash(request, "Keputusan dibuka kembali; saran menunggu keputusan lagi.")
    return RedirectResponse(here, status_code=303)


@router.post("/bulk-approve", dependencies=[CsrfChecked])
def bulk_approve(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinator,
    selected: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006
    reason_code: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=decisions.MAX_NOTE)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/",
    confirmed: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    back = local_path(back)
    items: list[tuple[str, int]] = []
    for value in selected:
        suggestion_id, _, version = value.partition(":")
        if not version.isdigit():
            raise HTTPException(422, "Pilihan tidak sah.")
        items.append((suggestion_id[:40], int(version)))
    if not items:
        flash(request, "Pilih dulu saran yang akan disetujui.", "error")
        return RedirectResponse(back, status_code=303)
    if confirmed != "1":
        found = confirm.pairs(session, coordinator, [sid for sid, _ in items])
        fields: dict[str, str | list[str]] = {
            "selected": [f"{p.suggestion_id}:{p.version}" for p in found],
            "back": back,
        }
        return _confirm(request, coordinator, "bulk", found, "/bulk-approve", fields, back, note)
    try:
        result = decisions.bulk_approve(
            request.app.state.engine, coordinator, items, reason_code, note
        )
    except decisions.DecisionError as refused:
        flash(request, refused.message, "error")
        return RedirectResponse(back, status_code=303)
    if result.approved:
        request.app.state.wake()
    message = f"{len(result.approved)} saran disetujui."
    if result.refused:
        message += f" {len(result.refused)} tidak: " + " ".join(
            sorted(set(result.refused.values()))
        )
    flash(request, message, "error" if result.refused else "ok")
    return RedirectResponse(back, status_code=303)


@router.get("/overview", response_class=HTMLResponse)
def overview_page(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinator,
    province: Annotated[str, Query(max_length=2)] = "",
) -> Response:
    return render(
        request,
        "overview.html",
        coordinator=coordinator,
        scope=scope_label(coordinator),
        o=overview(session, coordinator, province or None),
        province=province,
        # The admin's 500 regencies start as 38 provinces; a province opens its regencies.
        by_province=coordinator.sees_everything and not province,
        # The national list has 1,600 partners: the page shows those with most decisions.
        PARTNERS_SHOWN=30,
    )


@router.get("/export.{kind}")
def export_queue(
    request: Request,
    session: SessionDep,
    coordinator: PageCoordinator,
    kind: str,
    f: QueueFilterDep,
) -> Response:
    writer = export.WRITERS.get(kind)
    if writer is None:
        raise HTTPException(404, "Format ekspor tidak dikenal (csv atau xlsx).")
    rows = worklist.export_rows(session, coordinator, f)
    offers = worklist.offer_names(session, {(r[6], r[7]) for r in rows})
    table = export.queue_table(rows, offers, datetime.now(UTC))
    return writer(table, "antrean-saran", export.accepts_gzip(request))


@router.get("/overview.{kind}")
def export_overview(
    session: SessionDep,
    coordinator: PageCoordinator,
    kind: str,
    province: Annotated[str, Query(max_length=2)] = "",
) -> Response:
    writer = export.WRITERS.get(kind)
    if writer is None:
        raise HTTPException(404, "Format ekspor tidak dikenal (csv atau xlsx).")
    o = overview(session, coordinator, province or None)
    return writer(export.overview_table(o), "ringkasan-wilayah", False)  # small: the app's
