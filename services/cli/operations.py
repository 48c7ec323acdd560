"""Operating a deployment: ``migrate`` (the database schema) and ``health`` (readiness)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Annotated

import typer

from services.cli.common import DatabaseUrl, DataDir, console, err_console, load_settings


def migrate(
    revision: Annotated[
        str, typer.Option(help="revision to upgrade or downgrade to ('base': drop everything)")
    ] = "head",
    sql: Annotated[
        bool, typer.Option("--sql", help="print the SQL of an upgrade from nothing; change nothing")
    ] = False,
    stamp: Annotated[
        str | None,
        typer.Option(help="record this revision as applied without running it (after a fix)"),
    ] = None,
    new: Annotated[
        str | None,
        typer.Option(help="write a new revision for what the models have and migrations lack"),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Bring the database schema to the newest migration; the services also do at start."""
    # heavy: SQLAlchemy, Alembic and the table models; only when this command runs
    from services.platform.database import engine_from_settings
    from services.storage import migrate as migrations

    settings = load_settings(database_url=database_url, data_dir=data_dir)
    if new:
        path = migrations.new_revision(new)
        console.print(f"wrote {path}: review it, then run the migration tests", markup=False)
        return
    if sql:
        print(migrations.sql_script(settings.sqlalchemy_url, revision), end="")
        return
    engine = engine_from_settings(settings)
    where = engine.url.render_as_string(hide_password=True)
    try:
        if stamp:
            migrations.stamp(engine, stamp)
            console.print(f"{where} stamped at {stamp}", markup=False)
            return
        before, after = migrations.move_to(engine, revision)
    except migrations.SchemaMismatch as exc:
        err_console.print(f"migrate: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if before == after:
        console.print(f"{where} already at {after or 'base'}", markup=False)
    else:
        console.print(
            f"{where} migrated from {before or 'base'} to {after or 'base'}", markup=False
        )


def health(
    url: Annotated[
        str | None,
        typer.Option(help="endpoint to ask (default: /readyz on the local metrics port)"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the answer")] = 5.0,
) -> None:
    """Exit 0 when this machine's service answers ready, 1 otherwise (container health checks)."""
    target = url or f"http://127.0.0.1:{load_settings().metrics_port}/readyz"
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:
            console.print(response.read().decode().strip(), markup=False, highlight=False)
    except urllib.error.HTTPError as error:
        err_console.print(f"{error.code}: {error.read().decode().strip()}", markup=False)
        raise typer.Exit(1) from None
    except OSError as error:
        err_console.print(f"no answer from {target}: {error}", markup=False)
        raise typer.Exit(1) from None
