"""FastAPI dependencies: database session, the logged-in coordinator (cookie or token), CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlmodel import Session

from services.platform.settings import Settings
from services.review.auth import (
    coordinator_for_token,
    csrf_matches,
    login_coordinator,
    new_csrf_token,
)
from services.storage.models import CoordinatorRow


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine  # set by create_app
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings  # set by create_app
    return settings


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


class FormExpired(Exception):
    """A form posted with a missing or wrong CSRF token (an old page, an expired login).

    Carries the posted fields, so that the app can keep a coordinator's typed note and
    offer to send it again after logging in (services/review/resume.py)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        super().__init__("form expired")
        self.fields = fields


CSRF_MESSAGE = (
    "Formulir kedaluwarsa atau tidak sah (token CSRF). Muat ulang halaman lalu coba lagi."
)


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def page_coordinator(request: Request, session: SessionDep) -> CoordinatorRow:
    """The coordinator of the session cookie's login, re-read on every request: a login
    ended on the server (logout) or a disabled account stops working at once."""
    login_id = request.session.get("login")
    settings: Settings = request.app.state.settings
    coordinator = login_coordinator(session, settings, login_id) if login_id else None
    if coordinator is None:
        request.session.pop("login", None)
        raise LoginRequired
    return coordinator


async def check_csrf(request: Request, csrf: Annotated[str, Form(alias="csrf_token")] = "") -> None:
    if not csrf_matches(request.session.get("csrf"), csrf):
        form = await request.form()  # already parsed: FastAPI read it for this route
        raise FormExpired(
            [(k, v) for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"]
        )


bearer = HTTPBearer(auto_error=False, description="token from `kopdes-match coordinator token`")


def api_coordinator(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> CoordinatorRow:
    coordinator = coordinator_for_token(session, credentials.credentials) if credentials else None
    if coordinator is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Token tidak sah atau dicabut.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return coordinator


PageCoordinator = Annotated[CoordinatorRow, Depends(page_coordinator)]
ApiCoordinator = Annotated[CoordinatorRow, Depends(api_coordinator)]
CsrfChecked = Depends(check_csrf)
