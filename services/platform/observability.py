"""Operations: JSON logs, Prometheus metrics, and the health/readiness/metrics endpoint.

Every ``kopdes-match run`` process serves, on ``settings.metrics_port`` (0 disables):

- ``GET /healthz``: liveness, 200 while the process's event loop answers;
- ``GET /readyz``: readiness, 200 when NATS is connected, the database answers
  ``SELECT 1`` and none of the process's durable consumers is stalled (messages wait and
  nothing was delivered for ``stall_seconds``), else 503 with the failing check in a JSON
  body;
- ``GET /metrics``: Prometheus text format.

The server is a few lines of asyncio rather than a web framework: it has three fixed
routes, answers in microseconds, and must keep working when everything else is unwell.

Metrics are counted centrally (consuming, outbox relay), not in each handler, so every
service is covered the same way. Counts are per process; Prometheus sums the replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from sqlalchemy import Engine, text

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

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class OpsServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on one port, HTTP/1.0 style (close after)."""

    def __init__(self, checks: dict[str, Check], host: str = "0.0.0.0", port: int = 9100) -> None:
        self.checks = checks
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> OpsServer:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health and metrics on http://%s:%d", self.host, self.port)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def readiness(self) -> tuple[int, dict[str, str]]:
        results = await asyncio.gather(*(check() for check in self.checks.values()))
        report = {name: problem or "ok" for name, problem in zip(self.checks, results, strict=True)}
        return (200 if all(r is None for r in results) else 503), report

    async def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        path = path.split("?", 1)[0]
        if path not in ("/healthz", "/readyz", "/metrics"):
            return 404, "text/plain; charset=utf-8", b"not found\n"
        if method not in ("GET", "HEAD"):
            return 405, "text/plain; charset=utf-8", b"only GET\n"
        if path == "/healthz":
            return 200, "text/plain; charset=utf-8", b"ok\n"
        if path == "/readyz":
            status, report = await self.readiness()
            return status, "application/json", json.dumps(report).encode() + b"\n"
        return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            while (line := await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n"):
                if not line:
                    break
            parts = request.decode("latin-1").split()
            if len(parts) < 2:
                status, ctype, body = 400, "text/plain", b"bad request\n"
            else:
                status, ctype, body = await self.respond(parts[0].upper(), parts[1])
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Bad Request')}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            )
            writer.write(head.encode() + (b"" if parts[:1] == ["HEAD"] else body))
            await writer.drain()
        except Exception as exc:  # a broken client must not disturb the service
            log.debug("ops request failed: %r", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


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
