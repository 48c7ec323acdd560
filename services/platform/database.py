"""The database engine of a service or command, built from its settings.

Here rather than in ``services/storage``: storage takes plain values (``make_engine``) and
stands on nothing of ours; reading them from ``Settings`` is the platform's part.
"""

from __future__ import annotations

from sqlalchemy import Engine

from services.platform.settings import Settings
from services.storage.db import make_engine


def engine_from_settings(settings: Settings) -> Engine:
    """The engine of a service or command: the database and pool settings applied."""
    return make_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
        busy_timeout=settings.db_busy_timeout_seconds,
    )
