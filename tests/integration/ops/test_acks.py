"""Publishes whose acknowledgements come back as futures, on a real JetStream: each one
settled by its own acknowledgement, an error as soon as the server answers with one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nats.js.api import StreamConfig
from nats.js.errors import APIError, NoStreamResponseError

from services.platform import acks
from services.platform.acks import AckedPublisher
from tests.support.waiting import eventually

# An answer the server sends at once: long enough for a slow machine, far shorter than the
# relay's own wait for an acknowledgement that never comes.
PROMPTLY = 5.0


async def test_each_future_holds_its_own_acknowledgement_in_the_order_sent(nats_client):
    js = nats_client.jetstream()
    await js.add_stream(StreamConfig(name="ACKED", subjects=["acked.>"]))
    publisher = AckedPublisher(nats_client)

    futures = [
        await publisher.publish(f"acked.{n % 3}", b"{}", {"Nats-Msg-Id": f"m-{n}"})
        for n in range(600)
    ]
    again = await publisher.publish("acked.0", b"{}", {"Nats-Msg-Id": "m-5"})
    acks: list[dict[str, Any]] = await asyncio.wait_for(asyncio.gather(*futures, again), PROMPTLY)

    assert [a["seq"] for a in acks[:-1]] == list(range(1, 601))
    assert {a["stream"] for a in acks} == {"ACKED"}
    assert acks[-1]["duplicate"] is True and acks[-1]["seq"] == 6
    assert (await js.stream_info("ACKED")).state.messages == 600


async def test_a_subject_no_stream_takes_fails_at_once(nats_client):
    publisher = AckedPublisher(nats_client)
    future = await publisher.publish("nowhere.a", b"{}", {"Nats-Msg-Id": "lost-1"})

    with pytest.raises(NoStreamResponseError):
        await asyncio.wait_for(future, PROMPTLY)


async def test_an_error_the_stream_answers_with_fails_the_publish_at_once(nats_client):
    js = nats_client.jetstream()
    await js.add_stream(StreamConfig(name="SMALL", subjects=["small.>"], max_msg_size=64))
    publisher = AckedPublisher(nats_client)

    too_big = await publisher.publish("small.a", b"x" * 1000, {"Nats-Msg-Id": "big-1"})
    fits = await publisher.publish("small.a", b"{}", {"Nats-Msg-Id": "small-1"})

    with pytest.raises(APIError, match="maximum"):
        await asyncio.wait_for(too_big, PROMPTLY)
    assert (await asyncio.wait_for(fits, PROMPTLY))["seq"] == 1


async def test_replies_come_to_the_connections_own_inbox_prefix(nats_server):
    import nats

    nc = await nats.connect(nats_server.url, inbox_prefix="_INBOX_partner-x")
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="OWN", subjects=["own.>"]))
        seen: list[str] = []

        async def note(msg: Any) -> None:
            seen.append(msg.subject)

        spy = await nc.subscribe("_INBOX_partner-x.>", cb=note)
        ack = await AckedPublisher(nc).publish("own.a", b"{}", {"Nats-Msg-Id": "own-1"})

        assert (await asyncio.wait_for(ack, PROMPTLY))["seq"] == 1
        await eventually(lambda: seen)
        await spy.unsubscribe()
        assert len(seen) == 1  # the acknowledgement, on an inbox a partner may read
    finally:
        await nc.close()


async def test_publishes_given_up_on_are_forgotten(nats_client, monkeypatch):
    # A subscriber that never answers: no acknowledgement, no "no responders" either. The
    # relay cancels what is not acknowledged in time; those futures must not pile up.
    monkeypatch.setattr(acks, "PURGE_AT", 10)
    silent = await nats_client.subscribe("silent.>", cb=_ignore)
    publisher = AckedPublisher(nats_client)
    for n in range(50):
        future = await publisher.publish("silent.a", b"{}", {"Nats-Msg-Id": f"s-{n}"})
        future.cancel()

    assert publisher.waiting <= 11
    await silent.unsubscribe()


async def _ignore(msg: Any) -> None:
    return None
