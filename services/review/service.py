"""The ``review`` service: the dashboard and API served by uvicorn inside the pipeline's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.platform.settings import Settings
from services.review.web import create_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process (``kopdes-match run``) owns SIGINT/SIGTERM and stops the pipeline,
        # which cancels this task; uvicorn must not take the signals for itself.
        yield


def review_service(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    # Built when served: creating the app may write the session key into the data folder,
    # which merely assembling a pipeline (e.g. for the AsyncAPI document) must not do.
    parts = ServiceParts("review")

    async def serve() -> None:
        app = create_app(runtime)
        log.info("review dashboard on %s", dashboard_url(settings))
        config = uvicorn.Config(
            app,
            host=settings.web_host,
            port=settings.web_port,
            log_level="warning",
            proxy_headers=False,
            # Open keep-alive connections must not hold a shutdown up.
            timeout_graceful_shutdown=5,
        )
        server = _Server(config)
        # Bound here rather than by uvicorn, which would exit the whole process (SystemExit
        # out of the event loop) when the port is taken; the other services keep running.
        try:
            family = socket.AF_INET6 if ":" in settings.web_host else socket.AF_INET
            sock = socket.create_server((settings.web_host, settings.web_port), family=family)
        except OSError as exc:
            log.error(
                "review dashboard could not listen on %s:%d (KOPDES_WEB_HOST/KOPDES_WEB_PORT): %s",
                settings.web_host,
                settings.web_port,
                exc,
            )
            return
        parts.handle = app  # set once listening: readers take it as "the dashboard is up"
        task = asyncio.ensure_future(server.serve(sockets=[sock]))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await task
            raise
        finally:
            sock.close()

    parts.background.append(serve)
    return parts


def dashboard_url(settings: Settings) -> str:
    """Where a person opens the dashboard (for the demo and the logs)."""
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.web_port}/"
