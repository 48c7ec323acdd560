"""JSON API and dashboard pages of notifications: inboxes, webhooks, failed deliveries.

Built as routers over the review dashboard's authentication: each factory takes the
dependency that yields the logged-in coordinator (anything with ``role``, ``scope`` and
``active``, like ``services.storage.models.CoordinatorRow``). Admins see everything and alone
manage webhooks; other coordinators see the inboxes of their regions only (an inbox out
of scope reads as empty, a notification out of scope as not found).

Engine from ``request.app.state.engine``, as in the review app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from services.notify import inbox as inbox_queries
from services.notify import webhooks
from services.notify.names import named
from services.platform.localtime import viewer_zone, when_for_viewer
from services.platform.redirects import local_path
from services.storage.models import (
    NotificationRow,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
    WebhookEndpointRow,
)
from services.storage.types import utcnow

TEMPLATES = Path(__file__).parent / "templates"


def scope_of(principal: Any) -> list[str] | None:
    """Region codes the coordinator may see; None for an admin (everything)."""
    if not getattr(principal, "active", True):
        return []
    if str(principal.role) == "admin":
        return None
    return list(principal.scope or [])


def require_admin(principal: Any) -> None:
    if scope_of(principal) is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Hanya admin yang dapat mengelola webhook.")


def _session(request: Request) -> Iterator[Session]:
    engine: Engine = request.app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(_session)]


class NotificationOut(BaseModel):
    notification_id: str
    recipient_type: str
    recipient_id: str
    suggestion_id: str
    kind: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    read: bool

    @classmethod
    def of(cls, row: NotificationRow) -> NotificationOut:
        return cls(**row.model_dump(), read=row.read_at is not None)


class InboxOut(BaseModel):
    recipient_type: str
    recipient_id: str
    unread: int
    items: list[NotificationOut]


class WebhookIn(BaseModel):
    recipient_type: str
    recipient_id: str
    url: str


class WebhookOut(BaseModel):
    id: int
    recipient_type: str
    recipient_id: str
    url: str
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str  # shown once


class DeliveryOut(BaseModel):
    id: int
    notification_id: str
    endpoint_id: int
    url: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    delivered_at: datetime | None


def _webhook_out(row: WebhookEndpointRow) -> dict[str, Any]:
    return row.model_dump(exclude={"secret"})


def _webhook_error(exc: webhooks.WebhookError) -> HTTPException:
    if isinstance(exc, webhooks.WebhookNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, webhooks.WebhookConflict):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


def cancelled_later(rows: list[NotificationRow]) -> dict[str, datetime]:
    """Approval notices (by id) that a later "Kemitraan dibatalkan" of the same pair and
    recipient took back, with the time of the cancellation: shown beside the approval."""
    out: dict[str, datetime] = {}
    for row in rows:
        if row.kind != "approved":
            continue
        later = [
            c.created_at
            for c in rows
            if c.kind == "cancelled"
            and c.suggestion_id == row.suggestion_id
            and c.created_at >= row.created_at
        ]
        if later:
            out[row.notification_id] = min(later)
    return out


def failed_deliveries(session: Session, limit: int = 200) -> list[DeliveryOut]:
    rows = session.exec(
        select(WebhookDeliveryRow, WebhookEndpointRow)
        .join(WebhookEndpointRow, col(WebhookEndpointRow.id) == col(WebhookDeliveryRow.endpoint_id))
        .where(WebhookDeliveryRow.status == WebhookDeliveryStatus.FAILED)
        .order_by(col(WebhookDeliveryRow.id).desc())
        .limit(limit)
    ).all()
    return [DeliveryOut(**d.model_dump(), url=e.url) for d, e in rows]


def notify_api(principal: Callable[..., Any]) -> APIRouter:
    """The JSON API; mount under the dashboard's API prefix (``/api/v1``)."""
    router = APIRouter(tags=["notifications"])

    @router.get("/inbox/{recipient_type}/{recipient_id}", response_model=InboxOut)
    def get_inbox(
        recipient_type: str,
        recipient_id: str,
        session: SessionDep,
        unread: bool = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        who: Any = Depends(principal),
    ) -> InboxOut:
        scope = scope_of(who)
        try:
            rows = inbox_queries.inbox(
                session,
                recipient_type,
                recipient_id,
                unread_only=unread,
                limit=limit,
                offset=offset,
                scope=scope,
            )
        except inbox_queries.InboxError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        count = inbox_queries.unread_count(session, recipient_type, recipient_id, scope)
        return InboxOut(
            recipient_type=recipient_type,
            recipient_id=recipient_id,
            unread=count,
            items=[NotificationOut.of(r) for r in rows],
        )

    def _mark(notification_id: str, read: bool, who: Any, session: Session) -> NotificationOut:
        try:
            row = inbox_queries.mark(
                session, notification_id, read=read, now=utcnow(), scope=scope_of(who)
            )
        except inbox_queries.NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        session.commit()
        return NotificationOut.of(row)

    @router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
    def mark_read(
        notification_id: str, session: SessionDep, who: Any = Depends(principal)
    ) -> NotificationOut:
        return _mark(notification_id, True, who, session)

    @router.post("/notifications/{notification_id}/unread", response_model=NotificationOut)
    def mark_unread(
        notification_id: str, session: SessionDep, who: Any = Depends(principal)
    ) -> NotificationOut:
        return _mark(notification_id, False, who, session)

    @router.get("/webhooks", response_model=list[WebhookOut])
    def list_webhooks(session: SessionDep, who: Any = Depends(principal)) -> list[dict[str, Any]]:
        require_admin(who)
        return [_webhook_out(r) for r in webhooks.list_endpoints(session)]

    @router.post("/webhooks", response_model=WebhookCreated, status_code=201)
    def add_webhook(
        body: WebhookIn, request: Request, session: SessionDep, who: Any = Depends(principal)
    ) -> dict[str, Any]:
        require_admin(who)
        settings = getattr(request.app.state, "settings", None)
        try:
            row, secret = webhooks.register_endpoint(
                session,
                body.recipient_type,
                body.recipient_id,
                body.url,
                allowed_hosts=settings.webhook_hosts_allowed if settings else (),
            )
        except webhooks.WebhookError as exc:
            raise _webhook_error(exc) from None
        session.commit()
        return {**_webhook_out(row), "secret": secret}

    @router.delete("/webhooks/{endpoint_id}", response_model=WebhookOut)
    def remove_webhook(
        endpoint_id: int, session: SessionDep, who: Any = Depends(principal)
    ) -> dict[str, Any]:
        require_admin(who)
        try:
            row = webhooks.deactivate_endpoint(session, endpoint_id)
        except webhooks.WebhookError as exc:
            raise _webhook_error(exc) from None
        session.commit()
        return _webhook_out(row)

    @router.get("/webhook-deliveries/failed", response_model=list[DeliveryOut])
    def get_failed(session: SessionDep, who: Any = Depends(principal)) -> list[DeliveryOut]:
        require_admin(who)
        return failed_deliveries(session)

    @router.post("/webhook-deliveries/{delivery_id}/retry", response_model=DeliveryOut)
    def retry(delivery_id: int, session: SessionDep, who: Any = Depends(principal)) -> DeliveryOut:
        require_admin(who)
        try:
            row = webhooks.retry_delivery(session, delivery_id, utcnow())
        except webhooks.WebhookError as exc:
            raise _webhook_error(exc) from None
        session.commit()
        endpoint = session.get(WebhookEndpointRow, row.endpoint_id)
        return DeliveryOut(**row.model_dump(), url=endpoint.url if endpoint else None)

    return router


def notify_pages(
    principal: Callable[..., Any],
    *,
    templates: Jinja2Templates | None = None,
    layout: str = "notify_base.html",
    context: Callable[[Request, Any], dict[str, Any]] | None = None,
    csrf: Callable[..., Any] | None = None,
) -> APIRouter:
    """Dashboard pages: a coordinator's inbox view and the admin's failed deliveries.

    ``layout`` is the template the pages extend (the review's ``base.html`` once wired),
    ``context`` adds what that layout needs (coordinator, csrf_token), ``csrf`` checks
    form posts (the review's ``check_csrf``)."""
    if templates is None:
        # Notify's own layout: its pages need the times filter alone.
        templates = Jinja2Templates(directory=TEMPLATES)
        templates.env.filters["when"] = when_for_viewer
    router = APIRouter(include_in_schema=False)
    checks = [Depends(csrf)] if csrf else []

    def render(request: Request, name: str, who: Any, **values: Any) -> HTMLResponse:
        extra = context(request, who) if context else {}
        return templates.TemplateResponse(
            request,
            name,
            {
                "layout": layout,
                "coordinator": who,
                "viewer_tz": viewer_zone(who),
                **extra,
                **values,
            },
        )

    @router.get("/notifikasi", response_class=HTMLResponse)
    def inbox_page(
        request: Request,
        session: SessionDep,
        recipient_type: Annotated[str, Query(max_length=20)] = "cooperative",
        recipient_id: Annotated[str, Query(max_length=64)] = "",
        q: Annotated[str, Query(max_length=100)] = "",
        unread: bool = False,
        who: Any = Depends(principal),
    ) -> HTMLResponse:
        scope = scope_of(who)
        rows: list[NotificationRow] = []
        count = 0
        error = ""
        if recipient_id:
            try:
                rows = inbox_queries.inbox(
                    session, recipient_type, recipient_id, unread_only=unread, scope=scope
                )
                count = inbox_queries.unread_count(session, recipient_type, recipient_id, scope)
            except inbox_queries.InboxError as exc:
                error = str(exc)
        recipients = inbox_queries.recipients(session, scope, search=q)
        names = named(
            session, [(t, i) for t, i, _ in recipients] + [(recipient_type, recipient_id)]
        )
        return render(
            request,
            "notify_inbox.html",
            who,
            rows=rows,
            cancelled_later=cancelled_later(rows),
            unread_count=count,
            recipient_type=recipient_type,
            recipient_id=recipient_id,
            current=names.get((recipient_type, recipient_id)),
            q=q,
            unread=unread,
            recipients=[(names[(t, i)], n) for t, i, n in recipients],
            error=error,
        )

    @router.post("/notifikasi/{notification_id}/dibaca", dependencies=checks)
    def inbox_mark(
        notification_id: str,
        session: SessionDep,
        read: Annotated[bool, Form()] = True,
        back: Annotated[str, Form()] = "/notifikasi",
        who: Any = Depends(principal),
    ) -> RedirectResponse:
        try:
            inbox_queries.mark(
                session, notification_id, read=read, now=utcnow(), scope=scope_of(who)
            )
        except inbox_queries.NotFound as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        session.commit()
        return RedirectResponse(local_path(back, "/notifikasi"), 303)

    @router.get("/admin/webhook", response_class=HTMLResponse)
    def webhook_page(
        request: Request, session: SessionDep, who: Any = Depends(principal)
    ) -> HTMLResponse:
        require_admin(who)
        return render(
            request,
            "notify_webhooks.html",
            who,
            failed=failed_deliveries(session),
            endpoints=webhooks.list_endpoints(session),
            retried=request.query_params.get("diulang", ""),
        )

    @router.post("/admin/webhook/pengiriman/{delivery_id}/ulang", dependencies=checks)
    def webhook_retry(
        delivery_id: int, session: SessionDep, who: Any = Depends(principal)
    ) -> RedirectResponse:
        require_admin(who)
        try:
            webhooks.retry_delivery(session, delivery_id, utcnow())
        except webhooks.WebhookError as exc:
            raise _webhook_error(exc) from None
        session.commit()
        return RedirectResponse(f"/admin/webhook?diulang={delivery_id}", 303)

    return router
