"""The review web application: dashboard pages and the JSON API in one FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware

from schemas.regions import region_table
from services.platform.dashboard import Dashboard, Section
from services.review import resume, xlsx
from services.review.api import router as api_router
from services.review.auth import secret_key
from services.review.deps import (
    CSRF_MESSAGE,
    FormExpired,
    LoginRequired,
    api_coordinator,
    check_csrf,
    page_coordinator,
)
from services.review.pages import router as page_router
from services.review.rendering import HERE, flash, page_context, render, section_templates

API_PREFIX = "/api/v1"

# Every answer: no framing (clickjacking), no type sniffing, no full URLs to other sites.
# Scripts and styles from this site only; inline style attributes are allowed for the
# bars' widths. The API's Swagger page loads its script from a CDN and gets its own policy.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


RESUME_MESSAGE = (
    "Sesi Anda sudah berakhir sebelum formulir terkirim. Masuk lagi: isian dan catatan Anda "
    "disimpan dan dapat dikirim ulang."
)


_frozen = False


def freeze_startup_objects() -> None:
    """Leave what the process holds when the dashboard starts (its modules, classes and
    functions, and the region table: 220,000 objects) out of every later garbage
    collection; once a process.

    A full collection walks every object the process holds: 100-190 ms on this 2-core
    machine, most of it in the imported libraries and the region table, which live as
    long as the process. Requests that allocate much (an export of 5,000 rows) set one
    off every 15-30 requests, and the request it falls into waits (exports at 330-350 ms
    p95 instead of ~180). Frozen (``gc.freeze``: the permanent generation, never freed,
    which these objects are not anyway), such a collection takes a few milliseconds."""
    global _frozen
    if not _frozen:
        region_table()  # loaded once and kept: frozen with the rest
        gc.collect()  # what is garbage already goes now, not frozen with the rest
        gc.freeze()
        _frozen = True


def create_app(runtime: Any, sections: Sequence[Section] = ()) -> FastAPI:
    """The app for a Runtime (settings, engine, relay); the relay is woken after a decision.

    ``sections`` add other stages' pages inside the dashboard (notify's, given by the
    pipeline's assembly), with what ``Dashboard`` lends them."""
    settings = runtime.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        freeze_startup_objects()
        loop = asyncio.get_running_loop()
        relay = getattr(runtime, "relay", None)
        # Handlers run in worker threads; the relay's event belongs to this loop.
        if relay is not None:
            app.state.wake = lambda: loop.call_soon_threadsafe(relay.wake)
        yield

    app = FastAPI(
        title="kopdes-match review",
        version="1.0.0",
        description=(
            "Coordinator review of match suggestions: the queue, the detail, decisions and "
            "the overview, limited to the coordinator's regions. Authenticate with "
            "`Authorization: Bearer <token>` (token from `kopdes-match coordinator token`)."
        ),
        lifespan=lifespan,
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = runtime.engine
    app.state.wake = lambda: None  # () -> None; the lifespan wakes the relay, if there is one
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie="kopdes_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    # Queue pages and exports are text that compresses 5-10 times; phones on slow networks
    # feel every kilobyte.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=1000,
        # Level 6 (zlib's default) compresses a page as well as 9 within 1 %, a 5,000-row
        # CSV export in two thirds of the time; an XLSX file is a zip already.
        compresslevel=6,
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, xlsx.MEDIA_TYPE),
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(page_router)
    app.include_router(resume.router)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        docs = request.url.path == app.docs_url
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    dashboard = Dashboard(
        api_prefix=API_PREFIX,
        layout="base.html",
        api_principal=api_coordinator,
        page_principal=page_coordinator,
        csrf=check_csrf,
        templates=section_templates,
        context=page_context,
    )
    for section in sections:
        section(app, dashboard)

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, _exc: LoginRequired) -> Response:
        # A decision posted after the login ended (logout elsewhere, expired on the
        # server): the form is already parsed for this request; keep it for after login.
        if request.method == "POST":
            form = await request.form()
            fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            if resume.keep(request, fields):
                flash(request, RESUME_MESSAGE, "error")
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(FormExpired)
    async def _form_expired(request: Request, exc: FormExpired) -> Response:
        kept = resume.keep(request, exc.fields)
        if kept and not request.session.get("login"):
            flash(request, RESUME_MESSAGE, "error")
            return RedirectResponse("/login", status_code=303)
        if kept:  # logged in, but the page was older than the token: offer to send again
            return RedirectResponse(resume.PATH, status_code=303)
        return render(request, "error.html", status_code=403, message=CSRF_MESSAGE)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return render(request, "error.html", status_code=exc.status_code, message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'] if p not in ('body', 'query', 'form'))}: "
            f"{e['msg']}"
            for e in exc.errors()
        ]
        if request.url.path.startswith(API_PREFIX):
            return JSONResponse({"detail": problems}, status_code=422)
        message = "Isian tidak sah: " + "; ".join(problems)
        return render(request, "error.html", status_code=422, message=message)

    return app
