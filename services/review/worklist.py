"""The filtered queue as a work list to download: its rows with the names a file needs."""

from __future__ import annotations

import threading
import time
import weakref
from datetime import datetime
from typing import Any, cast

from sqlalchemy import DateTime, Engine, tuple_, type_coerce
from sqlmodel import Session, col

from services.review.filters import QueueFilter, cooperative_conditions, filter_conditions
from services.review.partners import CHOICES_SECONDS
from services.review.queue import ordered, sort_key
from services.storage.db import select_columns, session_engine
from services.storage.models import CooperativeRow, CoordinatorRow, OfferRow, SuggestionRow

# An export is a work list, not a copy of the database: narrow the filter for more (the
# queue page says so when a download would be cut). At 500,000 pending nationally every
# regency's queue fits whole but Aceh Utara's (5,520; by district it does); 99 % of them
# hold under 3,000. 5,000 rows take 130-160 ms to export on the shared 2-core machine
# (benchmarks/bench_review.py, export_*_all; docs/benchmarks.md), a regency's ~50 ms.
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


# A row of the exported queue as read: suggestion id, score, created (UTC, without a zone),
# cooperative id and name, village code, partner id, offer id.
ExportRow = tuple[str, float, datetime, str, str, str, str, str]


def export_rows(session: Session, coordinator: CoordinatorRow, f: QueueFilter) -> list[ExportRow]:
    """The filtered queue in its order, at most ``MAX_EXPORT`` rows, as plain tuples.

    In two steps in one statement: the rows are chosen and ordered from the suggestion
    table alone (its columns only: the planner reads a province's 49,000 pending from
    the regency/score index, which carries every column an export needs, migration 0009),
    then the cooperatives' names are joined to those rows only. Choosing ids first and
    reading their rows by id took twice as long (5,000 lookups of a text key). Rows are
    plain columns, not ORM objects; the offers' names come from ``offer_names``; the
    creation time is read without the column type's conversion (an aware copy of each
    value), ``export.queue_table`` formats it.
    """
    s = SuggestionRow
    columns: list[Any] = [
        s.suggestion_id,
        s.score,
        type_coerce(s.created_at, DateTime()).label("created_at"),
        s.cooperative_id,
        s.village_code,
        s.partner_id,
        s.offer_id,
    ]
    conditions = filter_conditions(session_engine(session), coordinator, f)
    if f.sort == "cooperative":  # ordered by the name: joined first
        joined = (
            select_columns(*columns[:4], CooperativeRow.name, *columns[4:])
            .join(CooperativeRow, col(CooperativeRow.cooperative_id) == s.cooperative_id)
            .where(*conditions, *cooperative_conditions(coordinator, f))
        )
        return _plain(session, ordered(joined, f.sort).limit(MAX_EXPORT))
    column, descending = sort_key(f.sort)
    if column.key not in {c.key for c in columns}:
        columns.append(column)  # the time it is sorted by
    chosen = ordered(select_columns(*columns).where(*conditions), f.sort)
    rows = chosen.limit(MAX_EXPORT).subquery()
    c = rows.c
    key = (c[column.key], c.suggestion_id)
    query = (
        select_columns(
            c.suggestion_id,
            c.score,
            c.created_at,
            c.cooperative_id,
            CooperativeRow.name,
            c.village_code,
            c.partner_id,
            c.offer_id,
        )
        .join(CooperativeRow, col(CooperativeRow.cooperative_id) == c.cooperative_id)
        .order_by(*(k.desc() if descending else k for k in key))
    )
    return _plain(session, query)


def _plain(session: Session, query: Any) -> list[ExportRow]:
    """The rows of ``query``, run as a Core statement and fetched in one call (the ORM's
    handling of each row, or a result iterated row by row, cost 2-3 µs a row: 10-15 ms)."""
    return cast(list[ExportRow], list(session.connection().execute(query).all()))
