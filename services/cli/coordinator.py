"""``coordinator``: the accounts of the review dashboard and API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from services.cli.common import DatabaseUrl, DataDir, console, err_console, load_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="Coordinator accounts of the review dashboard and API.")


def _engine(database_url: str | None, data_dir: Path | None) -> Engine:
    # heavy: SQLAlchemy and the table models; only when an account command runs
    from services.storage.db import make_engine
    from services.storage.migrate import create_schema

    settings = load_settings(database_url=database_url, data_dir=data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    create_schema(engine)
    return engine


@app.command("add")
def coordinator_add(
    username: str,
    role: Annotated[str, typer.Option(help="business_assistant, pmo or admin")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="region code (repeat): villages/district for a business assistant, "
            "regency/province for a PMO, none for an admin"
        ),
    ] = None,
    full_name: Annotated[str, typer.Option(help="name shown on the dashboard")] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="KOPDES_NEW_PASSWORD",
            help="at least 10 characters",
        ),
    ] = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Add a coordinator account."""
    # heavy: SQLAlchemy and the table models; only when this command runs
    from services.review.accounts import AccountError, add_coordinator
    from services.review.models import CoordinatorCreate
    from services.review.scope import ScopeError
    from services.storage.models import Role

    try:
        new = CoordinatorCreate(
            username=username,
            full_name=full_name,
            role=Role(role),
            scope=scope or [],
            password=password,
        )
        row = add_coordinator(_engine(database_url, data_dir), new)
    except (ValidationError, AccountError, ScopeError, ValueError) as problem:
        err_console.print(f"not added: {problem}", markup=False)
        raise typer.Exit(2) from None
    console.print(
        f"added {row.username} ({row.role.value}, scope: {', '.join(row.scope) or 'all'})"
    )


@app.command("list")
def coordinator_list(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """List coordinator accounts."""
    # heavy: SQLAlchemy and the table models; only when this command runs
    from services.review.accounts import list_coordinators
    from services.review.scope import scope_label

    table = Table("username", "name", "role", "scope", "active")
    for row in list_coordinators(_engine(database_url, data_dir)):
        table.add_row(
            row.username,
            row.full_name,
            row.role.value,
            scope_label(row),
            "yes" if row.active else "no",
        )
    console.print(table)


@app.command("disable")
def coordinator_disable(
    username: str, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """Disable a coordinator: their session and API tokens stop working at once."""
    # heavy: SQLAlchemy and the table models; only when this command runs
    from services.review.accounts import AccountError, set_active

    try:
        set_active(_engine(database_url, data_dir), username, active=False)
    except AccountError as problem:
        err_console.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    console.print(f"disabled {username}")


@app.command("enable")
def coordinator_enable(
    username: str, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """Enable a disabled coordinator again."""
    # heavy: SQLAlchemy and the table models; only when this command runs
    from services.review.accounts import AccountError, set_active

    try:
        set_active(_engine(database_url, data_dir), username, active=True)
    except AccountError as problem:
        err_console.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    console.print(f"enabled {username}")


@app.command("token")
def coordinator_token(
    username: str,
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Issue an API token (printed once; only its hash is stored)."""
    # heavy: SQLAlchemy and the table models; only when this command runs
    from services.review.accounts import AccountError, create_token

    try:
        token = create_token(_engine(database_url, data_dir), username, label)
    except AccountError as problem:
        err_console.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    print(token)
