"""Publishing to JetStream without waiting: each publish returns a future that the stream's
acknowledgement settles.

nats-py's ``publish_async`` does the same, at a cost measured in a loading matcher (py-spy,
national set, 919dd59): 9.0 % of its samples went into ``publish_async`` and 2.5 % into
handling the acknowledgements, of which a ``secrets.token_hex`` per message (an OS random
call, 3.2 %), an ``asyncio.wait_for`` on a semaphore bounding what is in flight (2.9 %) and
a ``PubAck`` dataclass built per acknowledgement (1.1 %). The outbox relay bounds what is in
flight itself (a chunk) and reads nothing of an acknowledgement but whether it came and
holds no error, so here a counter names each reply and an acknowledgement is its JSON.
An error the stream answers with (a message larger than it takes, say) fails the future at
once; nats-py's handler raised it inside its callback and left the future to time out.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.errors import APIError, NoStreamResponseError

# The status of a request that no stream took (no responders).
NO_RESPONDERS = "503"
# Futures nobody settled (cancelled after their timeout) are dropped past this many.
PURGE_AT = 10_000


class AckedPublisher:
    """Publishes on one connection; replies come to one inbox subscription of its own."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self._prefix = ""
        self._subscribing = asyncio.Lock()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._purge_at = PURGE_AT
        self._sent = 0

    @property
    def waiting(self) -> int:
        """Publishes whose future is kept for an acknowledgement (cancelled ones included
        until the next purge)."""
        return len(self._waiting)

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str]
    ) -> asyncio.Future[dict[str, Any]]:
        """Send the message; the future holds the acknowledgement (``stream``, ``seq``,
        ``duplicate``) or the error the server answered with."""
        if not self._prefix:
            await self._subscribe()
        self._sent += 1
        token = str(self._sent)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        try:
            await self.nc.publish(subject, payload, reply=self._prefix + token, headers=headers)
        except BaseException:
            del self._waiting[token]
            raise
        if len(self._waiting) > self._purge_at:
            self._waiting = {t: f for t, f in self._waiting.items() if not f.done()}
            # Many still waiting (a broker that answers nothing): not a purge per publish.
            self._purge_at = max(PURGE_AT, 2 * len(self._waiting))
        return future

    async def _subscribe(self) -> None:
        # Once, before the first publish leaves: a reply must find the subscription.
        async with self._subscribing:
            if not self._prefix:
                prefix = self.nc.new_inbox() + "."
                await self.nc.subscribe(prefix + "*", cb=self._reply)
                self._prefix = prefix

    async def _reply(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject[len(self._prefix) :], None)
        if future is None or future.done():  # cancelled: its publisher gave up waiting
            return
        if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
            future.set_exception(NoStreamResponseError())
            return
        try:
            ack = json.loads(msg.data)
        except ValueError as exc:
            future.set_exception(exc)
            return
        error = ack.get("error")
        if not error:
            future.set_result(ack)
            return
        try:  # raises the error's class (nats-py's own handler lets it escape, unsettled)
            APIError.from_error(error)
        except APIError as exc:
            future.set_exception(exc)
