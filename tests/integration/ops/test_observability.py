"""Operations: metrics that move with real events, readiness, and JSON logs with event ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Any

import nats
from faststream.asgi import AsgiFastStream
from prometheus_client.parser import text_string_to_metric_families

from services.ingest.service import Ingest
from services.platform.embedded_nats import EmbeddedNats, free_port
from services.platform.http import AsgiServer
from services.platform.observability import (
    Check,
    JsonFormatter,
    StallWatch,
    database_check,
    nats_check,
    ops_routes,
    serve_ops,
    subject_family,
)
from services.platform.settings import Settings
from services.storage.db import make_engine
from tests.support import builders
from tests.support.harness import Harness
from tests.support.waiting import eventually

COOPS = "kopdes.cooperative.upserted"
BRI_OFFERS = "kopdes.offer.upserted.bri"


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


async def get(port: int, path: str) -> tuple[int, str, str]:
    # The server runs on this event loop: the blocking client must not.
    return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}{path}")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: dict[Any, float], name: str, **labels: str) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


async def ops_alone(checks: dict[str, Check]) -> AsgiServer:
    """The endpoint without a pipeline: the routes on an app of their own, any free port."""
    return await serve_ops(AsgiFastStream(asgi_routes=ops_routes(checks)), "127.0.0.1", 0)


def with_ops(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_port": free_port(), "lag_refresh_seconds": 0.2})


async def test_metrics_move_with_consumed_refused_and_published_events(settings: Settings) -> None:
    settings = with_ops(settings)
    async with Harness(settings) as h:
        port = settings.metrics_port
        status, ctype, text = await get(port, "/metrics")
        assert status == 200
        assert ctype.startswith("text/plain")
        before = samples(text)

        await h.publish(COOPS, builders.profile(), msg_id="coop-1")
        await h.publish(BRI_OFFERS, builders.offer(), msg_id="offer-1")
        await h.publish(BRI_OFFERS, b"{not json", msg_id="bad-1")
        await h.settle()
        assert h.suggested and len(h.dead_letters) == 1

        def moved(metrics: dict[Any, float], name: str, **labels: str) -> float:
            return value(metrics, name, **labels) - value(before, name, **labels)

        async def all_counted() -> dict[Any, float] | None:
            # A batch is counted once its acks are sent, which can be after the matcher's
            # suggestion reached the harness: wait for the counts (at least) and the lag
            # gauges, then check the exact figures below.
            now = samples((await get(port, "/metrics"))[2])
            key = (
                "kopdes_consumer_pending",
                frozenset({("stream", "KOPDES_INPUT"), ("consumer", "ingest-offers")}),
            )
            counted = (
                moved(now, "kopdes_events_consumed_total", consumer="ingest-cooperatives") >= 1
                and moved(now, "kopdes_events_consumed_total", consumer="ingest-offers") >= 2
                and moved(now, "kopdes_events_consumed_total", consumer="matcher-61") >= 2
            )
            return now if key in now and counted else None

        after = await eventually(all_counted, timeout=10)

    def delta(name: str, **labels: str) -> float:
        return moved(after, name, **labels)

    assert delta("kopdes_events_consumed_total", consumer="ingest-cooperatives") == 1
    assert delta("kopdes_events_consumed_total", consumer="ingest-offers") == 2  # bad one too
    # The province's matcher consumer (Kalimantan Barat): a profile and an offer.
    assert delta("kopdes_events_consumed_total", consumer="matcher-61") == 2
    error_type = h.dead_letters[0]["error_type"]
    assert delta("kopdes_events_refused_total", error_type=error_type) == 1
    assert delta("kopdes_messages_published_total", subject="kopdes.deadletter") == 1
    assert delta("kopdes_suggestions_published_total") == len(h.suggested)
    assert delta("kopdes_messages_published_total", subject="kopdes.match.suggested") == len(
        h.suggested
    )
    assert delta("kopdes_handler_seconds_count", consumer="ingest-offers") >= 1
    assert delta("kopdes_handler_seconds_count", consumer="matcher-61") >= 1
    assert (
        value(after, "kopdes_consumer_pending", stream="KOPDES_INPUT", consumer="ingest-offers")
        == 0
    )
    assert (
        value(after, "kopdes_consumer_ack_pending", stream="KOPDES_INTERNAL", consumer="matcher")
        == 0
    )


async def test_health_and_readiness_follow_nats(
    settings: Settings, nats_server: EmbeddedNats
) -> None:
    settings = with_ops(settings)
    async with Harness(settings) as h:
        port = settings.metrics_port
        assert await get(port, "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")
        status, ctype, body = await get(port, "/readyz")
        assert (status, ctype) == (200, "application/json")
        assert json.loads(body) == {
            "started": "ok",
            "nats": "ok",
            "database": "ok",
            "consumers": "ok",
        }
        assert (await get(port, "/nowhere"))[0] == 404

        # NATS goes away: still alive, no longer ready; back again: ready again.
        nats_server.stop()

        async def readiness() -> tuple[int, dict[str, str]]:
            status, _, body = await get(port, "/readyz")
            return status, json.loads(body)

        status, report = await eventually(
            lambda: _when(readiness(), lambda r: r[0] == 503), timeout=15
        )
        assert report["nats"] == "not connected" and report["database"] == "ok"
        assert (await get(port, "/healthz"))[0] == 200
        nats_server.start()
        await eventually(lambda: _when(readiness(), lambda r: r[0] == 200), timeout=30)
        await h.nc.close()  # the harness's own client gave up on the old server


async def _when(awaitable: Any, ok: Any) -> Any:
    result = await awaitable
    return result if ok(result) else None


async def test_readiness_is_503_when_the_database_is_dead(nats_server: EmbeddedNats) -> None:
    # Nothing listens on port 1: the URL of a database that is down.
    dead = make_engine("postgresql://postgres@127.0.0.1:1/kopdes?connect_timeout=2")
    nc = await nats.connect(nats_server.url)
    ops = await ops_alone(
        {"nats": nats_check(lambda: nc.is_connected), "database": database_check(dead)}
    )
    try:
        status, ctype, body = await get(ops.port, "/readyz")
        assert (status, ctype) == (503, "application/json")
        report = json.loads(body)
        assert report["nats"] == "ok"
        assert report["database"].startswith("OperationalError")
        assert (await get(ops.port, "/healthz"))[0] == 200
    finally:
        await ops.stop()
        await nc.close()
        dead.dispose()


async def test_json_log_lines_carry_the_event_id(settings: Settings) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        async with Harness(settings) as h:
            await h.publish(BRI_OFFERS, b"\xff\xfe not utf-8", msg_id="bad-offer-42")
            await h.settle()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(e) for e in lines)
    refused = [e for e in lines if e.get("event_id") == "bad-offer-42"]
    assert refused, lines
    entry = refused[0]
    assert entry["subject"] == BRI_OFFERS
    assert entry["consumer"] == "ingest-offers"
    assert entry["error_type"] == h.dead_letters[0]["error_type"]
    assert entry["level"] == "INFO" and entry["logger"] == "services.ingest.service"


def test_json_formatter_keeps_extras_and_exceptions() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("a",), None)
    record.msg_id = "m-1"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed a"
    assert entry["msg_id"] == "m-1"
    assert "ValueError: boom" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_subject_families_leave_out_ids() -> None:
    assert subject_family("kopdes.notify.partner.bri") == "kopdes.notify.partner"
    assert subject_family("kopdes.notify.cooperative.KDMP-1") == "kopdes.notify.cooperative"
    assert subject_family("kopdes.offer.upserted.bri") == "kopdes.offer.upserted.*"
    assert subject_family("kopdes.match.decided") == "kopdes.match.decided"


async def test_health_command_exits_0_when_ready_and_1_when_not(nats_server: EmbeddedNats) -> None:
    from typer.testing import CliRunner

    from services.cli import app

    nc = await nats.connect(nats_server.url)
    connected = {"nats": True}
    ops = await ops_alone({"nats": nats_check(lambda: connected["nats"] and nc.is_connected)})
    runner = CliRunner()
    url = f"http://127.0.0.1:{ops.port}/readyz"
    try:
        ok = await asyncio.to_thread(runner.invoke, app, ["health", "--url", url])
        assert ok.exit_code == 0, ok.output
        connected["nats"] = False
        down = await asyncio.to_thread(runner.invoke, app, ["health", "--url", url])
        assert down.exit_code == 1
        assert "503" in down.output
    finally:
        await ops.stop()
        await nc.close()
    gone = await asyncio.to_thread(runner.invoke, app, ["health", "--url", url])
    assert gone.exit_code == 1


def test_migrate_creates_the_tables(database_url: str) -> None:
    from sqlalchemy import inspect
    from sqlmodel import SQLModel
    from typer.testing import CliRunner

    from services.cli import app

    result = CliRunner().invoke(app, ["migrate", "--database-url", database_url])
    assert result.exit_code == 0, result.output
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables  # every table of the models


def test_a_consumer_is_stalled_only_while_messages_wait_without_deliveries() -> None:
    now = [0.0]
    watch = StallWatch(after=60, watched={"ingest-offers"}, clock=lambda: now[0])
    assert not watch.observe("KOPDES_INPUT", "ingest-offers", delivered=5, waiting=3)
    now[0] = 59
    assert not watch.observe("KOPDES_INPUT", "ingest-offers", delivered=5, waiting=3)
    now[0] = 61
    assert watch.observe("KOPDES_INPUT", "ingest-offers", delivered=5, waiting=3)
    assert asyncio.run(watch.check()) == "stalled: ingest-offers"
    # Another process's consumer shows in the metric but not in this process's readiness.
    assert not watch.observe("KOPDES_MATCH", "notify", delivered=1, waiting=1)
    now[0] = 200
    assert watch.observe("KOPDES_MATCH", "notify", delivered=1, waiting=1)
    assert asyncio.run(watch.check()) == "stalled: ingest-offers"
    # A redelivery is progress; so is having nothing to do.
    assert not watch.observe("KOPDES_INPUT", "ingest-offers", delivered=6, waiting=3)
    assert asyncio.run(watch.check()) is None
    now[0] = 400
    assert not watch.observe("KOPDES_INPUT", "ingest-offers", delivered=6, waiting=0)


async def test_readiness_turns_503_while_a_consumer_is_stuck(
    settings: Settings, monkeypatch: Any
) -> None:
    release = threading.Event()
    process = Ingest.process

    def stuck_on_offers(self: Ingest, deliveries: list[Any], *args: Any) -> Any:
        if deliveries[0].subject == BRI_OFFERS:
            release.wait(30)  # a handler that hangs (a lock, a dead socket, ...)
        return process(self, deliveries, *args)

    monkeypatch.setattr(Ingest, "process", stuck_on_offers)
    settings = with_ops(settings).model_copy(update={"stall_seconds": 1.0})
    async with Harness(settings) as h:
        port = settings.metrics_port
        try:
            await h.publish(BRI_OFFERS, builders.offer())
            await h.publish(BRI_OFFERS, builders.offer(offer_id="second"))

            async def unready() -> dict[str, str] | None:
                status, _, body = await get(port, "/readyz")
                return json.loads(body) if status == 503 else None

            report = await eventually(unready, timeout=15)
            assert report["consumers"] == "stalled: ingest-offers"
            assert report["database"] == "ok" and report["nats"] == "ok"
            metrics = samples((await get(port, "/metrics"))[2])
            stalled = "kopdes_consumer_stalled"
            assert value(metrics, stalled, stream="KOPDES_INPUT", consumer="ingest-offers") == 1
            assert (
                value(metrics, stalled, stream="KOPDES_INPUT", consumer="ingest-cooperatives") == 0
            )
        finally:
            release.set()

        async def ready() -> bool:
            return (await get(port, "/readyz"))[0] == 200

        await eventually(ready, timeout=15)
        await h.settle()


async def test_the_endpoint_answers_get_and_head_only() -> None:
    ops = await ops_alone({})
    try:

        def ask(method: str, path: str) -> tuple[int, bytes]:
            request = urllib.request.Request(f"http://127.0.0.1:{ops.port}{path}", method=method)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as error:
                return error.code, error.read()

        assert await asyncio.to_thread(ask, "HEAD", "/healthz") == (200, b"")
        assert (await asyncio.to_thread(ask, "POST", "/readyz"))[0] == 405
        assert await asyncio.to_thread(ask, "GET", "/readyz") == (200, b"{}\n")
        assert (await asyncio.to_thread(ask, "GET", "/healthz?probe=1"))[0] == 200
    finally:
        await ops.stop()
