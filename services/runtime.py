"""What every service of one process shares: settings, database engine, broker, outbox relay."""

from __future__ import annotations

from dataclasses import dataclass, field

from faststream.nats import NatsBroker
from sqlalchemy import Engine

from services.outbox import OutboxRelay
from services.settings import Settings
from services.storage.db import create_schema, engine_from_settings
from services.topology import make_broker


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    broker: NatsBroker
    relay: OutboxRelay = field(init=False)

    def __post_init__(self) -> None:
        self.relay = OutboxRelay(self.engine, self.publish)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = engine_from_settings(settings)
        create_schema(engine)  # migrations to head (services/storage/migrate.py)
        return cls(settings, engine, make_broker(settings))

    async def publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        js = self.broker.config.connection_state.stream
        await js.publish(
            subject,
            payload,
            headers={"Nats-Msg-Id": msg_id, "content-type": "application/json"},
        )
