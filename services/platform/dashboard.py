"""What the dashboard lends the pages another stage adds to it: its logins, CSRF check,
layout, templates and page context.

The review's dashboard (``services/review/web.py``) builds one ``Dashboard`` and hands it
to each section it is given; a section (notify's pages, ``services/notify/web.py``) uses
only this frame. So neither stage imports the other, and the pipeline's assembly
(``services/pipeline/app.py``) chooses which sections the dashboard serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.templating import Jinja2Templates


@dataclass(frozen=True)
class Dashboard:
    api_prefix: str  # where the JSON API's routes go
    layout: str  # the template a section's pages extend
    # FastAPI dependencies: the coordinator of a bearer token, of the login cookie; the
    # check of a posted form's CSRF token.
    api_principal: Callable[..., Any]
    page_principal: Callable[..., Any]
    csrf: Callable[..., Any]
    # Templates of a section's folder, over the dashboard's own (the layout, its filters).
    templates: Callable[[Path], Jinja2Templates]
    # What the layout needs on every page, for the request and its coordinator.
    context: Callable[[Request, Any], dict[str, Any]]


# Adds a stage's routes to the dashboard's app.
Section = Callable[[FastAPI, Dashboard], None]
