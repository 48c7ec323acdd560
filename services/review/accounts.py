"""Coordinator accounts: add, list, disable, tokens, and the demo's logins."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine
from sqlmodel import Session, select

from services.review.auth import hash_password, issue_token
from services.review.models import CoordinatorCreate
from services.review.scope import validate_scope
from services.storage.db import session_scope
from services.storage.models import AuditRow, CoordinatorRow, Role


class AccountError(ValueError):
    pass


def _find(session: Session, username: str) -> CoordinatorRow | None:
    return session.exec(
        select(CoordinatorRow).where(CoordinatorRow.username == username.strip().lower())
    ).first()


def add_coordinator(engine: Engine, new: CoordinatorCreate, actor: str = "cli") -> CoordinatorRow:
    scope = validate_scope(new.role, new.scope)
    with session_scope(engine) as session:
        if _find(session, new.username) is not None:
            raise AccountError(f"coordinator {new.username!r} exists already")
        row = CoordinatorRow(
            username=new.username,
            full_name=new.full_name,
            role=new.role,
            scope=scope,
            active=True,
            password_hash=hash_password(new.password),
        )
        session.add(row)
        session.flush()
        session.add(
            AuditRow(
                actor=actor,
                action="coordinator.add",
                target=f"coordinator:{row.username}",
                after={"role": row.role.value, "scope": scope, "active": True},
            )
        )
    return row


def list_coordinators(engine: Engine) -> list[CoordinatorRow]:
    with Session(engine) as session:
        return list(session.exec(select(CoordinatorRow).order_by(CoordinatorRow.username)).all())


def set_active(engine: Engine, username: str, active: bool, actor: str = "cli") -> CoordinatorRow:
    with session_scope(engine) as session:
        row = _find(session, username)
        if row is None:
            raise AccountError(f"no coordinator {username!r}")
        before = row.active
        row.active = active
        session.add(
            AuditRow(
                actor=actor,
                action="coordinator.enable" if active else "coordinator.disable",
                target=f"coordinator:{row.username}",
                before={"active": before},
                after={"active": active},
            )
        )
    return row


def create_token(engine: Engine, username: str, label: str = "", actor: str = "cli") -> str:
    with session_scope(engine) as session:
        row = _find(session, username)
        if row is None:
            raise AccountError(f"no coordinator {username!r}")
        if not row.active:
            raise AccountError(f"coordinator {username!r} is disabled")
        token = issue_token(session, row, label)
        session.add(
            AuditRow(
                actor=actor,
                action="token.issue",
                target=f"coordinator:{row.username}",
                after={"label": label},
            )
        )
    return token


DEMO_ACCOUNTS: tuple[tuple[str, str, Role, list[str]], ...] = (
    ("pmo.kalbar", "PMO Kalimantan Barat", Role.PMO, ["61"]),
    (
        "pendamping.sungairaya",
        "Pendamping Usaha Sungai Raya",
        Role.BUSINESS_ASSISTANT,
        ["61.12.01"],
    ),
    ("admin", "Admin Nasional", Role.ADMIN, []),
)


def ensure_demo_coordinators(engine: Engine) -> list[tuple[str, str, Role, list[str]]]:
    """The demo's logins: (username, password, role, scope), with fresh passwords each call.

    A password is generated, never written in the code, and printed by the demo only.
    """
    logins: list[tuple[str, str, Role, list[str]]] = []
    with session_scope(engine) as session:
        for username, full_name, role, scope in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(9)
            row = _find(session, username)
            if row is None:
                row = CoordinatorRow(
                    username=username,
                    full_name=full_name,
                    role=role,
                    scope=scope,
                    password_hash="",
                )
                session.add(row)
            row.role, row.scope, row.active = role, scope, True
            row.password_hash = hash_password(password)
            logins.append((username, password, role, scope))
    return logins
