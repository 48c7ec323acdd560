"""An in-process pipeline on a real nats-server, with the outputs it publishes collected."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import nats
from sqlmodel import Session

from services.pipeline.app import Pipeline
from services.platform.outbox import unsent as work_left
from services.platform.settings import Settings
from services.platform.topology import consumers_backlog
from tests.support.waiting import eventually


class Harness:
    def __init__(self, settings: Settings, services: Sequence[str] | None = None) -> None:
        self.settings = settings
        self.pipeline = Pipeline(settings, services)
        self.outputs: dict[str, list[dict[str, Any]]] = {}
        self.headers: dict[str, list[dict[str, str]]] = {}

    async def __aenter__(self) -> Harness:
        await self.pipeline.start()
        self.nc = await nats.connect(self.settings.nats_url)
        self.js = self.nc.jetstream()
        for subject in ("kopdes.match.>", "kopdes.deadletter", "kopdes.notify.>"):
            await self.js.subscribe(subject, cb=self._collect, ordered_consumer=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.nc.close()
        await self.pipeline.stop()

    async def _collect(self, msg: Any) -> None:
        self.outputs.setdefault(msg.subject, []).append(json.loads(msg.data))
        self.headers.setdefault(msg.subject, []).append(dict(msg.headers or {}))

    def of(self, subject: str) -> list[dict[str, Any]]:
        return self.outputs.get(subject, [])

    @property
    def suggested(self) -> list[dict[str, Any]]:
        return self.of("kopdes.match.suggested")

    @property
    def retracted(self) -> list[dict[str, Any]]:
        return self.of("kopdes.match.retracted")

    @property
    def dead_letters(self) -> list[dict[str, Any]]:
        return self.of("kopdes.deadletter")

    async def publish(
        self, subject: str, payload: dict[str, Any] | bytes, msg_id: str | None = None
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await self.js.publish(subject, data, headers=headers)

    async def _idle(self) -> bool:
        if await consumers_backlog(self.js):
            return False
        with Session(self.pipeline.runtime.engine) as session:
            return work_left(session) == 0

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every input is acknowledged and every output published and received."""
        await eventually(self._idle, timeout=timeout)
        await asyncio.sleep(0.2)  # let the ordered consumers deliver the last outputs
        await eventually(self._idle, timeout=timeout)
