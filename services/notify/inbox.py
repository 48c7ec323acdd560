"""Inbox queries: the notifications of one cooperative, partner or regency, read or unread."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, case, false, func, or_, true
from sqlmodel import Session, col, select

from services.storage.models import CooperativeRow, NotificationRow, OfferRow, SuggestionRow

RECIPIENT_TYPES = ("cooperative", "partner", "coordinator")


class InboxError(ValueError):
    """A request the caller can correct; the message says what."""


class NotFound(InboxError):
    pass


def region_filter(scope: Sequence[str] | None) -> ColumnElement[bool]:
    """Suggestions within any of the region codes; None means everywhere (an admin).

    The same rule as the review's scope filter: a province or regency by the indexed
    regency column, a district or village by the village code."""
    if scope is None:
        return true()
    if not scope:
        return false()
    village, regency = col(SuggestionRow.village_code), col(SuggestionRow.regency_code)
    parts: list[ColumnElement[bool]] = []
    for code in scope:
        depth = code.count(".") + 1
        if depth == 2:
            parts.append(regency == code)
        elif depth == 1:
            parts.append(regency.startswith(code + "."))
        else:
            parts.append(or_(village == code, village.startswith(code + ".")))
    return or_(*parts)


def _scoped(scope: Sequence[str] | None) -> ColumnElement[bool]:
    """Notifications whose suggestion lies in scope; reminders by their regency."""
    if scope is None:
        return true()
    in_scope = select(SuggestionRow.suggestion_id).where(region_filter(scope))
    reminder_regencies = [c for c in scope if c.count(".") <= 1]
    return or_(
        col(NotificationRow.suggestion_id).in_(in_scope)
        & (col(NotificationRow.recipient_type) != "coordinator"),
        (col(NotificationRow.recipient_type) == "coordinator")
        & or_(
            false(),
            *(
                or_(
                    col(NotificationRow.recipient_id) == code,
                    col(NotificationRow.recipient_id).startswith(code + "."),
                )
                for code in reminder_regencies
            ),
        ),
    )


def inbox(
    session: Session,
    recipient_type: str,
    recipient_id: str,
    *,
    unread_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    scope: Sequence[str] | None = None,
) -> list[NotificationRow]:
    """Newest first; ``scope`` (region codes) limits what a coordinator sees."""
    if recipient_type not in RECIPIENT_TYPES:
        raise InboxError(
            f"jenis penerima harus salah satu dari {', '.join(RECIPIENT_TYPES)}, "
            f"bukan {recipient_type!r}"
        )
    query = (
        select(NotificationRow)
        .where(
            NotificationRow.recipient_type == recipient_type,
            NotificationRow.recipient_id == recipient_id,
            _scoped(scope),
        )
        .order_by(col(NotificationRow.created_at).desc(), col(NotificationRow.notification_id))
        .limit(max(1, min(limit, 500)))
        .offset(max(0, offset))
    )
    if unread_only:
        query = query.where(col(NotificationRow.read_at).is_(None))
    return list(session.exec(query).all())


def unread_count(
    session: Session, recipient_type: str, recipient_id: str, scope: Sequence[str] | None = None
) -> int:
    return session.exec(
        select(func.count())
        .select_from(NotificationRow)
        .where(
            NotificationRow.recipient_type == recipient_type,
            NotificationRow.recipient_id == recipient_id,
            col(NotificationRow.read_at).is_(None),
            _scoped(scope),
        )
    ).one()


def mark(
    session: Session,
    notification_id: str,
    *,
    read: bool,
    now: datetime,
    scope: Sequence[str] | None = None,
) -> NotificationRow:
    """Mark read (keeps the first reading time) or unread; out of scope reads as not found."""
    row = session.exec(
        select(NotificationRow).where(
            NotificationRow.notification_id == notification_id, _scoped(scope)
        )
    ).first()
    if row is None:
        raise NotFound(f"notifikasi {notification_id} tidak ditemukan")
    if read:
        row.read_at = row.read_at or now
    else:
        row.read_at = None
    session.add(row)
    return row


def _named(search: str) -> ColumnElement[bool]:
    """Recipients whose id, or cooperative or partner name, contains ``search`` (any case)."""
    needle = search.strip().lower()
    coops = select(CooperativeRow.cooperative_id).where(
        func.lower(CooperativeRow.name).contains(needle, autoescape=True)
    )
    partners = select(OfferRow.partner_id).where(
        func.lower(OfferRow.partner_name).contains(needle, autoescape=True)
    )
    return or_(
        func.lower(NotificationRow.recipient_id).contains(needle, autoescape=True),
        (col(NotificationRow.recipient_type) == "cooperative")
        & col(NotificationRow.recipient_id).in_(coops),
        (col(NotificationRow.recipient_type) == "partner")
        & col(NotificationRow.recipient_id).in_(partners),
    )


def recipients(
    session: Session, scope: Sequence[str] | None, limit: int = 200, search: str = ""
) -> list[tuple[str, str, int]]:
    """(recipient_type, recipient_id, unread) with notifications in scope, most unread
    first; ``search`` keeps those whose id or name contains it."""
    unread = func.sum(case((col(NotificationRow.read_at).is_(None), 1), else_=0))
    rows = session.exec(
        select(NotificationRow.recipient_type, NotificationRow.recipient_id, unread)
        .where(_scoped(scope), _named(search) if search.strip() else true())
        .group_by(col(NotificationRow.recipient_type), col(NotificationRow.recipient_id))
        .order_by(unread.desc(), col(NotificationRow.recipient_id))
        .limit(limit)
    ).all()
    return [(t, i, int(n or 0)) for t, i, n in rows]
