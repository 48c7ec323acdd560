"""The pending queue a coordinator works through: one page at a time, in one of four sorts,
paged by keyset (a cursor is the sort value and the suggestion id), with its total.

Every query selects suggestions through ``scope_filter`` (in ``filters.filter_conditions``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, tuple_
from sqlmodel import Session, col, select

from services.review.cache import ScopeCache
from services.review.filters import QueueFilter, Sort, cooperative_conditions, filter_conditions
from services.review.scope import scope_filter
from services.storage.db import select_columns, session_engine
from services.storage.models import CooperativeRow, CoordinatorRow, OfferRow, SuggestionRow


@dataclass
class QueueItem:
    suggestion: SuggestionRow
    cooperative_name: str
    offer_title: str
    partner_name: str
    offer_type: str

    def waiting_days(self, now: datetime) -> int:
        created = self.suggestion.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return max(0, (now - created).days)


@dataclass
class QueuePage:
    items: list[QueueItem]
    total: int
    filter: QueueFilter
    has_next: bool = False
    has_previous: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filter.per_page))

    @property
    def next_cursor(self) -> str | None:
        return cursor_of(self.items[-1], self.filter.sort) if self.has_next else None

    @property
    def previous_cursor(self) -> str | None:
        return cursor_of(self.items[0], self.filter.sort) if self.has_previous else None


def with_names() -> Any:
    return (
        select_columns(
            SuggestionRow,
            CooperativeRow.name,
            OfferRow.title,
            OfferRow.partner_name,
            OfferRow.offer_type,
        )
        .join(CooperativeRow, col(CooperativeRow.cooperative_id) == SuggestionRow.cooperative_id)
        .join(
            OfferRow,
            (col(OfferRow.partner_id) == SuggestionRow.partner_id)
            & (col(OfferRow.offer_id) == SuggestionRow.offer_id),
        )
    )


def queue_item(row: Any) -> QueueItem:
    return QueueItem(row[0], row[1], row[2], row[3], row[4])


def sort_key(sort: Sort) -> tuple[Any, bool]:
    """The column a sort orders by (the suggestion id breaks ties) and whether it descends."""
    return {
        "score": (col(SuggestionRow.score), True),
        "newest": (col(SuggestionRow.updated_at), True),
        "oldest": (col(SuggestionRow.updated_at), False),
        "cooperative": (col(CooperativeRow.name), False),
    }[sort]


def cursor_of(item: QueueItem, sort: Sort) -> str:
    """Where a page ends: the sort value and the suggestion id (keyset pagination)."""
    s = item.suggestion
    value: object = {
        "score": repr(s.score),
        "newest": s.updated_at.isoformat(),
        "oldest": s.updated_at.isoformat(),
        "cooperative": item.cooperative_name,
    }[sort]
    return f"{value}~{s.suggestion_id}"


def _parse_cursor(cursor: str, sort: Sort) -> tuple[Any, str]:
    value, _, suggestion_id = cursor.rpartition("~")
    try:
        if sort == "score":
            return float(value), suggestion_id
        if sort in ("newest", "oldest"):
            parsed = datetime.fromisoformat(value)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), suggestion_id
    except ValueError:
        raise BadCursor from None
    return value, suggestion_id


class BadCursor(ValueError):
    """A page cursor that does not belong to the sort (edited by hand, or stale)."""


def _beyond(sort: Sort, cursor: str, forward: bool) -> ColumnElement[bool]:
    """Rows after the cursor in the sort's order (``forward``), or before it."""
    column, descending = sort_key(sort)
    value, suggestion_id = _parse_cursor(cursor, sort)
    key = tuple_(column, col(SuggestionRow.suggestion_id))
    return key < (value, suggestion_id) if descending == forward else key > (value, suggestion_id)


def ordered(query: Any, sort: Sort, reverse: bool = False) -> Any:
    column, descending = sort_key(sort)
    if descending != reverse:
        return query.order_by(column.desc(), col(SuggestionRow.suggestion_id).desc())
    return query.order_by(column, col(SuggestionRow.suggestion_id))


# A queue's total, per scope and filter: paging through a queue, or coming back to it from
# a suggestion, counts once (50-100 ms for the admin at 500,000 pending). Never served
# older than this; a decision here drops the totals of its scopes at once.
COUNT_SECONDS = 30.0
_totals: ScopeCache[int] = ScopeCache(COUNT_SECONDS, COUNT_SECONDS, maxsize=4096)


def total(session: Session, coordinator: CoordinatorRow, f: QueueFilter) -> int:
    """``count``, kept ``COUNT_SECONDS`` for the scope and filter."""
    filter_key = tuple(sorted((k, v) for k, v in f.params().items() if k != "sort"))
    return _totals.get(session, coordinator, lambda s, c: count(s, c, f), filter_key)


def count(session: Session, coordinator: CoordinatorRow, f: QueueFilter) -> int:
    engine = session_engine(session)
    query = select(func.count()).select_from(SuggestionRow)
    return session.exec(query.where(*filter_conditions(engine, coordinator, f))).one()


def _rows(
    session: Session,
    conditions: list[Any],
    sort: Sort,
    limit: int,
    offset: int = 0,
    reverse: bool = False,
    cooperative_side: list[Any] | None = None,
) -> list[Any]:
    """The rows of one stretch of the queue, names joined.

    Late join, in two steps: the stretch's suggestion ids are chosen from the suggestion
    table alone (its score or time index, in order, up to ``limit``), then their rows are
    read with the cooperative and offer names. In one statement, even with the ids in a
    subquery or a CTE, PostgreSQL misjudges how many suggestions an offer has (it takes
    partner and offer ids for independent: 22,000 rows for 500,000) and, for a long
    stretch (an export), joins and sorts the whole pending table: 4.5-6.8 s at 500,000
    pending. Given the ids as values, it looks them up. The cooperative sort orders by a
    name, so it joins first (``cooperative_side``: the same filters on the cooperative).
    """
    if sort == "cooperative":
        joined = with_names().where(*conditions, *(cooperative_side or []))
        query = ordered(joined, sort, reverse).offset(offset).limit(limit)
    else:
        chosen = ordered(select(SuggestionRow.suggestion_id).where(*conditions), sort, reverse)
        ids = list(session.exec(chosen.offset(offset).limit(limit)).all())
        if not ids:
            return []
        query = ordered(
            with_names().where(col(SuggestionRow.suggestion_id).in_(ids)), sort, reverse
        )
    return list(session.exec(query).all())


def queue(session: Session, coordinator: CoordinatorRow, f: QueueFilter) -> QueuePage:
    """One page of the pending queue: after or before a cursor, the last, or an offset page."""
    engine = session_engine(session)
    conditions = filter_conditions(engine, coordinator, f)
    mirror = cooperative_conditions(coordinator, f)
    pending = total(session, coordinator, f)
    n = f.per_page
    if f.before or f.end:
        back = [*conditions, _beyond(f.sort, f.before, forward=False)] if f.before else conditions
        rows = _rows(session, back, f.sort, n + 1, reverse=True, cooperative_side=mirror)
        items = [queue_item(r) for r in reversed(rows[:n])]
        return QueuePage(items, pending, f, has_next=bool(f.before), has_previous=len(rows) > n)
    if f.after:
        after = [*conditions, _beyond(f.sort, f.after, forward=True)]
        rows = _rows(session, after, f.sort, n + 1, cooperative_side=mirror)
        return QueuePage([queue_item(r) for r in rows[:n]], pending, f, len(rows) > n, True)
    offset = (f.page - 1) * n
    rows = _rows(session, conditions, f.sort, n + 1, offset=offset, cooperative_side=mirror)
    return QueuePage([queue_item(r) for r in rows[:n]], pending, f, len(rows) > n, f.page > 1)


def next_after(
    session: Session, coordinator: CoordinatorRow, f: QueueFilter, suggestion_id: str
) -> str | None:
    """The suggestion that follows ``suggestion_id`` in the filtered queue (decided or not)."""
    found = session.exec(
        with_names().where(
            col(SuggestionRow.suggestion_id) == suggestion_id, scope_filter(coordinator)
        )
    ).first()
    if found is None:
        return None
    after = replace(
        f, after=cursor_of(queue_item(found), f.sort), before=None, end=False, per_page=1
    )
    page = queue(session, coordinator, after)
    return page.items[0].suggestion.suggestion_id if page.items else None


def cursor_at(
    session: Session, coordinator: CoordinatorRow, f: QueueFilter, fraction: float
) -> str | None:
    """The cursor of the row ``fraction`` of the way down the queue (benchmarks' deep pages)."""
    offset = int(count(session, coordinator, f) * fraction)
    conditions = filter_conditions(session_engine(session), coordinator, f)
    mirror = cooperative_conditions(coordinator, f)
    rows = _rows(session, conditions, f.sort, 1, offset=offset, cooperative_side=mirror)
    return cursor_of(queue_item(rows[0]), f.sort) if rows else None
