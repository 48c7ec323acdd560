"""Operations: JSON logs, Prometheus metrics, and the health/readiness/metrics endpoint.

Every ``kopdes-match run`` process serves, on ``settings.metrics_port`` (0 disables):

- ``GET /healthz``: liveness, 200 while the process's event loop answers;
- ``GET /readyz``: readiness, 200 when NATS is connected, the database answers
  ``SELECT 1`` and none of the process's durable consumers is stalled (messages wait and
  nothing was delivered for ``stall_seconds``), else 503 with the failing check in a JSON
  body;
- ``GET /metrics``: Prometheus text format.

The routes are FastStream's ASGI handlers and prometheus-client's ASGI app on the
pipeline's ``AsgiFastStream`` (``services/app.py``), served by uvicorn on the metrics port
inside the process's event loop (``services/platform/http.py``), from before the broker
connects.

Metrics are counted centrally (consuming, outbox relay), not in each handler, so every
service is covered the same way. Counts are per process; Prometheus sums the replicas.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.types import ASGIApp, Scope
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_asgi_app
from sqlalchemy import Engine, text

from services.platform.http import AsgiServer

log = logging.getLogger(__name__)

# -- metrics -----------------------------------------------------------------------------

EVENTS_CONSUMED = Counter(
    "kopdes_events_consumed",
    "Messages a consumer settled (acknowledged), by durable consumer",
    ["consumer"],
)
EVENTS_RETRIED = Counter(
    "kopdes_events_retried",
    "Messages a consumer handed back for redelivery (failure or database outage)",
    ["consumer"],
)
EVENTS_REFUSED = Counter(
    "kopdes_events_refused",
    "Inputs refused to the dead letter stream, by error type",
    ["error_type"],
)
HANDLER_SECONDS = Histogram(
    "kopdes_handler_seconds",
    "Time to apply one fetched batch in its database transaction(s), by durable consumer",
    ["consumer"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MESSAGES_PUBLISHED = Counter(
    "kopdes_messages_published",
    "Messages the outbox relay published, by subject (partner and cooperative ids left out)",
    ["subject"],
)
SUGGESTIONS_PUBLISHED = Counter(
    "kopdes_suggestions_published", "Match suggestions published (new or re-scored)"
)
SUGGESTIONS_RETRACTED = Counter(
    "kopdes_suggestions_retracted", "Match suggestions retracted, by reason", ["reason"]
)
DECISIONS = Counter("kopdes_decisions", "Coordinators' decisions published", ["decision"])
NOTIFICATIONS = Counter(
    "kopdes_notifications", "Notifications published, by recipient type", ["recipient_type"]
)
CONSUMER_PENDING = Gauge(
    "kopdes_consumer_pending",
    "Messages in the stream not yet delivered to the durable consumer (its lag)",
    ["stream", "consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "kopdes_consumer_ack_pending",
    "Messages delivered to the durable consumer and not yet acknowledged",
    ["stream", "consumer"],
)

CONSUMER_STALLED = Gauge(
    "kopdes_consumer_stalled",
    "1 while messages wait for the durable consumer and it has delivered nothing for the "
    "stall period (KOPDES_STALL_SECONDS), else 0",
    ["stream", "consumer"],
)

_NOTIFY_PREFIX = "kopdes.notify."
_OFFER_PREFIXES = ("kopdes.offer.upserted.", "kopdes.offer.withdrawn.")


def subject_family(subject: str) -> str:
    """The subject without its per-partner or per-cooperative token, for bounded labels."""
    if subject.startswith(_NOTIFY_PREFIX):
        parts = subject.split(".")
        return ".".join(parts[:3]) if len(parts) > 3 else subject
    for prefix in _OFFER_PREFIXES:
        if subject.startswith(prefix):
            return prefix + "*"
    return subject


def count_published(subject: str, payload: bytes | str) -> None:
    """Count one message the outbox relay published; never raises."""
    family = subject_family(subject)
    MESSAGES_PUBLISHED.labels(subject=family).inc()
    try:
        if family == "kopdes.match.suggested":
            SUGGESTIONS_PUBLISHED.inc()
        elif family == "kopdes.match.retracted":
            SUGGESTIONS_RETRACTED.labels(reason=_field(payload, "reason")).inc()
        elif family == "kopdes.match.decided":
            DECISIONS.labels(decision=_field(payload, "decision")).inc()
        elif family == "kopdes.deadletter":
            EVENTS_REFUSED.labels(error_type=_field(payload, "error_type")).inc()
        elif family.startswith(_NOTIFY_PREFIX):
            NOTIFICATIONS.labels(recipient_type=family.removeprefix(_NOTIFY_PREFIX)).inc()
    except Exception:  # metrics must never break publishing
        log.debug("could not count %s", subject, exc_info=True)


def _field(payload: bytes | str, name: str) -> str:
    try:
        value = json.loads(payload).get(name)
    except (ValueError, AttributeError):
        return "unknown"
    return str(value) if value is not None else "unknown"


def count_settled(consumer: str, acked: int, retried: int) -> None:
    if acked:
        EVENTS_CONSUMED.labels(consumer=consumer).inc(acked)
    if retried:
        EVENTS_RETRIED.labels(consumer=consumer).inc(retried)


class StallWatch:
    """Which durable consumers make no progress while messages wait for them.

    Progress is a delivery: JetStream's consumer sequence counts every delivery, a
    redelivery too, so a consumer retrying a poison message with backoff is not stalled
    for longer than its longest retry delay (60 s), while one that stopped fetching, or
    whose every pending acknowledgement hangs, is. Only the consumers this process runs
    (``watched``) make it unready: another process's stall is that process's readiness.
    """

    def __init__(
        self,
        after: float,
        watched: Iterable[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.after = after
        self.watched = frozenset(watched)
        self.clock = clock
        self._seen: dict[tuple[str, str], tuple[int, float]] = {}  # (sequence, since)
        self._stalled: set[str] = set()

    def observe(self, stream: str, durable: str, delivered: int, waiting: int) -> bool:
        """Record one reading of a consumer; True when it is stalled."""
        now = self.clock()
        key = (stream, durable)
        last = self._seen.get(key)
        if waiting == 0 or last is None or last[0] != delivered:
            self._seen[key] = (delivered, now)
            idle, stalled = 0.0, False
        else:
            idle = now - last[1]
            stalled = idle >= self.after
        CONSUMER_STALLED.labels(stream=stream, consumer=durable).set(int(stalled))
        if stalled and durable in self.watched:
            if durable not in self._stalled:
                log.error(
                    "consumer %s on %s has delivered nothing for %.0f s while %d messages wait",
                    durable,
                    stream,
                    idle,
                    waiting,
                )
            self._stalled.add(durable)
        else:
            self._stalled.discard(durable)
        return stalled

    async def check(self) -> str | None:
        if not self._stalled:
            return None
        return f"stalled: {', '.join(sorted(self._stalled))}"


async def refresh_consumer_lag(
    js: Any, streams: Iterable[str], watch: StallWatch | None = None
) -> None:
    """Set the lag gauges from JetStream's view of every durable consumer of the streams."""
    for stream in streams:
        for info in await js.consumers_info(stream):
            durable = info.config.durable_name
            if not durable:  # ephemeral (ordered) consumers of tools and tests
                continue
            CONSUMER_PENDING.labels(stream=stream, consumer=durable).set(info.num_pending)
            CONSUMER_ACK_PENDING.labels(stream=stream, consumer=durable).set(info.num_ack_pending)
            if watch is not None:
                delivered = info.delivered.consumer_seq if info.delivered else 0
                waiting = (info.num_pending or 0) + (info.num_ack_pending or 0)
                watch.observe(stream, durable, delivered or 0, waiting)


async def lag_loop(
    js: Callable[[], Any],
    streams: Iterable[str],
    interval: float,
    watch: StallWatch | None = None,
) -> None:
    names = list(streams)
    while True:
        try:
            await refresh_consumer_lag(js(), names, watch)
        except Exception as exc:  # NATS away: keep the last values, try again
            log.warning("could not refresh consumer lag: %r", exc)
        await asyncio.sleep(interval)


# -- readiness ---------------------------------------------------------------------------

Check = Callable[[], Awaitable[str | None]]  # None when healthy, else what is wrong


def database_check(engine: Engine, timeout: float = 3.0) -> Check:
    def select_one() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    async def check() -> str | None:
        try:
            await asyncio.wait_for(asyncio.to_thread(select_one), timeout)
        except TimeoutError:
            return f"no answer within {timeout}s"
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return None

    return check


def nats_check(is_connected: Callable[[], bool]) -> Check:
    async def check() -> str | None:
        try:
            return None if is_connected() else "not connected"
        except Exception as exc:  # the broker has not connected yet
            return f"not connected ({type(exc).__name__})"

    return check


# -- the HTTP endpoint -------------------------------------------------------------------

_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


async def readiness(checks: dict[str, Check]) -> tuple[int, dict[str, str]]:
    """200 when every check passes, else 503; with each check's finding ("ok" or what)."""
    results = await asyncio.gather(*(check() for check in checks.values()))
    report = {name: problem or "ok" for name, problem in zip(checks, results, strict=True)}
    return (200 if all(r is None for r in results) else 503), report


def ops_routes(checks: dict[str, Check]) -> list[tuple[str, ASGIApp]]:
    """``/healthz``, ``/readyz`` and ``/metrics``, as routes of an ``AsgiFastStream``.

    FastStream's ``get`` answers GET and HEAD (405 otherwise) and the app 404 to any other
    path; prometheus-client's ASGI app serves the metrics (gzip when asked for).
    FastStream's own ``make_ping_asgi`` is not used: it answers 204/500 without saying
    which check failed, and as liveness it would fail while NATS is away, when the process
    is alive and waiting for it (a restart would not help).
    """

    @get(include_in_schema=False)
    async def healthz(scope: Scope) -> AsgiResponse:
        return AsgiResponse(b"ok\n", 200, _TEXT)

    @get(include_in_schema=False)
    async def readyz(scope: Scope) -> AsgiResponse:
        status, report = await readiness(checks)
        body = json.dumps(report).encode() + b"\n"
        return AsgiResponse(body, status, {"Content-Type": "application/json"})

    return [("/healthz", healthz), ("/readyz", readyz), ("/metrics", make_asgi_app(REGISTRY))]


async def serve_ops(app: ASGIApp, host: str, port: int) -> AsgiServer:
    """Serve the health and metrics routes of ``app`` (port 0: any free port).

    Lifespan off: the app may be the pipeline's ``AsgiFastStream``, whose lifespan would
    start the broker; the pipeline starts and stops it itself. The process's logging
    configuration stays in force (no uvicorn logging config); uvicorn logs at warning
    level, so a health check every few seconds writes no access line.
    """
    server = AsgiServer(app, host, port, lifespan="off", graceful_seconds=1.0, log_config=None)
    await server.start()
    log.info("health and metrics on http://%s:%d", host, server.port)
    return server


# -- logs --------------------------------------------------------------------------------

_RECORD_FIELDS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName"}
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra`` fields.

    ``log.info("applied", extra={"event_id": ..., "subject": ...})`` puts those keys at the
    top level, so a log pipeline can search by event id without parsing messages.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    return handler
