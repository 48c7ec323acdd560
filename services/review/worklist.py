"""The filtered queue as a work list to download: its rows with the names a file needs."""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, tuple_
from sqlmodel import Session, col, select

from services.review.filters import QueueFilter, cooperative_conditions, filter_conditions
from services.review.partners import CHOICES_SECONDS
from services.review.queue import ordered, total
from services.storage.db import select_columns, session_engine
from services.storage.models import CooperativeRow, CoordinatorRow, OfferRow, SuggestionRow

# An export is a work list, not a copy of the database: narrow the filter for more (the
# queue page says so when a download would be cut). At 500,000 pending nationally every
# regency's queue fits whole but Aceh Utara's (5,520; by district it does); 99 % of them
# hold under 3,000. 10,000 rows took 0.4-0.6 s to export on the shared 2-core machine, 5,000
# take about half (benchmarks/bench_review.py, export_*_all), a regency's ~0.1 s.
MAX_EXPORT = 5_000


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
    engine = session_engine(session)
    columns = (
        OfferRow.partner_id,
        OfferRow.offer_id,
        OfferRow.partner_name,
        OfferRow.offer_type,
        OfferRow.title,
    )
    with _offer_names_lock:
        read_at, known = _offer_names.get(engine, (0.0, {}))
    if time.monotonic() - read_at > CHOICES_SECONDS:
        known = {
            (p, o): (n, t, title) for p, o, n, t, title in session.exec(select_columns(*columns))
        }
        with _offer_names_lock:
            _offer_names[engine] = (time.monotonic(), known)
    missing = [k for k in keys if k not in known]
    if missing:
        pairs = tuple_(col(OfferRow.partner_id), col(OfferRow.offer_id))
        for p, o, n, t, title in session.exec(
            select_columns(*columns).where(pairs.in_(missing[:500]))
        ):
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


def export_rows(session: Session, coordinator: CoordinatorRow, f: QueueFilter) -> list[ExportItem]:
    """The filtered queue in its order, at most ``MAX_EXPORT`` rows.

    When the filter holds more, the rows are chosen from the suggestion table's indexes
    alone (a province's 49,000 pending are sorted in the regency/score index, not read
    from the table: 0.9 s), then read by id. Rows are read as plain columns, not ORM
    objects (a third of the time of 10,000 rows went into building them), with the
    cooperative's name joined (one key: the planner judges that join well); the offers'
    names come from ``offer_names``.
    """
    s = SuggestionRow
    conditions = filter_conditions(session_engine(session), coordinator, f)
    if f.sort == "cooperative" or total(session, coordinator, f) <= MAX_EXPORT:
        # Every matching row goes out (or the order is by a name): read in the table's
        # order, as the planner likes (a regency's 2,700 rows: 55 ms, by id: 105 ms).
        chosen = [*conditions, *cooperative_conditions(coordinator, f)]
    else:
        ids = ordered(select(s.suggestion_id).where(*conditions), f.sort).limit(MAX_EXPORT)
        chosen = [col(s.suggestion_id).in_(ids.scalar_subquery())]
    query = (
        select_columns(
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
    rows = session.exec(ordered(query, f.sort).limit(MAX_EXPORT)).all()
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
