"""Schema migrations (Alembic), run from code: no alembic.ini is needed at runtime.

Every process calls ``upgrade`` at start: it brings the database to the newest revision
under a lock (a PostgreSQL advisory lock, a lock file beside a SQLite file), so replicas
starting together migrate once. A database made by the old ``create_all`` (tables but no
``alembic_version``) is adopted when it matches the models: missing tables are created and
the database is stamped at head; any other difference is refused with the list of
differences, because guessing what a hand-changed schema means could lose data.
"""

# ruff: noqa: E402  (the alembic logger is quietened before alembic is imported)

from __future__ import annotations

import logging

# Alembic narrates every run at INFO ("setup plugin ...", "Context impl ..."), from the
# moment it is imported, into the output of every command and service; `upgrade` logs
# what changed instead.
logging.getLogger("alembic").setLevel(logging.WARNING)

import contextlib
import io
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Connection, Engine, MetaData, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

from services.storage import models  # noqa: F401  (registers every table in the metadata)
from services.storage.db import make_engine
from services.storage.types import UTCDateTime

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# pg_advisory_lock key: any constant shared by every process of this service.
ADVISORY_LOCK_KEY = 0x6B6F7064_6573  # "kopdes"


class SchemaMismatch(RuntimeError):
    """The database has tables but no migration history, and they differ from the models."""


def target_metadata() -> MetaData:
    # Complete: every table is in services/storage/models.py, imported above.
    return SQLModel.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types so that revision files import only stable names."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("from services.storage.types import UTCDateTime")
        return "UTCDateTime()"
    if type_ == "type" and isinstance(obj, AutoString):
        # SQLModel's str column is a plain VARCHAR; sqlmodel internals stay out of revisions.
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolation: a '%' in a password must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision, "no migration revisions"
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_differences(connection: Connection) -> list[Any]:
    """What autogenerate would change: empty when the database matches the models."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    return list(compare_metadata(context, target_metadata()))


def create_schema(engine: Engine) -> None:
    """Bring the database to the newest migration."""
    upgrade(engine)


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate to ``revision`` (default: the newest). Returns the revision before."""
    with _migration_lock(engine), engine.connect() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        if before is None and _has_our_tables(connection):
            _adopt_unversioned(connection)
            before = head()
        connection.commit()
        config = alembic_config(connection=connection)
        command.upgrade(config, revision)
        connection.commit()
        after = MigrationContext.configure(connection).get_current_revision()
    if after != before:
        log.info("database migrated from %s to %s", before or "empty", after)
    return before


def move_to(engine: Engine, revision: str) -> tuple[str | None, str | None]:
    """Upgrade or downgrade to ``revision``, whichever way it lies. Returns (before, after)."""
    script = ScriptDirectory.from_config(alembic_config())
    before = current(engine)
    target = None if revision == "base" else script.get_revision(revision)
    target_id = target.revision if target is not None else None
    if before is not None and (
        target_id is None
        or target_id in {r.revision for r in script.iterate_revisions(before, "base")} - {before}
    ):
        downgrade(engine, revision)
    else:
        upgrade(engine, revision)
    return before, current(engine)


def downgrade(engine: Engine, revision: str) -> None:
    with _migration_lock(engine), engine.connect() as connection:
        command.downgrade(alembic_config(connection=connection), revision)
        connection.commit()


def sql_script(url: str, revision: str = "head") -> str:
    """The SQL an upgrade from nothing to ``revision`` runs, for a DBA to review or apply."""
    buffer = io.StringIO()
    config = alembic_config(url)
    config.output_buffer = buffer
    command.upgrade(config, revision, sql=True)
    return buffer.getvalue()


def new_revision(message: str) -> Path:
    """Autogenerate a revision for what the models have and the migrations lack.

    Compares against a scratch SQLite database brought to head, so a developer needs no
    server. Review the file: autogenerate misses renames and data moves.
    """
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'head.db'}")
        try:
            upgrade(engine)
            with engine.connect() as connection:
                script = command.revision(
                    alembic_config(connection=connection),
                    message=message,
                    autogenerate=True,
                    rev_id=_next_revision_id(),
                )
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    _tidy(path)
    return path


def _tidy(path: Path) -> None:
    """Format a generated revision as the project does (ruff, where installed: dev)."""
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        return
    subprocess.run([ruff, "check", "--fix", "--quiet", str(path)], check=False)
    subprocess.run([ruff, "format", "--quiet", str(path)], check=False)


def _next_revision_id() -> str | None:
    # Numbered revisions (0001, 0002, ...) read in order; a merge of two branches that
    # both added one shows up as two heads, which the migration tests catch.
    current_head = head()
    return f"{int(current_head) + 1:04d}" if current_head.isdigit() else None


def _has_our_tables(connection: Connection) -> bool:
    present = set(inspect(connection).get_table_names())
    return bool(present & set(target_metadata().tables))


def _adopt_unversioned(connection: Connection) -> None:
    """A database from ``create_all``: stamp it at head when it matches the models."""
    differences = schema_differences(connection)
    new_tables = {d[1].name for d in differences if isinstance(d, tuple) and d[0] == "add_table"}
    # Only tables added since the database was made may be missing (with their indexes).
    other = [
        d
        for d in differences
        if not (
            isinstance(d, tuple)
            and (d[0] == "add_table" or (d[0] == "add_index" and d[1].table.name in new_tables))
        )
    ]
    if other:
        listing = "\n".join(f"  {d!r}" for d in other)
        raise SchemaMismatch(
            "the database has tables but no migration history (alembic_version), and they "
            f"differ from the models:\n{listing}\n"
            "Bring the schema in line by hand, then `kopdes-match migrate --stamp head`; "
            "or migrate into a new database."
        )
    if new_tables:
        metadata = target_metadata()
        metadata.create_all(connection, tables=[metadata.tables[name] for name in new_tables])
    command.stamp(alembic_config(connection=connection), "head")
    log.warning(
        "database without migration history matches the models: stamped at %s%s",
        head(),
        f" after creating {sorted(new_tables)}" if new_tables else "",
    )


def stamp(engine: Engine, revision: str = "head") -> None:
    """Record ``revision`` as applied without running anything (after a manual fix)."""
    with _migration_lock(engine), engine.connect() as connection:
        command.stamp(alembic_config(connection=connection), revision)
        connection.commit()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One migrating process at a time, across processes and machines."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        with engine.connect() as lock_connection:
            lock_connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
            lock_connection.commit()
            try:
                yield
            finally:
                lock_connection.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY}
                )
                lock_connection.commit()
        return
    database = make_url(str(url)).database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".migrate-lock")
    # Kept after release, like the writers' turnstile (db.py): a lock file unlinked while
    # another process waits on it would let a third one lock a new file beside the first.
    with FileLock(lock_path, thread_local=False, preserve_lock_file=True):
        yield
