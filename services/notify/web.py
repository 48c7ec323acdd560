"""The notification API and pages inside the review dashboard (``services/review/web.py``).

The pages extend the dashboard's ``base.html`` and use its login (cookie for pages,
bearer token for the API), CSRF check and scope label, so that a coordinator sees
notifications in the same frame and with the same region rules as the review queue.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from services.notify.api import TEMPLATES, notify_api, notify_pages
from services.review.deps import api_coordinator, check_csrf, csrf_token, page_coordinator
from services.review.labels import register_filters, viewer_zone
from services.review.scope import scope_label
from services.review.web import API_PREFIX, HERE


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.loader = ChoiceLoader(
        [FileSystemLoader(TEMPLATES), FileSystemLoader(HERE / "templates")]
    )
    register_filters(templates.env)
    return templates


def _context(request: Request, coordinator: Any) -> dict[str, Any]:
    return {
        "csrf_token": csrf_token(request),
        "flash": request.session.pop("flash", None),
        "scope": scope_label(coordinator),
        "viewer_tz": viewer_zone(coordinator),
        "active": "notifications",
    }


def include_notifications(app: FastAPI) -> None:
    app.include_router(notify_api(api_coordinator), prefix=API_PREFIX)
    app.include_router(
        notify_pages(
            page_coordinator,
            templates=_templates(),
            layout="base.html",
            context=_context,
            csrf=check_csrf,
        )
    )
