"""Set-based writes (``services/storage/bulk.py``): what one statement writes for many rows
reads back exactly as the ORM would have written it, on SQLite and PostgreSQL, awkward
values included, and an upsert's condition and RETURNING still apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select, text
from sqlmodel import Session

from services.storage import bulk
from services.storage.db import make_engine
from services.storage.models import SuggestionRow, SuggestionStatus, table_of

SUGGESTION: Table = table_of(SuggestionRow)
WIB = timezone(timedelta(hours=7))


def row(n: int, **changes: object) -> dict[str, object]:
    at = datetime(2026, 12, 3, 12, 0, n, 123456, tzinfo=WIB)
    return {
        "suggestion_id": f"s{n:03d}",
        "partner_id": "bri",
        "offer_id": f"kur-{n}",
        "cooperative_id": f"coop-{n}",
        "regency_code": "35.07",
        "province_code": "35",
        "village_code": "35.07.01.2001",
        "score": 61.234567890123 + n,
        "rank": n + 1,
        "basis": ["offer", "cooperative"],
        "explanation": [{"component": "komoditas", "text": 'kopi "arabika" \\ gayo, \u00e9'}],
        "summary": "Koperasi menanam kopi; tawaran mencari kopi.\nBaris kedua",
        "status": SuggestionStatus.PENDING,
        "retract_reason": None,
        "created_at": at,
        "updated_at": at,
        "version": 1,
        **changes,
    }


def stored(engine: Engine) -> dict[str, SuggestionRow]:
    with Session(engine) as session:
        rows = session.scalars(select(SuggestionRow)).all()
        return {r.suggestion_id: r for r in rows}


def test_insert_reads_back_what_was_written(engine: Engine) -> None:
    rows = [row(n) for n in range(30)]
    with Session(engine) as session:
        conn = session.connection()
        for chunk in bulk.chunks(conn, rows):
            statement, params = bulk.insert(conn, SUGGESTION, chunk)
            conn.execute(statement, params)
        session.commit()
    found = stored(engine)
    assert sorted(found) == [f"s{n:03d}" for n in range(30)]
    first = found["s000"]
    assert first.score == 61.234567890123
    assert first.basis == ["offer", "cooperative"]
    assert first.explanation == rows[0]["explanation"]
    assert first.summary == rows[0]["summary"]
    assert first.status == SuggestionStatus.PENDING
    assert first.retract_reason is None
    # Stored in UTC, whatever the offset it came with.
    assert first.created_at == datetime(2026, 12, 3, 5, 0, 0, 123456, tzinfo=UTC)


def test_upsert_condition_and_returning_apply(engine: Engine) -> None:
    with Session(engine) as session:
        conn = session.connection()
        statement, params = bulk.insert(conn, SUGGESTION, [row(1), row(2, status="approved")])
        conn.execute(statement, params)
        again = [row(1, score=90.0), row(2, score=90.0), row(3)]
        statement, params = bulk.insert(conn, SUGGESTION, again)
        upsert = statement.on_conflict_do_update(
            index_elements=[SUGGESTION.c.suggestion_id],
            set_={"score": statement.excluded.score, "version": SUGGESTION.c.version + 1},
            where=SUGGESTION.c.status == SuggestionStatus.PENDING,
        ).returning(SUGGESTION.c.suggestion_id, SUGGESTION.c.version)
        written = sorted(tuple(r) for r in conn.execute(upsert, params))
        session.commit()
    # The approved row is neither overwritten nor returned.
    assert written == [("s001", 2), ("s003", 1)]
    found = stored(engine)
    assert (found["s001"].score, found["s002"].score) == (90.0, 63.234567890123)


def test_update_rows_and_among(engine: Engine) -> None:
    with Session(engine) as session:
        conn = session.connection()
        statement, params = bulk.insert(conn, SUGGESTION, [row(n) for n in range(5)])
        conn.execute(statement, params)
        quiet = [
            {"suggestion_id": "s001", "rank": 9, "basis": ["cooperative"]},
            {"suggestion_id": "s003", "rank": 7, "basis": []},
        ]
        update, params = bulk.update_rows(
            conn, SUGGESTION, "suggestion_id", quiet, SUGGESTION.c.status == "pending"
        )
        conn.execute(update, params)
        ids = conn.execute(
            select(SUGGESTION.c.suggestion_id).where(
                bulk.among(conn, SUGGESTION.c.suggestion_id, ["s000", "s003", "nope"])
            )
        ).scalars()
        assert sorted(ids) == ["s000", "s003"]
        session.commit()
    found = stored(engine)
    assert (found["s001"].rank, found["s001"].basis) == (9, ["cooperative"])
    assert (found["s003"].rank, found["s003"].basis) == (7, [])
    assert (found["s002"].rank, found["s002"].basis) == (3, ["offer", "cooperative"])


def test_a_statement_run_again_and_again_is_planned_for_its_own_parameters(engine):
    # psycopg prepares a statement it has run five times; PostgreSQL would then settle on
    # one generic plan for it, chosen while the table was small. Each execution is
    # planned for its own rows instead (services/storage/db.py, PLANNING).
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no plan cache mode")
    with engine.connect() as conn:
        for n in range(12):
            ids = [f"s{i:03d}" for i in range(n + 1)]
            query = select(SUGGESTION.c.suggestion_id).where(
                bulk.among(conn, SUGGESTION.c.suggestion_id, ids)
            )
            conn.execute(query).all()
        plans = conn.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%FROM suggestion%'"
            )
        ).one()
    assert plans.generic_plans == 0
    assert plans.custom_plans >= 5


def test_options_in_the_database_url_are_kept(engine, database_url):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL connection options")
    separator = "&" if "?" in database_url else "?"
    other = make_engine(f"{database_url}{separator}options=-c%20statement_timeout%3D4321")
    try:
        with other.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "4321ms"
            assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == "force_custom_plan"
    finally:
        other.dispose()


def test_a_statement_is_built_once_per_table_columns_and_variant(engine: Engine) -> None:
    built: list[object] = []

    def finish(statement: Any) -> Any:
        built.append(statement)
        return statement.on_conflict_do_nothing()

    with Session(engine) as session:
        conn = session.connection()
        first, _ = bulk.insert(conn, SUGGESTION, [row(1)], finish, "once")
        second, params = bulk.insert(conn, SUGGESTION, [row(2), row(3)], finish, "once")
        conn.execute(second, params)  # the rows travel as parameters, not in the statement
        other, _ = bulk.insert(conn, SUGGESTION, [row(4)], finish, "other")
        session.commit()
    assert second is first and other is not first
    assert len(built) == 2
    assert sorted(stored(engine)) == ["s002", "s003"]
