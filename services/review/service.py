"""The ``review`` service: the dashboard and API served by uvicorn inside the pipeline's loop."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.platform.dashboard import Section
from services.platform.http import AsgiServer
from services.platform.runtime import Runtime
from services.platform.service import ServiceParts
from services.platform.settings import Settings
from services.review.web import create_app

log = logging.getLogger(__name__)


def review_service(runtime: Runtime, sections: Sequence[Section] = ()) -> ServiceParts:
    """The dashboard, with other stages' ``sections`` (chosen by the pipeline's assembly)."""
    settings = runtime.settings
    # Built when served: creating the app may write the session key into the data folder,
    # which merely assembling a pipeline (e.g. for the AsyncAPI document) must not do.
    parts = ServiceParts("review")

    async def serve() -> None:
        app = create_app(runtime, sections)
        log.info("review dashboard on %s", dashboard_url(settings))
        server = AsgiServer(app, settings.web_host, settings.web_port, graceful_seconds=5)
        # A taken port stops the dashboard alone; the other services keep running.
        try:
            await server.start()
        except OSError as exc:
            log.error(
                "review dashboard could not listen on %s:%d (KOPDES_WEB_HOST/KOPDES_WEB_PORT): %s",
                settings.web_host,
                settings.web_port,
                exc,
            )
            return
        parts.handle = app  # set once listening: readers take it as "the dashboard is up"
        await server.run()

    parts.background.append(serve)
    return parts


def dashboard_url(settings: Settings) -> str:
    """Where a person opens the dashboard (for the demo and the logs)."""
    host = "127.0.0.1" if settings.web_host in ("0.0.0.0", "::", "") else settings.web_host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.web_port}/"
