"""Rendering the dashboard's pages: its templates with the dashboard's filters, the context
every page's layout needs, and the one-time message shown on the next page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from services.platform.localtime import viewer_zone
from services.review.deps import csrf_token
from services.review.labels import register_filters
from services.review.scope import scope_label

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
templates = Jinja2Templates(directory=TEMPLATES)
register_filters(templates.env)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    coordinator = context.setdefault("coordinator", None)
    if coordinator is not None:
        context.setdefault("scope", scope_label(coordinator))
    context["viewer_tz"] = viewer_zone(coordinator)
    settings = request.app.state.settings
    context["shortlist"] = (settings.suggestions_per_province, settings.offers_per_cooperative)
    context["csrf_token"] = csrf_token(request)
    context["flash"] = request.session.pop("flash", None)
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = {"message": message, "kind": kind}


def section_templates(directory: Path) -> Jinja2Templates:
    """Templates of another stage's pages: its own folder first, then the dashboard's (the
    layout ``base.html``), with the dashboard's filters."""
    section = Jinja2Templates(directory=directory)
    section.env.loader = ChoiceLoader([FileSystemLoader(directory), FileSystemLoader(TEMPLATES)])
    register_filters(section.env)
    return section


def page_context(request: Request, coordinator: Any) -> dict[str, Any]:
    """What ``base.html`` needs on a page of another stage's section."""
    return {
        "csrf_token": csrf_token(request),
        "flash": request.session.pop("flash", None),
        "scope": scope_label(coordinator),
        "viewer_tz": viewer_zone(coordinator),
    }
