"""Serving an ASGI app with uvicorn inside the process's own event loop.

Two things differ from ``uvicorn.run``: the socket is bound here, so a taken port is an
``OSError`` the caller handles (uvicorn would exit the whole process: ``SystemExit`` out of
the event loop) and port 0 gives the port actually bound; and the process
(``kopdes-match run``) keeps SIGINT/SIGTERM for itself, to stop the pipeline in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from typing import Any, Literal

import uvicorn

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process owns the signals and stops the servers itself.
        yield


class AsgiServer:
    """One ASGI app on one address, from ``start`` until ``stop`` (or cancellation of ``run``)."""

    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        lifespan: Literal["auto", "on", "off"] = "auto",
        graceful_seconds: float = 5.0,
        log_config: dict[str, Any] | None = uvicorn.config.LOGGING_CONFIG,
    ) -> None:
        self.host = host
        self.port = port
        self.config = uvicorn.Config(
            app,
            log_level="warning",
            log_config=log_config,
            proxy_headers=False,
            lifespan=lifespan,
            # Open keep-alive connections must not hold a shutdown up.
            timeout_graceful_shutdown=int(graceful_seconds),
        )
        self.graceful_seconds = graceful_seconds
        self._server = _Server(self.config)
        self._socket: socket.socket | None = None
        self._task: asyncio.Future[None] | None = None

    async def start(self) -> AsgiServer:
        """Listen (``OSError`` when the address is taken), then serve in the background."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._socket = socket.create_server((self.host, self.port), family=family)
        self.port = self._socket.getsockname()[1]
        # Connections made from here on wait in the socket's backlog until uvicorn accepts.
        self._task = asyncio.ensure_future(self._server.serve(sockets=[self._socket]))
        return self

    async def run(self) -> None:
        """Serve until the server ends or this task is cancelled (then stop it cleanly)."""
        assert self._task is not None, "start() first"
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            await self.stop()
            raise
        finally:
            self._close_socket()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            self._server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(task), self.graceful_seconds + 1)
            except TimeoutError:
                self._server.force_exit = True
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            except Exception as exc:  # a failed server must not fail the stop
                log.debug("ASGI server on port %d ended with %r", self.port, exc)
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
