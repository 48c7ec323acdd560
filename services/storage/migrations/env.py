"""Alembic environment: run by ``services.storage.migrate`` (and the ``alembic`` CLI).

The connection normally comes from the caller (``config.attributes["connection"]``), so the
service's own engine settings and locks apply; without one, the URL comes from the config
or from ``Settings().sqlalchemy_url``.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine

# This file is Alembic's entry script, run by Alembic and never imported by the package:
# like the other entry points it may read the services' settings (the plain ``alembic``
# CLI without a URL), which the storage package itself does not.
from services.platform.database import engine_from_settings
from services.platform.settings import Settings
from services.storage.db import make_engine
from services.storage.migrate import render_item, target_metadata

config = context.config
metadata = target_metadata()

OPTIONS: dict[str, Any] = {
    "target_metadata": metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead.
    "render_as_batch": True,
    "compare_type": True,
    "render_item": render_item,
}


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def engine_for_cli(url: str | None) -> Engine:
    """The engine the plain ``alembic`` CLI uses when no connection is handed in."""
    return make_engine(url) if url else engine_from_settings(Settings())


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    engine = engine_for_cli(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            run_on(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
