"""The ``review`` service: the dashboard and API served by uvicorn inside the pipeline's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn

from services.review.web import create_app
from services.runtime import Runtime
from services.service import ServiceParts

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
        parts.handle = app = create_app(runtime)
        config = uvicorn.Config(
            app,
            host=settings.web_host,
            port=settings.web_port,
            log_level="warning",
            proxy_headers=False,
        )
        server = _Server(config)
        task = asyncio.ensure_future(server.serve())
        log.info("review dashboard on http://%s:%d/", settings.web_host, settings.web_port)
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await task
            raise

    parts.background.append(serve)
    return parts
