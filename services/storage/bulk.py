"""Many rows in one short statement, whatever their number.

SQLAlchemy's multi-row ``VALUES`` (and ``IN`` with a list) renders one placeholder per
value: a batch of 500 suggestions is a statement of 8,500 placeholders, which psycopg
parses again for every batch (its query cache keeps short statements only). On PostgreSQL
that parsing cost more than the database's own work. So on PostgreSQL the rows travel as
one JSON document and ``json_to_recordset`` turns them back into rows inside the server:
the statement's text is the same for every batch, compiled and parsed once. The statements
themselves are built once too (``insert``'s ``finish``): building one and its cache key
took about half a millisecond, most of the CPU of a service applying one event at a time.
On SQLite (one process, no network) the same statements run as an ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from pydantic_core import to_json
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Table,
    TableValuedAlias,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Update

Rows = Sequence[dict[str, Any]]
T = TypeVar("T")
# Rows per statement on SQLite (its limit on bound values is 32,766).
SQLITE_CHUNK = 500


def is_postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def chunks(conn: Connection, items: Sequence[T]) -> Iterable[Sequence[T]]:
    """The items in as few statements as the dialect takes: all at once on PostgreSQL."""
    size = len(items) if is_postgresql(conn) else SQLITE_CHUNK
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


# The parameter that carries the rows' JSON document (PostgreSQL).
ROWS = "bulk_rows"
# Statements built once per table, columns and variant: building one (and its cache key)
# cost about half a millisecond, more than the database's work for a batch of one row.
_BUILT: dict[tuple[Any, ...], Any] = {}


def _document(conn: Connection, table: Table, names: Sequence[str], rows: Rows) -> str:
    """The rows as one JSON document, each value prepared as its column type would bind
    it (UTC times, enum names); JSON values stay nested in the document."""
    prepare: dict[str, Any] = {}
    for name in names:
        column_type = table.c[name].type
        if not isinstance(column_type, JSON):
            processor = column_type.bind_processor(conn.dialect)
            if processor is not None:
                prepare[name] = processor
    if prepare:
        rows = [{**r, **{n: p(r[n]) for n, p in prepare.items()}} for r in rows]
    # pydantic's serializer (Rust) writes the document several times faster than json.
    return to_json(rows).decode()


def _recordset(table: Table, names: Sequence[str]) -> TableValuedAlias:
    """``json_to_recordset(:bulk_rows) AS v(a type, b type, ...)``: the rows as a derived
    table, sent as one JSON document that the server takes apart. (An array per column in
    text format costs psycopg a regular expression per value to escape it.)"""
    columns = [column(n, table.c[n].type) for n in names]
    recordset = func.json_to_recordset(cast(bindparam(ROWS, type_=Text), JSON))
    return recordset.table_valued(*columns).render_derived(with_types=True)


def insert(
    conn: Connection,
    table: Table,
    rows: Rows,
    finish: Callable[[Any], Any] | None = None,
    variant: Hashable = None,
) -> tuple[Any, Rows | dict[str, str]]:
    """An INSERT of the rows, in the connection's dialect, and the parameters to execute it
    with: ``conn.execute(statement, parameters)``. Rows hold the same keys.

    ``finish`` turns the plain INSERT into the statement wanted (``on_conflict_do_*``,
    ``returning``); the result is built once and kept for this table, these columns and
    ``variant`` (whatever else ``finish`` depends on), so it must take nothing from the
    rows."""
    names = tuple(rows[0])
    postgres = is_postgresql(conn)
    key = (postgres, table, names, variant)  # the Table itself: tests build others alike
    statement = _BUILT.get(key)
    if statement is None:
        if postgres:
            derived = _recordset(table, names)
            source = select(*(derived.c[n] for n in names))
            plain: Any = postgresql.insert(table).from_select(names, source)
        else:
            plain = sqlite.insert(table)
        statement = _BUILT[key] = finish(plain) if finish else plain
    if postgres:
        return statement, {ROWS: _document(conn, table, names, rows)}
    return statement, rows


def overwrite(statement: Any, index: Sequence[Any], where: Any = None) -> Any:
    """``statement`` (an INSERT of ``insert``) overwriting every other column of the row
    whose ``index`` it conflicts with (where ``where`` holds): a ``finish`` for ``insert``."""
    table = statement.table
    return statement.on_conflict_do_update(
        index_elements=index,
        set_={c.name: statement.excluded[c.name] for c in table.c if not c.primary_key},
        where=where,
    )


def update_rows(
    conn: Connection, table: Table, key: str, rows: Rows, *where: ColumnElement[bool]
) -> tuple[Update, Rows | dict[str, str]]:
    """An UPDATE setting each row's other values where ``key`` matches (and ``where``
    holds), and its parameters. Rows hold the same keys."""
    names = list(rows[0])
    changed = [n for n in names if n != key]
    if is_postgresql(conn):
        derived = _recordset(table, names)
        statement = (
            update(table)
            .where(table.c[key] == derived.c[key], *where)
            .values({n: derived.c[n] for n in changed})
        )
        return statement, {ROWS: _document(conn, table, names, rows)}
    params = [{f"b_{n}": r[n] for n in names} for r in rows]
    statement = (
        update(table)
        .where(table.c[key] == bindparam(f"b_{key}"), *where)
        .values({n: bindparam(f"b_{n}", type_=table.c[n].type) for n in changed})
    )
    return statement, params


def among(
    conn: Connection, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN values``: on PostgreSQL ``= ANY(:array)``, one placeholder."""
    values = list(values)
    if is_postgresql(conn):
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)
