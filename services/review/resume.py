"""A decision form that arrived after the login or its CSRF token expired is not lost.

The posted fields (the typed note among them) are kept in the session cookie; after
logging in again the coordinator sees them on ``/lanjutkan`` and sends them again with one
click. Nothing is applied without that click, and the decision's compare-and-set on the
suggestion's version still refuses a form that is out of date.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.review.deps import PageCoordinator
from services.review.rendering import render

KEPT = "kept_form"
PATH = "/lanjutkan"
# Forms worth keeping: decisions, reopening, bulk approval.
RESUMABLE = re.compile(r"^/(suggestions/[A-Za-z0-9._-]{1,40}/(decide|reopen)|bulk-approve)$")
# Session cookies must stay under the browsers' 4 KB.
MAX_KEPT_CHARS = 2500

router = APIRouter(include_in_schema=False)


def same_site(request: Request) -> bool:
    """Whether the post came from a page of this site (a cross-site post is never kept)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def keep(request: Request, fields: list[tuple[str, str]]) -> bool:
    """Keep a resumable form in the session; whether it was kept."""
    path = request.url.path
    if request.method != "POST" or not RESUMABLE.match(path) or not same_site(request):
        return False
    fields = [(k, v) for k, v in fields if k != "csrf_token"]
    if sum(len(k) + len(v) for k, v in fields) > MAX_KEPT_CHARS:
        # A long bulk selection: keep the note, the coordinator picks the items again.
        fields = [(k, v) for k, v in fields if k in ("note", "reason_code", "back")]
        if path != "/bulk-approve" or sum(len(v) for _, v in fields) > MAX_KEPT_CHARS:
            return False
    request.session[KEPT] = {"action": path, "fields": fields}
    return True


def describe(action: str, fields: dict[str, str]) -> str:
    if action.endswith("/reopen"):
        return "Buka kembali keputusan"
    if action == "/bulk-approve":
        return "Setujui saran yang dipilih"
    return "Setujui saran" if fields.get("decision") == "approved" else "Tolak saran"


@router.get(PATH, response_class=HTMLResponse)
def resume_page(request: Request, coordinator: PageCoordinator) -> Response:
    kept: dict[str, Any] | None = request.session.pop(KEPT, None)
    if not kept or not RESUMABLE.match(str(kept.get("action", ""))):
        return RedirectResponse("/", status_code=303)
    fields = [(str(k), str(v)) for k, v in kept.get("fields", [])]
    values = dict(fields)
    return render(
        request,
        "resume.html",
        coordinator=coordinator,
        action=kept["action"],
        what=describe(kept["action"], values),
        hidden=[(k, v) for k, v in fields if k != "note"],
        note=values.get("note", ""),
        back=kept["action"].removesuffix("/decide").removesuffix("/reopen")
        if kept["action"].startswith("/suggestions/")
        else "/",
    )
