"""A webhook receiver on loopback that checks signatures: for the demo and for trying out.

It shows what a partner's system does with a delivery: verify ``X-Kopdes-Signature`` with
the endpoint's secret, de-duplicate by ``X-Kopdes-Delivery-Id``, answer 2xx.
"""

from __future__ import annotations

import threading
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


@dataclass
class LoopbackReceiver:
    secret: str = ""
    received: list[Delivered] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                valid = verify(receiver.secret, body, self.headers.get(SIGNATURE_HEADER, ""))
                delivery_id = self.headers.get(DELIVERY_HEADER, "")
                seen = {d.delivery_id for d in receiver.received}
                if delivery_id not in seen:
                    receiver.received.append(Delivered(delivery_id, body, valid))
                self.send_response(204 if valid else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/kopdes/notifikasi"

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
