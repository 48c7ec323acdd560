"""SIGKILL the service in the middle of a stream of events, start it again: nothing is
applied twice, nothing is lost, no suggestion is published twice; SIGTERM stops it cleanly."""

from __future__ import annotations

import asyncio
import signal

import nats
import pytest

from services.demo.synthetic import kalbar_demo
from services.pipeline.app import declare_streams
from services.platform.publishing import encode_event
from services.platform.settings import Settings
from tests.support.processes import assert_applied_once, consumers_ready, settled, start_service
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


async def test_sigkill_mid_stream_then_restart(nats_server, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database_url = f"sqlite:///{tmp_path / 'kopdes.db'}"
    cooperatives, offers = kalbar_demo(limit=900)
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()

    # The whole stream is waiting before the service starts, so that it is surely killed
    # in the middle of it, however fast or slow this machine is today.
    await declare_streams(Settings(nats_url=nats_server.url))
    for event in (*offers, *cooperatives):
        subject, data, msg_id = encode_event(event)
        await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})

    service = start_service(nats_server.url, database_url, data_dir)
    try:
        await eventually(lambda: consumers_ready(js), timeout=60)

        async def mid_stream() -> bool:
            matched = (await js.stream_info("KOPDES_MATCH")).state.messages
            ingesting = (await js.consumer_info("KOPDES_INPUT", "ingest-cooperatives")).num_pending
            matching = (await js.consumer_info("KOPDES_INTERNAL", "matcher-61")).num_pending
            return matched >= 30 and (ingesting + matching) > 0

        await eventually(mid_stream, timeout=120, interval=0.01)
        service.send_signal(signal.SIGKILL)
        assert service.wait(timeout=10) == -signal.SIGKILL

        service = start_service(nats_server.url, database_url, data_dir)
        # Consumers drained and outbox empty at once: between a commit and the relay's
        # publish the consumers alone look idle.
        await eventually(lambda: settled(js, database_url), timeout=120, interval=0.2)
        await asyncio.sleep(1.5)  # the relay's last flush
        assert await settled(js, database_url)

        # SIGTERM: a clean stop.
        service.send_signal(signal.SIGTERM)
        assert service.wait(timeout=30) == 0
    finally:
        if service.poll() is None:
            service.kill()

    await assert_applied_once(js, database_url, cooperatives, offers)
    await nc.close()
