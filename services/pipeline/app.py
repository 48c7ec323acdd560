"""Assembling the services of one process into a FastStream application."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import Callable, Sequence

import nats
from faststream.asgi import AsgiFastStream
from faststream.specification import AsyncAPI

from schemas import DeadLetter, MatchRetracted, MatchSuggestion, subjects
from services.platform.http import AsgiServer
from services.platform.observability import (
    Check,
    StallWatch,
    database_check,
    lag_loop,
    nats_check,
    ops_routes,
    serve_ops,
)
from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.platform.settings import Settings
from services.platform.topology import STREAMS, ensure_streams

log = logging.getLogger(__name__)

# How long each stage of a shutdown may take before the process stops without it: the
# consumers 2x, the last outbox flush 1x, the handlers' threads 1x (``run``): 40 s in all,
# the stop_grace_period of docker-compose.yml.
STOP_TIMEOUT_SECONDS = 10.0
CONSUMERS_STOP_SECONDS = 2 * STOP_TIMEOUT_SECONDS

# Every service by name, in start order, with its factory as "module:function";
# `kopdes-match run NAME` runs one of them alone. A process imports only the stages it
# runs: the dashboard's web stack alone is ~80 MiB a matcher process has no use for.
SERVICE_FACTORIES: dict[str, str] = {
    "ingest": "services.ingest.service:ingest_service",
    "matcher": "services.matching.service:matcher_service",
    "review": "services.pipeline.dashboard:review_service",  # with notify's pages
    "notify": "services.notify.service:notify_service",
}


def service_factory(name: str) -> Callable[[Runtime], ServiceParts]:
    module, _, function = SERVICE_FACTORIES[name].partition(":")
    factory: Callable[[Runtime], ServiceParts] = getattr(importlib.import_module(module), function)
    return factory


async def declare_streams(settings: Settings) -> None:
    nc = await nats.connect(settings.nats_servers, name="kopdes-match-setup")
    try:
        await ensure_streams(nc.jetstream(), settings)
    finally:
        await nc.close()


def _document_outputs(runtime: Runtime) -> None:
    # Suggestions, retractions and dead letters leave through the outbox relay; these
    # declarations put them in the generated AsyncAPI document beside the consumers.
    for subject, schema, text in (
        (subjects.MATCH_SUGGESTED, MatchSuggestion, "A cooperative suggested for an offer"),
        (subjects.MATCH_RETRACTED, MatchRetracted, "A suggestion withdrawn by the service"),
        (subjects.DEADLETTER, DeadLetter, "An input the service could not accept, and why"),
    ):
        runtime.broker.publisher(subject, schema=schema, title=subject, description=text)


class Pipeline:
    """The chosen services of one process, with their background tasks."""

    def __init__(self, settings: Settings, services: Sequence[str] | None = None) -> None:
        names = tuple(services or SERVICE_FACTORIES)
        unknown = set(names) - set(SERVICE_FACTORIES)
        if unknown:
            raise ValueError(
                f"unknown service(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(SERVICE_FACTORIES)}"
            )
        self.settings = settings
        self.runtime = Runtime.create(settings)
        self.parts = {name: service_factory(name)(self.runtime) for name in names}
        for part in self.parts.values():
            for router in part.routers:
                self.runtime.broker.include_router(router)
        _document_outputs(self.runtime)
        durables = {
            name
            for subscriber in self.runtime.broker.subscribers
            if (name := getattr(getattr(subscriber, "config", None), "durable_name", None))
        }
        durables.update(name for part in self.parts.values() for name in part.durables)
        self.stalls = StallWatch(settings.stall_seconds, durables)
        # The FastStream app is also the ASGI app of /healthz, /readyz and /metrics, served
        # on the metrics port (``_start_ops``).
        self.app = AsgiFastStream(
            self.runtime.broker, asgi_routes=ops_routes(self._checks()), logger=log
        )
        self.app.on_startup(self._before_start)
        self.app.after_startup(self._after_start)
        self.app.on_shutdown(self._before_stop)
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self.ops: AsgiServer | None = None

    def handle(self, name: str) -> object:
        return self.parts[name].handle

    def _checks(self) -> dict[str, Check]:
        """What /readyz asks: started, NATS connected, the database answers, none stalled."""
        broker = self.runtime.broker

        async def started() -> str | None:
            return None if self._started else "starting"

        return {
            "started": started,
            "nats": nats_check(lambda: broker.connection.is_connected),
            "database": database_check(self.runtime.engine),
            "consumers": self.stalls.check,
        }

    async def _start_ops(self) -> None:
        """Health and metrics endpoint: live from the start, ready once consuming."""
        if not self.settings.metrics_port or self.ops is not None:
            return
        try:
            self.ops = await serve_ops(
                self.app, self.settings.metrics_host, self.settings.metrics_port
            )
        except OSError as exc:  # e.g. the port is taken: run without the endpoint
            log.error("health and metrics endpoint not started: %s", exc)

    async def _before_start(self) -> None:
        await self._start_ops()
        await declare_streams(self.settings)
        for part in self.parts.values():
            for step in part.on_start:
                await step()

    async def _after_start(self) -> None:
        relay = self.runtime.relay
        self._tasks.append(asyncio.create_task(relay.run(self.settings.outbox_poll_seconds)))
        relay.wake()  # publish what a previous run committed but did not send
        for part in self.parts.values():
            self._tasks.extend(asyncio.create_task(task()) for task in part.background)
        if self.ops is not None:
            broker = self.runtime.broker
            streams = [spec.name for spec in STREAMS]
            lag = lag_loop(
                lambda: broker.config.connection_state.stream,
                streams,
                self.settings.lag_refresh_seconds,
                self.stalls,
            )
            self._tasks.append(asyncio.create_task(lag))
        self._started = True

    async def _before_stop(self) -> None:
        self._started = False
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a background task that ignores its cancellation must not hold the
            # process up (an orchestrator would SIGKILL it and lose the clean stop).
            _, pending = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_SECONDS)
            for task in pending:
                log.error("background task %s did not stop in time", task.get_coro())
        self._tasks.clear()

    async def start(self) -> None:
        await self.app.start()

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.app.stop(), timeout=CONSUMERS_STOP_SECONDS)
        except TimeoutError:
            log.error(
                "the consumers did not stop within %.0f s; stopping anyway",
                CONSUMERS_STOP_SECONDS,
            )
        # What is left is published at the next start; a broker that is away must not hold
        # the stop up.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.runtime.relay.flush(), timeout=STOP_TIMEOUT_SECONDS)
        if self.ops is not None:
            await self.ops.stop()
            self.ops = None
        self.runtime.engine.dispose()

    async def __aenter__(self) -> Pipeline:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def asyncapi_document() -> AsyncAPI:
    # Fixed values, not the environment: the committed document must not vary by machine.
    pipeline = Pipeline(Settings(nats_url="nats://localhost:4222", database_url="sqlite://"))
    importlib.import_module("services.ingest.service").document_inputs(pipeline.runtime.broker)
    return AsyncAPI(
        pipeline.runtime.broker,
        title="kopdes-match",
        version="1.0.0",
        description=(
            "Matchmaking between village cooperatives (Koperasi Desa/Kelurahan Merah Putih) "
            "and their partners: event contract v1 (see CONTRACT.md)."
        ),
    )
