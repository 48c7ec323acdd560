"""The notification API and pages as a section of the review's dashboard.

The pages extend the dashboard's layout and use its login (cookie for pages, bearer token
for the API), CSRF check and page context (``services/platform/dashboard.py``), so that a
coordinator sees notifications in the same frame and with the same region rules as the
review queue. The pipeline's assembly (``services/pipeline/app.py``) hands this section to
the dashboard.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from services.notify.api import TEMPLATES, notify_api, notify_pages
from services.platform.dashboard import Dashboard


def include_notifications(app: FastAPI, dashboard: Dashboard) -> None:
    def context(request: Request, coordinator: Any) -> dict[str, Any]:
        return {**dashboard.context(request, coordinator), "active": "notifications"}

    app.include_router(notify_api(dashboard.api_principal), prefix=dashboard.api_prefix)
    app.include_router(
        notify_pages(
            dashboard.page_principal,
            templates=dashboard.templates(TEMPLATES),
            layout=dashboard.layout,
            context=context,
            csrf=dashboard.csrf,
        )
    )
