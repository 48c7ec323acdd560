"""What the pages and the API read: the queue, a suggestion's detail, the overview.

Every query selects suggestions through ``scope_filter``.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from cachetools import TTLCache
from sqlalchemy import ColumnElement, Engine, and_, case, func, or_, tuple_
from sqlmodel import Session, col, select

from schemas.events import IDENTIFIER_PATTERN
from schemas.regions import region_table
from services.review.cache import ScopeCache
from services.review.labels import OFFER_TYPE_LABELS, region_name
from services.review.models import AuditRow, Coordinator, DecisionRow
from services.review.scope import region_condition, scope_filter
from services.review.search import normalize, search
from services.storage.models import CooperativeRow, OfferRow, SuggestionRow, SuggestionStatus

Sort = Literal["score", "newest", "oldest", "cooperative"]
SORTS = ("score", "newest", "oldest", "cooperative")
PER_PAGE = 25
MAX_PER_PAGE = 100
# An export is a work list, not a copy of the database: narrow the filter for more (the
# queue page says so when a download would be cut). At 500,000 pending nationally every
# regency's queue fits whole but Aceh Utara's (5,520; by district it does); 99 % of them
# hold under 3,000. 10,000 rows took 0.4-0.6 s to export on the shared 2-core machine, 5,000
# take about half (benchmarks/bench_review.py, export_*_all), a regency's ~0.1 s.
MAX_EXPORT = 5_000
IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
# Filter choices are the same for everyone of a scope and change slowly.
CHOICES_SECONDS = 60.0
# The overview too; a decision taken here drops it at once (services/review/cache.py).
OVERVIEW_SECONDS = 60.0
# Past fresh, both are served while computed again in the background, up to this age.
KEPT_SECONDS = 900.0


@dataclass
class QueueFilter:
    q: str | None = None  # cooperative name, village name, or an id or region code
    province: str | None = None
    regency: str | None = None
    district: str | None = None
    partner: str | None = None
    offer_type: str | None = None
    min_score: float | None = None
    cooperative: str | None = None  # exactly this cooperative id: its suggestions across offers
    offer: str | None = None  # exactly this offer, as "partner_id/offer_id" (see offer_key)
    sort: Sort = "score"
    page: int = 1  # offset pages, kept for API clients; the dashboard pages with cursors
    per_page: int = PER_PAGE
    after: str | None = None  # cursor: the page after this key
    before: str | None = None  # cursor: the page before this key
    end: bool = False  # the last page

    def __post_init__(self) -> None:
        self.page = max(1, self.page)
        self.per_page = min(max(1, self.per_page), MAX_PER_PAGE)

    def params(self) -> dict[str, str]:
        """The filter as URL parameters (without the page): links keep it."""
        values = {
            "q": self.q,
            "province": self.province,
            "regency": self.regency,
            "district": self.district,
            "partner": self.partner,
            "offer_type": self.offer_type,
            "min_score": None if self.min_score is None else f"{self.min_score:g}",
            "cooperative": self.cooperative,
            "offer": self.offer,
            "sort": None if self.sort == "score" else self.sort,  # the default is no filter
        }
        return {k: v for k, v in values.items() if v}


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


def _joined() -> Any:
    return (
        select(
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


def offer_key(value: str) -> tuple[str, str] | None:
    """``partner_id/offer_id`` as its two ids, or None when it is not that (identifiers
    never hold a slash, so the split is unambiguous)."""
    partner_id, slash, offer_id = value.partition("/")
    ids_ok = all(IDENTIFIER.fullmatch(part) for part in (partner_id, offer_id))
    return (partner_id, offer_id) if slash and ids_ok else None


def _item(row: Any) -> QueueItem:
    return QueueItem(row[0], row[1], row[2], row[3], row[4])


def _conditions(engine: Engine, coordinator: Coordinator, f: QueueFilter) -> list[Any]:
    pending: ColumnElement[bool] = col(SuggestionRow.status) == SuggestionStatus.PENDING
    if (f.cooperative or f.offer) and engine.dialect.name == "sqlite":
        # Without statistics SQLite takes the status for selective and walks the whole
        # pending queue in score order looking for one cooperative's rows (a second on a
        # national queue). Most rows are pending: told so, it leads with the cooperative's
        # or the offer's index. PostgreSQL's statistics know it already.
        pending = func.likely(pending)
    conditions: list[Any] = [scope_filter(coordinator), pending]
    for code in (f.province, f.regency, f.district):
        if code:
            conditions.append(region_condition(code))
    if f.partner:
        conditions.append(col(SuggestionRow.partner_id).in_(partner_ids(engine, f.partner)))
    if f.offer_type:
        # On the suggestion's own columns (no join): a page is chosen from the suggestion
        # table's indexes alone, and the names are joined to its rows only (``_rows``).
        of_type = select(OfferRow.partner_id, OfferRow.offer_id).where(
            col(OfferRow.offer_type) == f.offer_type
        )
        conditions.append(
            tuple_(col(SuggestionRow.partner_id), col(SuggestionRow.offer_id)).in_(of_type)
        )
    if f.min_score is not None:
        conditions.append(col(SuggestionRow.score) >= f.min_score)
    # Equalities on the leading columns of the cooperative/status and offer/status indexes.
    if f.cooperative:
        conditions.append(col(SuggestionRow.cooperative_id) == f.cooperative)
    if f.offer:
        partner_id, offer_id = offer_key(f.offer) or ("", "")
        conditions.append(col(SuggestionRow.partner_id) == partner_id)
        conditions.append(col(SuggestionRow.offer_id) == offer_id)
    if f.q:
        hits = search(engine, f.q)
        if hits.region_prefix:
            conditions.append(region_condition(hits.region_prefix))
        else:
            # Villages through their regencies too: the regency column is indexed.
            regencies = sorted({code[:5] for code in hits.village_codes})
            conditions.append(
                or_(
                    col(SuggestionRow.cooperative_id).in_(hits.cooperative_ids),
                    col(SuggestionRow.regency_code).in_(regencies)
                    & col(SuggestionRow.village_code).in_(hits.village_codes),
                )
            )
    return conditions


def _cooperative_side(coordinator: Coordinator, f: QueueFilter) -> list[Any]:
    """The scope and region filters again on the cooperative (whose regency and village
    are its suggestions'), for the cooperative sort: walking cooperatives by name, the
    planner skips those outside before looking up their suggestions (a province's first
    page: 1,250 lookups to find 25)."""
    conditions = [scope_filter(coordinator, CooperativeRow)]
    for code in (f.province, f.regency, f.district):
        if code:
            conditions.append(region_condition(code, CooperativeRow))
    return conditions


def _sort_key(sort: Sort) -> tuple[Any, bool]:
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
    column, descending = _sort_key(sort)
    value, suggestion_id = _parse_cursor(cursor, sort)
    key = tuple_(column, col(SuggestionRow.suggestion_id))
    return key < (value, suggestion_id) if descending == forward else key > (value, suggestion_id)


def _ordered(query: Any, sort: Sort, reverse: bool = False) -> Any:
    column, descending = _sort_key(sort)
    if descending != reverse:
        return query.order_by(column.desc(), col(SuggestionRow.suggestion_id).desc())
    return query.order_by(column, col(SuggestionRow.suggestion_id))


# A queue's total, per scope and filter: paging through a queue, or coming back to it from
# a suggestion, counts once (50-100 ms for the admin at 500,000 pending). Never served
# older than this; a decision here drops the totals of its scopes at once.
COUNT_SECONDS = 30.0
_totals: ScopeCache[int] = ScopeCache(COUNT_SECONDS, COUNT_SECONDS, maxsize=4096)


def total(session: Session, coordinator: Coordinator, f: QueueFilter) -> int:
    """``count``, kept ``COUNT_SECONDS`` for the scope and filter."""
    filter_key = tuple(sorted((k, v) for k, v in f.params().items() if k != "sort"))
    return _totals.get(session, coordinator, lambda s, c: count(s, c, f), filter_key)


def count(session: Session, coordinator: Coordinator, f: QueueFilter) -> int:
    engine = session.get_bind()
    query = select(func.count()).select_from(SuggestionRow)
    return session.exec(query.where(*_conditions(engine, coordinator, f))).one()  # type: ignore[arg-type]


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
        joined = _joined().where(*conditions, *(cooperative_side or []))
        query = _ordered(joined, sort, reverse).offset(offset).limit(limit)
    else:
        chosen = _ordered(select(SuggestionRow.suggestion_id).where(*conditions), sort, reverse)
        ids = list(session.exec(chosen.offset(offset).limit(limit)).all())
        if not ids:
            return []
        query = _ordered(_joined().where(col(SuggestionRow.suggestion_id).in_(ids)), sort, reverse)
    return list(session.exec(query).all())


def queue(session: Session, coordinator: Coordinator, f: QueueFilter) -> QueuePage:
    """One page of the pending queue: after or before a cursor, the last, or an offset page."""
    engine = session.get_bind()
    conditions = _conditions(engine, coordinator, f)
    mirror = _cooperative_side(coordinator, f)
    pending = total(session, coordinator, f)
    n = f.per_page
    if f.before or f.end:
        back = [*conditions, _beyond(f.sort, f.before, forward=False)] if f.before else conditions
        rows = _rows(session, back, f.sort, n + 1, reverse=True, cooperative_side=mirror)
        items = [_item(r) for r in reversed(rows[:n])]
        return QueuePage(items, pending, f, has_next=bool(f.before), has_previous=len(rows) > n)
    if f.after:
        after = [*conditions, _beyond(f.sort, f.after, forward=True)]
        rows = _rows(session, after, f.sort, n + 1, cooperative_side=mirror)
        return QueuePage([_item(r) for r in rows[:n]], pending, f, len(rows) > n, True)
    offset = (f.page - 1) * n
    rows = _rows(session, conditions, f.sort, n + 1, offset=offset, cooperative_side=mirror)
    return QueuePage([_item(r) for r in rows[:n]], pending, f, len(rows) > n, f.page > 1)


OfferNames = dict[tuple[str, str], tuple[str, str, str]]  # key -> partner name, type, title
# By engine (weakly: a new engine, a new database, starts empty): when read, and the names.
_offer_names: weakref.WeakKeyDictionary[Engine, tuple[float, OfferNames]] = (
    weakref.WeakKeyDictionary()
)
_offer_names_lock = threading.Lock()


def offer_names(session: Session, keys: set[tuple[str, str]]) -> OfferNames:
    """Partner name, offer type and title of the offers ``keys``: all offers are read at
    once and kept a minute (10,000 offers: 15 ms; looking up a province's 500 offers by key
    took 90 ms); an offer newer than that is read on its own."""
    engine = session.get_bind()
    columns = (
        OfferRow.partner_id,
        OfferRow.offer_id,
        OfferRow.partner_name,
        OfferRow.offer_type,
        OfferRow.title,
    )
    assert isinstance(engine, Engine)
    with _offer_names_lock:
        read_at, known = _offer_names.get(engine, (0.0, {}))
    if time.monotonic() - read_at > CHOICES_SECONDS:
        known = {(p, o): (n, t, title) for p, o, n, t, title in session.exec(select(*columns))}
        with _offer_names_lock:
            _offer_names[engine] = (time.monotonic(), known)
    missing = [k for k in keys if k not in known]
    if missing:
        pairs = tuple_(col(OfferRow.partner_id), col(OfferRow.offer_id))
        for p, o, n, t, title in session.exec(select(*columns).where(pairs.in_(missing[:500]))):
            known[(p, o)] = (n, t, title)
    return known


@dataclass
class ExportItem:
    """A row of the exported queue: what its columns need, not the whole suggestion."""

    suggestion_id: str
    score: float
    created_at: datetime
    cooperative_id: str
    cooperative_name: str
    village_code: str
    partner_id: str
    partner_name: str
    offer_type: str
    offer_title: str

    def waiting_days(self, now: datetime) -> int:
        created = self.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        return max(0, (now - created).days)


def export_rows(session: Session, coordinator: Coordinator, f: QueueFilter) -> list[ExportItem]:
    """The filtered queue in its order, at most ``MAX_EXPORT`` rows.

    When the filter holds more, the rows are chosen from the suggestion table's indexes
    alone (a province's 49,000 pending are sorted in the regency/score index, not read
    from the table: 0.9 s), then read by id. Rows are read as plain columns, not ORM
    objects (a third of the time of 10,000 rows went into building them), with the
    cooperative's name joined (one key: the planner judges that join well); the offers'
    names come from ``offer_names``.
    """
    s = SuggestionRow
    conditions = _conditions(session.get_bind(), coordinator, f)
    if f.sort == "cooperative" or total(session, coordinator, f) <= MAX_EXPORT:
        # Every matching row goes out (or the order is by a name): read in the table's
        # order, as the planner likes (a regency's 2,700 rows: 55 ms, by id: 105 ms).
        chosen = [*conditions, *_cooperative_side(coordinator, f)]
    else:
        ids = _ordered(select(s.suggestion_id).where(*conditions), f.sort).limit(MAX_EXPORT)
        chosen = [col(s.suggestion_id).in_(ids.scalar_subquery())]
    query = (
        select(
            s.suggestion_id,
            s.score,
            s.created_at,
            s.cooperative_id,
            CooperativeRow.name,
            s.village_code,
            s.partner_id,
            s.offer_id,
        )
        .join(CooperativeRow, col(CooperativeRow.cooperative_id) == s.cooperative_id)
        .where(*chosen)
    )
    rows = session.exec(_ordered(query, f.sort).limit(MAX_EXPORT)).all()
    offers = offer_names(session, {(r[6], r[7]) for r in rows})
    items = []
    for sid, score, created, cooperative_id, name, village, partner_id, offer_id in rows:
        partner_name, offer_type, title = offers.get((partner_id, offer_id), (partner_id, "", ""))
        items.append(
            ExportItem(
                sid,
                score,
                created if created.tzinfo else created.replace(tzinfo=UTC),
                cooperative_id,
                name,
                village,
                partner_id,
                partner_name,
                offer_type,
                title,
            )
        )
    return items


def next_after(
    session: Session, coordinator: Coordinator, f: QueueFilter, suggestion_id: str
) -> str | None:
    """The suggestion that follows ``suggestion_id`` in the filtered queue (decided or not)."""
    found = session.exec(
        _joined().where(
            col(SuggestionRow.suggestion_id) == suggestion_id, scope_filter(coordinator)
        )
    ).first()
    if found is None:
        return None
    after = replace(f, after=cursor_of(_item(found), f.sort), before=None, end=False, per_page=1)
    page = queue(session, coordinator, after)
    return page.items[0].suggestion.suggestion_id if page.items else None


def cursor_at(
    session: Session, coordinator: Coordinator, f: QueueFilter, fraction: float
) -> str | None:
    """The cursor of the row ``fraction`` of the way down the queue (benchmarks' deep pages)."""
    offset = int(count(session, coordinator, f) * fraction)
    conditions = _conditions(session.get_bind(), coordinator, f)
    mirror = _cooperative_side(coordinator, f)
    rows = _rows(session, conditions, f.sort, 1, offset=offset, cooperative_side=mirror)
    return cursor_of(_item(rows[0]), f.sort) if rows else None


def narrowed_to(session: Session, coordinator: Coordinator, f: QueueFilter) -> dict[str, str]:
    """What the cooperative and offer filters name, in words: a cooperative's name only when
    it is in scope (a filter never tells what lies outside), an offer's title and partner."""
    names: dict[str, str] = {}
    if f.cooperative:
        name = session.exec(
            select(CooperativeRow.name).where(
                col(CooperativeRow.cooperative_id) == f.cooperative,
                scope_filter(coordinator, CooperativeRow),
            )
        ).first()
        names["cooperative"] = name or f.cooperative
    key = offer_key(f.offer) if f.offer else None
    if key:
        offer = session.get(OfferRow, key)
        names["offer"] = f"{offer.title} ({offer.partner_name})" if offer else "/".join(key)
    return names


@dataclass
class Choice:
    code: str
    label: str
    pending: int = 0


@dataclass
class FilterChoices:
    provinces: list[Choice]
    regencies: list[Choice]  # label "Kabupaten, Provinsi"
    districts: dict[str, list[Choice]]  # by regency; label "Kecamatan, Kabupaten"
    partners: list[Choice]  # the most pending first
    offer_types: list[str]

    def regencies_in(self, province: str | None) -> list[Choice]:
        if not province:
            return self.regencies
        return [r for r in self.regencies if r.code.startswith(province + ".")]


# A decision leaves the choices as they are: their counts only order the partners.
_choices: ScopeCache[FilterChoices] = ScopeCache(
    CHOICES_SECONDS, KEPT_SECONDS, forget_on_decision=False
)


def filter_choices(session: Session, coordinator: Coordinator) -> FilterChoices:
    """The values the queue's filters offer: those with pending suggestions in scope.

    Computed once per scope, fresh for a minute, then refreshed in the background
    (services/review/cache.py); a choice that emptied meanwhile merely finds nothing.
    """
    return _choices.get(session, coordinator, _compute_choices)


def _compute_choices(session: Session, coordinator: Coordinator) -> FilterChoices:
    table = region_table()
    pending = [scope_filter(coordinator), col(SuggestionRow.status) == SuggestionStatus.PENDING]
    district = func.substr(SuggestionRow.village_code, 1, 8)
    counted = session.exec(
        select(SuggestionRow.regency_code, district, func.count())
        .where(*pending)
        .group_by(col(SuggestionRow.regency_code), district)
    ).all()
    provinces: dict[str, int] = defaultdict(int)
    regencies: dict[str, int] = defaultdict(int)
    districts: dict[str, list[Choice]] = defaultdict(list)
    for regency, code, n in counted:
        provinces[regency[:2]] += n
        regencies[regency] += n
        districts[regency].append(Choice(code, f"{table.name(code)}, {region_name(regency)}", n))
    by_partner = session.exec(
        select(SuggestionRow.partner_id, func.count())
        .where(*pending)
        .group_by(col(SuggestionRow.partner_id))
    ).all()
    names = partner_names(session, [p for p, _ in by_partner])
    return FilterChoices(
        provinces=sorted(
            (Choice(c, table.name(c), n) for c, n in provinces.items()), key=lambda c: c.label
        ),
        regencies=sorted(
            (Choice(c, f"{region_name(c)}, {table.name(c[:2])}", n) for c, n in regencies.items()),
            key=lambda c: c.label,
        ),
        districts={r: sorted(ds, key=lambda c: c.label) for r, ds in districts.items()},
        partners=sorted(
            (Choice(p, names.get(p, p), n) for p, n in by_partner),
            key=lambda c: (-c.pending, c.label),
        ),
        offer_types=list(OFFER_TYPE_LABELS),
    )


def partner_names(session: Session, partner_ids: list[str]) -> dict[str, str]:
    if not partner_ids:
        return {}
    query = select(OfferRow.partner_id, func.max(OfferRow.partner_name))
    if len(partner_ids) <= 200:  # beyond that, one pass over the offers beats the IN list
        query = query.where(col(OfferRow.partner_id).in_(partner_ids))
    return dict(session.exec(query.group_by(col(OfferRow.partner_id))).all())


_partners: TTLCache[int, dict[str, list[str]]] = TTLCache(maxsize=64, ttl=CHOICES_SECONDS)
_partners_lock = threading.Lock()


def partner_ids(engine: Engine, typed: str) -> list[str]:
    """The partners a typed value means: its id, or else every partner whose name has it."""
    with _partners_lock:
        by_name = _partners.get(id(engine))
    if by_name is None:
        by_name = defaultdict(list)
        with Session(engine) as session:
            for partner_id, name in session.exec(
                select(OfferRow.partner_id, OfferRow.partner_name).distinct()
            ):
                by_name[normalize(name)].append(partner_id)
        with _partners_lock:
            _partners[id(engine)] = by_name
    if any(typed in ids for ids in by_name.values()):
        return [typed]
    wanted = normalize(typed)
    return sorted({p for name, ids in by_name.items() if wanted and wanted in name for p in ids})


@dataclass
class Detail:
    suggestion: SuggestionRow
    cooperative: CooperativeRow | None
    offer: OfferRow | None
    approved_for_offer: int
    same_cooperative: list[QueueItem]
    same_offer: list[QueueItem]
    decisions: list[DecisionRow]
    audit: list[AuditRow]


def detail(session: Session, coordinator: Coordinator, suggestion_id: str) -> Detail | None:
    """A suggestion in scope with its context, or None (also when it is out of scope)."""
    row = session.exec(
        select(SuggestionRow).where(
            SuggestionRow.suggestion_id == suggestion_id, scope_filter(coordinator)
        )
    ).first()
    if row is None:
        return None
    cooperative = session.get(CooperativeRow, row.cooperative_id)
    offer = session.get(OfferRow, (row.partner_id, row.offer_id))
    approved = approved_count(session, row.partner_id, row.offer_id)
    others = _joined().where(
        scope_filter(coordinator),
        col(SuggestionRow.suggestion_id) != suggestion_id,
        col(SuggestionRow.status) != SuggestionStatus.RETRACTED,
    )
    same_cooperative = session.exec(
        others.where(col(SuggestionRow.cooperative_id) == row.cooperative_id)
        .order_by(col(SuggestionRow.score).desc())
        .limit(20)
    ).all()
    same_offer = session.exec(
        others.where(
            col(SuggestionRow.partner_id) == row.partner_id,
            col(SuggestionRow.offer_id) == row.offer_id,
        )
        .order_by(col(SuggestionRow.score).desc())
        .limit(20)
    ).all()
    decisions = session.exec(
        select(DecisionRow)
        .where(DecisionRow.suggestion_id == suggestion_id)
        .order_by(col(DecisionRow.id).desc())
    ).all()
    audit = session.exec(
        select(AuditRow).where(AuditRow.target == suggestion_id).order_by(col(AuditRow.id).desc())
    ).all()
    return Detail(
        row,
        cooperative,
        offer,
        approved,
        [_item(r) for r in same_cooperative],
        [_item(r) for r in same_offer],
        list(decisions),
        list(audit),
    )


@dataclass
class RegencyStats:
    code: str
    name: str
    pending: int = 0
    approved: int = 0
    rejected: int = 0
    cooperatives: int = 0  # cooperatives of the regency in scope
    covered: int = 0  # of which at least one approved partner

    @property
    def coverage(self) -> float:
        return self.covered / self.cooperatives if self.cooperatives else 0.0


@dataclass
class PartnerStats:
    partner_id: str
    name: str
    approved: int
    rejected: int

    @property
    def rate(self) -> float | None:
        decided = self.approved + self.rejected
        return self.approved / decided if decided else None


@dataclass
class Overview:
    regencies: list[RegencyStats] = field(default_factory=list)
    partners: list[PartnerStats] = field(default_factory=list)

    @property
    def largest(self) -> int:
        """The most suggestions of one regency: the full width of the bars."""
        return max((r.pending + r.approved + r.rejected for r in self.regencies), default=0) or 1

    @property
    def totals(self) -> RegencyStats:
        return _summed(RegencyStats("", "Jumlah"), self.regencies)

    @property
    def provinces(self) -> list[RegencyStats]:
        """The regencies summed per province (the admin's overview starts here)."""
        table = region_table()
        by_province: dict[str, list[RegencyStats]] = defaultdict(list)
        for r in self.regencies:
            by_province[r.code[:2]].append(r)
        return sorted(
            (_summed(RegencyStats(p, table.name(p)), rs) for p, rs in by_province.items()),
            key=lambda r: r.name,
        )

    @property
    def largest_province(self) -> int:
        return max((r.pending + r.approved + r.rejected for r in self.provinces), default=0) or 1


def _summed(total: RegencyStats, parts: list[RegencyStats]) -> RegencyStats:
    for r in parts:
        total.pending += r.pending
        total.approved += r.approved
        total.rejected += r.rejected
        total.cooperatives += r.cooperatives
        total.covered += r.covered
    return total


_overviews: ScopeCache[Overview] = ScopeCache(OVERVIEW_SECONDS, KEPT_SECONDS)


def overview(session: Session, coordinator: Coordinator, province: str | None = None) -> Overview:
    """Per regency of the scope (of ``province`` only, if given) and per partner: computed
    once per scope, fresh for a minute (then refreshed in the background), dropped when a
    decision here changes it."""
    return _overviews.get(
        session, coordinator, lambda s, c: _compute_overview(s, c, province), province
    )


def _compute_overview(session: Session, coordinator: Coordinator, province: str | None) -> Overview:
    in_scope = scope_filter(coordinator)
    if province:
        in_scope = and_(in_scope, region_condition(province))
    stats: dict[str, RegencyStats] = {}

    def regency(code: str) -> RegencyStats:
        if code not in stats:
            stats[code] = RegencyStats(code, region_name(code))
        return stats[code]

    counts = session.exec(
        select(SuggestionRow.regency_code, SuggestionRow.status, func.count())
        .where(in_scope)
        .group_by(col(SuggestionRow.regency_code), col(SuggestionRow.status))
    ).all()
    for code, status, n in counts:
        if status in ("pending", "approved", "rejected"):
            setattr(regency(code), str(status), n)
    covered = session.exec(
        select(SuggestionRow.regency_code, func.count(func.distinct(SuggestionRow.cooperative_id)))
        .where(in_scope, col(SuggestionRow.status) == SuggestionStatus.APPROVED)
        .group_by(col(SuggestionRow.regency_code))
    ).all()
    for code, n in covered:
        regency(code).covered = n
    cooperatives_in_scope = scope_filter(coordinator, CooperativeRow)
    if province:
        cooperatives_in_scope = and_(
            cooperatives_in_scope, region_condition(province, CooperativeRow)
        )
    cooperatives = session.exec(
        select(CooperativeRow.regency_code, func.count())
        .where(cooperatives_in_scope)
        .group_by(col(CooperativeRow.regency_code))
    ).all()
    for code, n in cooperatives:
        regency(code).cooperatives = n
    approved = func.sum(case((col(SuggestionRow.status) == SuggestionStatus.APPROVED, 1), else_=0))
    rejected = func.sum(case((col(SuggestionRow.status) == SuggestionStatus.REJECTED, 1), else_=0))
    # Grouped on the suggestion table alone (its partner/status index); names looked up after.
    partners = session.exec(
        select(SuggestionRow.partner_id, approved, rejected)
        .where(in_scope)
        .group_by(col(SuggestionRow.partner_id))
    ).all()
    names = partner_names(session, [p for p, _, _ in partners])
    return Overview(
        regencies=sorted(stats.values(), key=lambda r: (r.code[:2], r.name)),
        partners=sorted(
            (PartnerStats(p, names.get(p, p), int(a or 0), int(r or 0)) for p, a, r in partners),
            key=lambda p: (-(p.approved + p.rejected), p.name),
        ),
    )


def approved_count(session: Session, partner_id: str, offer_id: str) -> int:
    """The offer's approved cooperatives, nationwide (what its capacity bounds)."""
    return session.exec(
        select(func.count())
        .select_from(SuggestionRow)
        .where(
            SuggestionRow.partner_id == partner_id,
            SuggestionRow.offer_id == offer_id,
            SuggestionRow.status == SuggestionStatus.APPROVED,
        )
    ).one()
