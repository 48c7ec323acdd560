"""The NATS server restarts while events flow (stopped cleanly, or killed); the service
reconnects by itself: every event applied once, nothing published twice, nothing left
unacknowledged, no dead letter, and no restart of the service.

The server keeps its port and store directory, as a restarted container or systemd unit
does, so the streams, the durable consumers and their acknowledgement state survive. The
publisher (a partner system) retries what it could not publish while the server was away;
its Nats-Msg-Id lets JetStream drop the copies that had been stored after all.
"""

from __future__ import annotations

import asyncio
import signal

import nats
import pytest
from nats.errors import Error as NatsError

from services.demo.synthetic import kalbar_demo
from services.platform.embedded_nats import EmbeddedNats, free_port
from services.platform.publishing import encode_event
from tests.support.processes import assert_applied_once, consumers_ready, settled, start_service
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

DOWN_SECONDS = 2.5


async def publish_retrying(js, subject: str, data: bytes, msg_id: str) -> int:
    """Publish until JetStream acknowledges; returns how many attempts failed."""
    failures = 0
    while True:
        try:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id}, timeout=1)
            return failures
        except (NatsError, TimeoutError, OSError):
            failures += 1
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_nats_server_restarted_mid_stream(stop, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database_url = f"sqlite:///{tmp_path / 'kopdes.db'}"
    server = EmbeddedNats(tmp_path / "nats", port=free_port()).start()
    cooperatives, offers = kalbar_demo(limit=450)
    events = [encode_event(e) for e in (*offers, *cooperatives)]

    # The publisher reconnects forever, like the service; publishes fail meanwhile.
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream()
    service = start_service(server.url, database_url, data_dir, env={"KOPDES_LOG_FORMAT": "json"})
    publish_failures = 0
    try:
        await eventually(lambda: consumers_ready(js), timeout=60)
        before, rest = events[:250], events[250:]
        for subject, data, msg_id in before:
            await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})

        async def mid_stream() -> bool:
            return (await js.stream_info("KOPDES_MATCH")).state.messages >= 20

        # Stopped while the service works through the first events and the rest arrive:
        # triggered by progress, not by time, so that a slow machine stops it mid-stream too.
        await eventually(mid_stream, timeout=60, interval=0.01)
        published = 0

        async def publisher() -> None:
            nonlocal published, publish_failures
            for subject, data, msg_id in rest:
                publish_failures += await publish_retrying(js, subject, data, msg_id)
                published += 1
                if published % 10 == 0:
                    await asyncio.sleep(0.05)  # a steady stream, not one burst

        publishing = asyncio.create_task(publisher())
        assert server.process is not None
        server.process.send_signal(stop)
        server.process.wait(timeout=20)
        await asyncio.sleep(DOWN_SECONDS)
        stopped_at = published
        assert stopped_at < len(rest), "the publisher should be waiting for the server"
        server = EmbeddedNats(tmp_path / "nats", port=server.port).start()

        await asyncio.wait_for(publishing, timeout=90)
        assert publish_failures > 0, "the publisher never noticed the server was away"
        assert published == len(rest)
        await eventually(lambda: settled(js, database_url), timeout=90, interval=0.2)
        assert await settled(js, database_url)
        # Recovered by itself: the same process, still running.
        assert service.poll() is None
        await assert_applied_once(js, database_url, cooperatives, offers)
    finally:
        if service.poll() is None:
            service.terminate()
            service.wait(timeout=30)
        await nc.close()
        server.stop()
