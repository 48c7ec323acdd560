"""Passwords (argon2), API tokens, the session secret, CSRF tokens and the login rate limit."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from services.platform.settings import Settings
from services.storage.models import (
    ApiTokenRow,
    CoordinatorRow,
    LoginAttemptRow,
    LoginSessionRow,
    stored_id,
)
from services.storage.types import utcnow

_hasher = PasswordHasher()
# Verified when the username is unknown, so that a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not a password of anyone")

TOKEN_PREFIX = "kdm_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def secret_key(settings: Settings) -> str:
    """The key that signs session cookies: from settings, else generated once per data folder."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = Path(settings.data_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Created with mode 0600 in one step; a concurrent creator's key wins if it was first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


# -- logins --------------------------------------------------------------------------------


def login_blocked(session: Session, settings: Settings, username: str, ip: str) -> bool:
    since = utcnow() - timedelta(seconds=settings.login_window_seconds)
    failures = session.exec(
        select(func.count())
        .select_from(LoginAttemptRow)
        .where(
            LoginAttemptRow.username == username,
            LoginAttemptRow.ip == ip,
            col(LoginAttemptRow.at) >= since,
        )
    ).one()
    return failures >= settings.login_max_failures


def authenticate(
    session: Session, settings: Settings, username: str, password: str, ip: str
) -> CoordinatorRow | None:
    """The active coordinator with these credentials; a failure is recorded for the limit."""
    username = username.strip().lower()[:64]
    coordinator = session.exec(
        select(CoordinatorRow).where(CoordinatorRow.username == username)
    ).first()
    if coordinator is None:
        verify_password(_DUMMY_HASH, password)
        ok = False
    else:
        ok = verify_password(coordinator.password_hash, password) and coordinator.active
    if ok:
        session.exec(
            delete(LoginAttemptRow).where(
                col(LoginAttemptRow.username) == username, col(LoginAttemptRow.ip) == ip
            )
        )
        session.commit()
        return coordinator
    session.add(LoginAttemptRow(username=username, ip=ip[:64]))
    # Old failures are useless; keep the table small.
    cutoff = utcnow() - timedelta(seconds=settings.login_window_seconds * 4)
    session.exec(delete(LoginAttemptRow).where(col(LoginAttemptRow.at) < cutoff))
    session.commit()
    return None


# -- API tokens ----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough (no dictionary to attack).
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, coordinator: CoordinatorRow, label: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiTokenRow(
            coordinator_id=stored_id(coordinator.id), token_hash=_token_hash(token), label=label
        )
    )
    return token


def coordinator_for_token(session: Session, token: str) -> CoordinatorRow | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.exec(
        select(ApiTokenRow).where(
            ApiTokenRow.token_hash == _token_hash(token), col(ApiTokenRow.revoked_at).is_(None)
        )
    ).first()
    if row is None:
        return None
    coordinator = session.get(CoordinatorRow, row.coordinator_id)
    return coordinator if coordinator is not None and coordinator.active else None


# -- dashboard logins ---------------------------------------------------------------------


def start_login(session: Session, settings: Settings, coordinator: CoordinatorRow) -> str:
    """A new server-side login; returns the id the cookie carries. Logins older than the
    cookie's lifetime are dropped on the way (they no longer work anyway)."""
    login_id = secrets.token_urlsafe(32)
    cutoff = utcnow() - timedelta(seconds=settings.session_max_age_seconds)
    expired = delete(LoginSessionRow).where(col(LoginSessionRow.created_at) < cutoff)
    session.exec(expired)
    session.add(
        LoginSessionRow(id_hash=_token_hash(login_id), coordinator_id=stored_id(coordinator.id))
    )
    session.commit()
    return login_id


def login_coordinator(session: Session, settings: Settings, login_id: str) -> CoordinatorRow | None:
    """The active coordinator of a login that has not ended or expired."""
    row = session.get(LoginSessionRow, _token_hash(login_id))
    if row is None:
        return None
    if row.created_at < utcnow() - timedelta(seconds=settings.session_max_age_seconds):
        return None
    coordinator = session.get(CoordinatorRow, row.coordinator_id)
    return coordinator if coordinator is not None and coordinator.active else None


def end_login(session: Session, login_id: str) -> None:
    session.exec(
        delete(LoginSessionRow).where(col(LoginSessionRow.id_hash) == _token_hash(login_id))
    )
    session.commit()


# -- CSRF ----------------------------------------------------------------------------------


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected, given)
