"""What every service of one process shares: settings, database engine, broker, outbox relay."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from faststream.nats import NatsBroker
from sqlalchemy import Engine

from services.platform.acks import AckedPublisher
from services.platform.backoff import backoff_delay
from services.platform.consuming import is_transient
from services.platform.database import engine_from_settings
from services.platform.outbox import OutboxRelay
from services.platform.settings import Settings
from services.platform.topology import make_broker
from services.storage.migrate import create_schema

log = logging.getLogger(__name__)


def migrate_when_reachable(engine: Engine, settings: Settings) -> None:
    """Migrate to head (services/storage/migrate.py), waiting for a server still starting.

    Compose starts everything at once and a PostgreSQL failover takes seconds: a service
    that waits is better than one in a crash loop. A SQLite file fails at once (a wrong
    path does not heal by waiting).
    """
    deadline = time.monotonic() + settings.db_start_timeout_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            create_schema(engine)
            return
        except Exception as exc:
            delay = backoff_delay(attempt, 0.5, 5.0)  # 0.5, 1, 2, 4, 5, 5, ... s
            waiting = engine.url.get_backend_name() != "sqlite" and is_transient(exc)
            if not waiting or time.monotonic() + delay > deadline:
                raise
            log.warning("database unavailable at start, retrying in %.1fs: %s", delay, exc)
            time.sleep(delay)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    broker: NatsBroker
    relay: OutboxRelay = field(init=False)
    _publisher: AckedPublisher | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.relay = OutboxRelay(self.engine, self.publish)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = engine_from_settings(settings)
        migrate_when_reachable(engine, settings)
        return cls(settings, engine, make_broker(settings))

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> asyncio.Future[Any]:
        """Start publishing to JetStream: the future is set by the stream's acknowledgement."""
        nc = self.broker.config.connection_state.connection
        if self._publisher is None or self._publisher.nc is not nc:  # connected anew
            self._publisher = AckedPublisher(nc)
        acknowledged: asyncio.Future[Any] = await self._publisher.publish(
            subject, payload, {"Nats-Msg-Id": msg_id, "content-type": "application/json"}
        )
        return acknowledged
