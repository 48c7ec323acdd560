"""Alembic migrations on SQLite and PostgreSQL: they build exactly the models' schema.

``test_upgrade_from_empty_gives_the_models_schema`` fails whenever a table or column is
added to the models without a migration: write one (docs/production.md, "Database
migrations").
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

import services.pipeline.app  # noqa: F401  (every service, so every table any of them defines)
from services.cli import app
from services.storage import migrate
from services.storage.db import make_engine, session_scope
from services.storage.models import CooperativeRow, OutboxRow
from tests.support import builders
from tests.support.harness import Harness

runner = CliRunner()


@pytest.fixture
def empty_engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def differences(engine) -> list:
    with engine.connect() as connection:
        return migrate.schema_differences(connection)


def tables(engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_from_empty_gives_the_models_schema(empty_engine):
    assert migrate.upgrade(empty_engine) is None  # nothing before
    assert migrate.current(empty_engine) == migrate.head()
    assert differences(empty_engine) == []
    assert tables(empty_engine) == set(SQLModel.metadata.tables) | {"alembic_version"}


def test_downgrade_to_base_then_upgrade_again(empty_engine):
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert tables(empty_engine) <= {"alembic_version"}
    assert migrate.current(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == migrate.head()
    assert differences(empty_engine) == []


def test_upgrade_twice_is_a_no_op_and_keeps_data(empty_engine):
    migrate.upgrade(empty_engine)
    with session_scope(empty_engine) as session:
        session.add(OutboxRow(subject="kopdes.x", payload="{}", msg_id="m1"))
    assert migrate.upgrade(empty_engine) == migrate.head()
    assert migrate.current(empty_engine) == migrate.head()
    with Session(empty_engine) as session:
        assert [row.msg_id for row in session.exec(select(OutboxRow))] == ["m1"]


def test_concurrent_upgrades_migrate_once(database_url):
    """Replicas starting together: the migration lock lets one migrate, the others wait."""
    engines = [make_engine(database_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(engine) -> None:
        try:
            migrate.upgrade(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert migrate.current(engines[0]) == migrate.head()
    for engine in engines:
        engine.dispose()


def test_a_create_all_database_matching_the_models_is_stamped(empty_engine):
    SQLModel.metadata.create_all(empty_engine)
    with session_scope(empty_engine) as session:
        session.add(OutboxRow(subject="kopdes.x", payload="{}", msg_id="kept"))
    assert migrate.current(empty_engine) is None
    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == migrate.head()
    with Session(empty_engine) as session:
        assert session.exec(select(OutboxRow.msg_id)).all() == ["kept"]


def test_a_create_all_database_missing_newer_tables_gets_them(empty_engine):
    metadata = SQLModel.metadata
    older = [t for name, t in metadata.tables.items() if name not in {"rejected_pair"}]
    metadata.create_all(empty_engine, tables=older)
    migrate.upgrade(empty_engine)
    assert "rejected_pair" in tables(empty_engine)
    assert migrate.current(empty_engine) == migrate.head()
    assert differences(empty_engine) == []


def test_an_unversioned_database_that_differs_is_refused(empty_engine):
    SQLModel.metadata.create_all(empty_engine)
    with empty_engine.begin() as connection:
        connection.execute(text("ALTER TABLE outbox ADD COLUMN surprise INTEGER"))
    with pytest.raises(migrate.SchemaMismatch, match="surprise"):
        migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) is None  # nothing stamped, nothing changed


def test_migrate_command(database_url, tmp_path):
    result = runner.invoke(app, ["migrate", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    assert migrate.head() in result.stdout
    engine = make_engine(database_url)
    try:
        assert migrate.current(engine) == migrate.head()
        again = runner.invoke(app, ["migrate", "--database-url", database_url])
        assert again.exit_code == 0, again.output
        assert "already at" in again.stdout
        down = runner.invoke(app, ["migrate", "--database-url", database_url, "--revision", "base"])
        assert down.exit_code == 0, down.output
        assert migrate.current(engine) is None
    finally:
        engine.dispose()


def test_migrate_sql_prints_the_ddl(tmp_path):
    url = f"sqlite:///{tmp_path / 'never-created.db'}"
    result = runner.invoke(app, ["migrate", "--sql", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "CREATE TABLE suggestion" in result.stdout
    assert "alembic_version" in result.stdout
    assert not (tmp_path / "never-created.db").exists()


def test_migrate_refuses_a_mismatching_database_with_a_message(sqlite_url):
    engine = make_engine(sqlite_url)
    SQLModel.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_outbox_origin"))
    engine.dispose()
    result = runner.invoke(app, ["migrate", "--database-url", sqlite_url])
    assert result.exit_code == 1
    assert "no migration history" in result.output
    assert "ix_outbox_origin" in result.output


async def test_the_pipeline_starts_on_a_migrated_database(settings):
    engine = make_engine(settings.sqlalchemy_url)
    migrate.upgrade(engine)
    async with Harness(settings) as harness:
        await harness.publish("kopdes.cooperative.upserted", builders.profile(), "p1")
        await harness.settle()
        with Session(harness.pipeline.runtime.engine) as session:
            assert session.get(CooperativeRow, builders.profile()["cooperative_id"])
    assert migrate.current(engine) == migrate.head()
    engine.dispose()


async def test_the_pipeline_migrates_an_empty_database_at_start(settings):
    async with Harness(settings) as harness:
        engine = harness.pipeline.runtime.engine
        assert migrate.current(engine) == migrate.head()
        assert differences(engine) == []


def test_one_head_and_numbered_revisions():
    """Two branches that each added a revision leave two heads: renumber one and rebase it."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.revision.isdigit(), revision.path


def test_new_revision_captures_a_model_change(tmp_path, monkeypatch, sqlite_url):
    """`migrate --new` on a copy of the migrations: a column added to a model gets its
    revision, which then upgrades and downgrades cleanly."""
    import shutil

    from sqlalchemy import Column, MetaData, Text

    versions = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    changed = MetaData()
    for table in SQLModel.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["outbox"].append_column(Column("note", Text, nullable=True))
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", versions)
    monkeypatch.setattr(migrate, "target_metadata", lambda: changed)

    previous = migrate.head()
    following = f"{int(previous) + 1:04d}"
    result = runner.invoke(app, ["migrate", "--new", "add outbox note"])
    assert result.exit_code == 0, result.output
    written = versions / "versions" / f"{following}_add_outbox_note.py"
    source = written.read_text()
    assert 'batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))' in source
    assert 'batch_op.drop_column("note")' in source

    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    assert migrate.current(engine) == following
    assert differences(engine) == []
    migrate.move_to(engine, previous)
    assert "note" not in {c["name"] for c in inspect(engine).get_columns("outbox")}
    engine.dispose()


def test_the_regency_index_carries_an_exports_columns_on_postgresql(empty_engine):
    if empty_engine.dialect.name != "postgresql":
        pytest.skip("INCLUDE columns are PostgreSQL's (SQLite keeps the plain index)")

    def included() -> list[str]:
        indexes = {i["name"]: i for i in inspect(empty_engine).get_indexes("suggestion")}
        index = indexes["ix_suggestion_regency_status_score"]
        assert index["column_names"][:5] == [
            "regency_code",
            "status",
            "score",
            "suggestion_id",
            "village_code",
        ]
        return list(index.get("dialect_options", {}).get("postgresql_include", []))

    migrate.upgrade(empty_engine)
    assert included() == ["created_at", "cooperative_id", "partner_id", "offer_id"]
    migrate.downgrade(empty_engine, "0008")
    assert included() == []
    migrate.upgrade(empty_engine)
    assert included() == ["created_at", "cooperative_id", "partner_id", "offer_id"]


def test_rank_and_basis_updates_leave_the_indexes_alone_on_postgresql(empty_engine):
    # The matcher's most frequent write changes a pending suggestion's rank or basis only.
    # With room left in each page (fill factor), PostgreSQL writes it without touching the
    # table's indexes (a HOT update); in pages packed full, almost none is.
    if empty_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no fill factor")
    migrate.upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO suggestion (suggestion_id, partner_id, offer_id, cooperative_id,"
                " regency_code, village_code, province_code, score, rank, basis, explanation,"
                " summary, status, version, created_at, updated_at)"
                " SELECT 'sg-' || n, 'bri', 'kur', 'KDMP-' || n, '61.12', '61.12.01.2004', '61',"
                " 70, n % 20 + 1, '[\"offer\"]', json_build_array(json_build_object("
                " 'name', 'komoditas', 'weight', 0.4, 'score', 80, 'detail', repeat('x', 200))),"
                " 'ringkasan', 'PENDING', 1, now(), now() FROM generate_series(1, 2000) AS n"
            )
        )
    with empty_engine.begin() as conn:
        # One in 20 (a page holds about 14): rank 1 gives way to another cooperative.
        moved = conn.execute(
            text("UPDATE suggestion SET rank = 2, basis = '[\"cooperative\"]' WHERE rank = 1")
        ).rowcount
        hot = conn.execute(
            text("SELECT pg_stat_get_xact_tuples_hot_updated('suggestion'::regclass)")
        ).scalar_one()
    assert moved == 100
    assert hot == moved


def test_a_suggestion_is_unique_by_its_primary_key_alone(empty_engine):
    # Its id is derived from the pair, so a second unique index on the pair held the same
    # rows again, at the cost of an entry per insert (migration 0014).
    migrate.upgrade(empty_engine, "0013")
    assert unique_indexes(empty_engine) == [["partner_id", "offer_id", "cooperative_id"]]
    migrate.upgrade(empty_engine)
    assert unique_indexes(empty_engine) == []
    assert inspect(empty_engine).get_pk_constraint("suggestion")["constrained_columns"] == [
        "suggestion_id"
    ]


def unique_indexes(engine) -> list[list[str]]:
    found = inspect(engine)
    constraints = [c["column_names"] for c in found.get_unique_constraints("suggestion")]
    indexes = [i["column_names"] for i in found.get_indexes("suggestion") if i["unique"]]
    return [list(c) for c in {tuple(c) for c in constraints + indexes}]
