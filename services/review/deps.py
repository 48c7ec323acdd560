"""FastAPI dependencies: database session, the logged-in coordinator (cookie or token), CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from services.review.auth import coordinator_for_token, csrf_matches, new_csrf_token
from services.review.models import Coordinator
from services.settings import Settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def page_coordinator(request: Request, session: SessionDep) -> Coordinator:
    """The coordinator of the session cookie, re-read on every request (disable works now)."""
    coordinator_id = request.session.get("coordinator_id")
    coordinator = session.get(Coordinator, coordinator_id) if coordinator_id else None
    if coordinator is None or not coordinator.active:
        request.session.pop("coordinator_id", None)
        raise LoginRequired
    return coordinator


def check_csrf(request: Request, csrf: Annotated[str, Form(alias="csrf_token")] = "") -> None:
    if not csrf_matches(request.session.get("csrf"), csrf):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Formulir kedaluwarsa atau tidak sah (token CSRF). Muat ulang halaman lalu coba lagi.",
        )


bearer = HTTPBearer(auto_error=False, description="token from `kopdes-match coordinator token`")


def api_coordinator(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Coordinator:
    coordinator = coordinator_for_token(session, credentials.credentials) if credentials else None
    if coordinator is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Token tidak sah atau dicabut.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return coordinator


PageCoordinator = Annotated[Coordinator, Depends(page_coordinator)]
ApiCoordinator = Annotated[Coordinator, Depends(api_coordinator)]
CsrfChecked = Depends(check_csrf)
