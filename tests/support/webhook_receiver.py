"""A real HTTP receiver on loopback for webhook tests, scripted answer by answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # The default backlog (5) resets connections when the worker sends in parallel.
    request_queue_size = 256
    daemon_threads = True


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int  # the status sent back; 0 when the receiver never answered


@dataclass
class Receiver:
    """Answers each POST with the next scripted behaviour: an HTTP status, or "hang"
    (hold the request without answering); after the script, ``then``."""

    script: list[int | str] = field(default_factory=list)
    then: int | str = 200
    hang_seconds: float = 5.0
    body: bytes = b"ok"  # what every answer carries
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    action = receiver.script.pop(0) if receiver.script else receiver.then
                headers = {k.lower(): v for k, v in self.headers.items()}
                if action == "hang":
                    receiver.received.append(Received(headers, body, 0))
                    time.sleep(receiver.hang_seconds)
                    return
                status = int(action)
                receiver.received.append(Received(headers, body, status))
                self.send_response(status)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args: object) -> None:
                pass

        self._lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/kopdes"

    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.answered < 300]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
