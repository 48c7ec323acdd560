"""A webhook receiver on loopback that checks signatures: for the demo and for trying out.

It shows what a partner's system does with a delivery: verify ``X-Kopdes-Signature`` with
the endpoint's secret, de-duplicate by ``X-Kopdes-Delivery-Id``, answer 2xx.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.notify.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, verify


class _Server(ThreadingHTTPServer):
    # The default backlog (5) resets connections when the worker sends in parallel.
    request_queue_size = 256
    daemon_threads = True


@dataclass
class Delivered:
    delivery_id: str
    body: bytes
    signature_valid: bool


# The receiver's host: webhooks reach it only because the demo allows it
# (KOPDES_WEBHOOK_ALLOWED_HOSTS); every other loopback address stays refused.
LOOPBACK = "127.0.0.1"


@dataclass
class LoopbackReceiver:
    # The secret of each recipient's endpoint (by recipient_id), else ``secret``.
    secret: str = ""
    secrets: dict[str, str] = field(default_factory=dict)
    on_delivery: Callable[[Delivered], None] | None = None
    received: list[Delivered] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    recipient = str(json.loads(body).get("recipient_id", ""))
                except (ValueError, AttributeError):
                    recipient = ""
                secret = receiver.secrets.get(recipient, receiver.secret)
                delivery_id = self.headers.get(DELIVERY_HEADER, "")
                valid = verify(secret, body, self.headers.get(SIGNATURE_HEADER, ""), delivery_id)
                with receiver._lock:
                    new = delivery_id not in {d.delivery_id for d in receiver.received}
                    if new:
                        got = Delivered(delivery_id, body, valid)
                        receiver.received.append(got)
                if new and receiver.on_delivery is not None:
                    receiver.on_delivery(got)
                self.send_response(204 if valid else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._lock = threading.Lock()
        self.server = _Server((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}/kopdes/notifikasi"

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
