"""The coordinators' dashboard and API at national scale (a script, not a test).

Loads a fraction of the national data set (``--scale 1``: 83,762 cooperatives and 10,000
offers) through the real ``Ingest`` and ``Matcher`` code (``stages.py``),
creates an admin, a province PMO (the province with the most pending suggestions), a
regency PMO and a business assistant (a district), serves the review app with uvicorn and
times every page and API listing with a real HTTP client: the queue's first, middle and
last page, a search, each filter (one cooperative's and one offer's queue too), the
exports, the overview and a detail page.

Prints one JSON line per page and role: ``page``, ``role``, ``p50_ms``, ``p95_ms`` (of
``--rounds`` requests after two warm-up requests), ``first_ms`` (the first request, with
the caches of the scope still cold), ``bytes`` (the body as served, before compression)
and ``gzip_bytes`` (as transferred with ``Accept-Encoding: gzip``).

Run: ``uv run python benchmarks/bench_review.py [--scale 0.1] [--keep] [--pending N]
[--legacy] [--only REGEX]``. ``KOPDES_BENCH_DATABASE_URL`` selects PostgreSQL (schema
``public`` is dropped first unless ``--keep`` finds suggestions there already). ``--legacy``
pages with ``page=N`` only (for measuring the code before keyset pagination, search and
exports existed). ``--only`` times the pages whose name matches (``--only export``).

``--pending N`` (PostgreSQL): the province rule leaves fewer pending suggestions than a
national rollout will hold, so the table is topped up to ``N`` pending with extra rows made
in the database (``top_up``): each copies a real pending suggestion (its offer, regency,
province, basis, rank, explanation and summary; the score within ±2) for another
cooperative of the same regency, with the id ``schemas.events.suggestion_id`` gives that
pair. The extra rows are thus spread over provinces, regencies and offers as the real ones
are; their ``created_at`` is spread over the last 14 days. Nothing marks them: run the
benchmark on a database of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from sqlalchemy import func, text
from sqlmodel import Session, col, select
from stages import Parts, load_national
from transport import percentile
from upkeep import settle

from schemas.regions import region_table
from services.notify.web import include_notifications
from services.platform.settings import Settings
from services.review.accounts import add_coordinator, create_token
from services.review.models import CoordinatorCreate
from services.review.web import create_app
from services.storage.db import reset_schema
from services.storage.migrate import create_schema
from services.storage.models import CooperativeRow, CoordinatorRow, Role, SuggestionRow

PASSWORD = "kata-sandi-bench-1"


# Statuses are stored by name (SQLAlchemy's Enum), times as UTC without a zone
# (services/storage/types.py).
# One copy of every real pending suggestion per round, each round to the cooperative
# ``shift`` places further in its regency (by id), until the target is reached.
TOP_UP = text(
    """
    WITH coop AS (
        SELECT cooperative_id, village_code, regency_code,
               row_number() OVER (PARTITION BY regency_code ORDER BY cooperative_id) AS rn,
               count(*) OVER (PARTITION BY regency_code) AS n
        FROM cooperative
    ),
    candidate AS (
        SELECT s.partner_id, s.offer_id, o.cooperative_id, o.village_code, s.regency_code,
               s.province_code, s.score, s.rank, s.basis, s.explanation, s.summary
        FROM suggestion s
        JOIN coop c ON c.cooperative_id = s.cooperative_id
        JOIN coop o ON o.regency_code = c.regency_code AND o.rn = (c.rn - 1 + :shift) % c.n + 1
        WHERE s.status = 'PENDING' AND o.cooperative_id <> s.cooperative_id
        ORDER BY random()
        LIMIT :missing
    )
    INSERT INTO suggestion (suggestion_id, partner_id, offer_id, cooperative_id,
        regency_code, province_code, village_code, score, rank, basis, explanation, summary,
        status, version, created_at, updated_at)
    SELECT 'sg-' || substr(encode(sha256(convert_to(
               partner_id || '/' || offer_id || '|' || cooperative_id, 'UTF8')), 'hex'), 1, 24),
           partner_id, offer_id, cooperative_id, regency_code, province_code, village_code,
           round(least(100, greatest(0, score + 4 * random() - 2))::numeric, 1),
           rank, basis, explanation, summary, 'PENDING', 1, stamp, stamp
    FROM (
        SELECT *, (now() AT TIME ZONE 'UTC') - random() * interval '14 days' AS stamp
        FROM candidate
    ) AS c
    ON CONFLICT DO NOTHING
    """
)


def pending_count(engine: Any) -> int:
    with Session(engine) as session:
        return session.exec(
            select(func.count()).select_from(SuggestionRow).where(SuggestionRow.status == "pending")
        ).one()


def top_up(engine: Any, target: int) -> int:
    """Add pending suggestions like the real ones until ``target`` are pending (see the
    module's docstring); the number added."""
    if engine.dialect.name != "postgresql":
        raise SystemExit("--pending needs PostgreSQL (KOPDES_BENCH_DATABASE_URL)")
    added = 0
    for shift in range(1, 50):
        missing = target - pending_count(engine)
        if missing <= 0:
            break
        with engine.begin() as conn:
            added += conn.execute(TOP_UP, {"shift": shift, "missing": missing}).rowcount
    return added


def busiest(session: Session, column: Any, where: Any = True) -> str:
    """The code (of ``column``) with the most pending suggestions."""
    code: str = session.exec(
        select(column)
        .where(col(SuggestionRow.status) == "pending", where)
        .group_by(column)
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    return code


def coordinators(engine: Any) -> dict[str, tuple[str, dict[str, str]]]:
    """Role name -> (username, a regency/district/village/partner to filter by)."""
    table = region_table()
    with Session(engine) as session:
        province = busiest(session, func.substr(SuggestionRow.regency_code, 1, 2))
        regency = busiest(
            session,
            SuggestionRow.regency_code,
            col(SuggestionRow.regency_code).startswith(province + "."),
        )
        district = busiest(
            session,
            func.substr(SuggestionRow.village_code, 1, 8),
            col(SuggestionRow.regency_code) == regency,
        )
        village = busiest(
            session,
            SuggestionRow.village_code,
            col(SuggestionRow.village_code).startswith(district + "."),
        )
        partner = busiest(
            session, SuggestionRow.partner_id, col(SuggestionRow.regency_code) == regency
        )
        cooperative, cooperative_id = session.exec(
            select(CooperativeRow.name, CooperativeRow.cooperative_id).where(
                CooperativeRow.village_code == village
            )
        ).first() or ("", "")
        offer = busiest(
            session,
            col(SuggestionRow.partner_id) + "/" + col(SuggestionRow.offer_id),
            col(SuggestionRow.regency_code) == regency,
        )
        existing = {c.username: c for c in session.exec(select(CoordinatorRow)).all()}
    roles = {
        "admin": (Role.ADMIN, []),
        "pmo_province": (Role.PMO, [province]),
        "pmo_regency": (Role.PMO, [regency]),
        "business_assistant": (Role.BUSINESS_ASSISTANT, [district]),
    }
    for name, (role, scope) in roles.items():
        username = f"bench.{name}".replace("_", "-")
        if username not in existing:
            add_coordinator(
                engine,
                CoordinatorCreate(username=username, role=role, scope=scope, password=PASSWORD),
            )
        elif existing[username].scope != scope:  # a kept database whose busiest region moved
            with Session(engine) as session:
                kept = session.exec(
                    select(CoordinatorRow).where(CoordinatorRow.username == username)
                )
                coordinator = kept.one()
                coordinator.scope = scope
                session.add(coordinator)
                session.commit()
    village_name = table.name(village)
    filters = {
        "province": province,
        "regency": regency,
        "district": district,
        "partner": partner,
        "village_name": village_name,
        "cooperative": cooperative or village_name,
        "cooperative_id": cooperative_id,
        "offer": offer,
    }
    return {name: (f"bench.{name}".replace("_", "-"), filters) for name in roles}


def serve(app: Any) -> tuple[str, uvicorn.Server]:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def logged_in(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=120)
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, "no CSRF token on the login page"
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf.group(1)},
    )
    assert answer.status_code in (200, 303), answer.text[:200]
    return client


def measure(
    client: httpx.Client, url: str, rounds: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    timings: list[float] = []
    answer = None
    first = 0.0
    for i in range(rounds + 2):
        started = time.perf_counter()
        answer = client.get(url, headers={"accept-encoding": "gzip", **(headers or {})})
        elapsed = 1000 * (time.perf_counter() - started)
        if i == 0:
            first = elapsed
        if i >= 2:  # two warm-up requests: caches filled, connections open
            timings.append(elapsed)
    assert answer is not None
    if answer.status_code not in (200, 303):  # "next" answers with a redirect
        return {"status": answer.status_code, "p50_ms": None, "p95_ms": None}
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 95), 1),
        # The first request, not counted above: what a cold cache (the scope's filter
        # choices, a new search, a new filter's total) costs the first to ask.
        "first_ms": round(first, 1),
        "bytes": len(answer.content),
        "gzip_bytes": answer.num_bytes_downloaded,
    }


def middle_cursor(engine: Any, username: str) -> str | None:
    """A cursor halfway down the coordinator's queue (keyset pagination)."""
    from services.review.filters import QueueFilter
    from services.review.queue import cursor_at

    with Session(engine) as session:
        coordinator = session.exec(
            select(CoordinatorRow).where(CoordinatorRow.username == username)
        ).one()
        return cursor_at(session, coordinator, QueueFilter(), fraction=0.5)


def first_pending(engine: Any, username: str) -> str:
    """The top suggestion of the coordinator's queue (for the detail page)."""
    from services.review.scope import scope_filter

    with Session(engine) as session:
        coordinator = session.exec(
            select(CoordinatorRow).where(CoordinatorRow.username == username)
        ).one()
        return session.exec(
            select(SuggestionRow.suggestion_id)
            .where(scope_filter(coordinator), SuggestionRow.status == "pending")
            .order_by(col(SuggestionRow.score).desc())
            .limit(1)
        ).one()


def pages(
    engine: Any, username: str, filters: dict[str, str], role: str, legacy: bool
) -> list[tuple[str, str]]:
    q: Callable[..., str] = lambda **kw: "/?" + urlencode(kw)  # noqa: E731
    listing = [("queue_first", "/")]
    if legacy:
        listing += [("queue_middle", q(page=50)), ("queue_deep", q(page=500))]
    else:
        cursor = middle_cursor(engine, username)
        if cursor:
            listing.append(("queue_middle", q(after=cursor)))
        listing.append(("queue_last", q(end="1")))
        listing += [
            ("search_village", q(q=filters["village_name"])),
            ("search_cooperative_typo", q(q=filters["cooperative"][:-1] + "x")),
        ]
    if role == "admin":
        if not legacy:
            listing.append(("filter_province", q(province=filters["province"])))
        listing.append(("filter_regency", q(regency=filters["regency"])))
    if role in ("admin", "pmo_province", "pmo_regency"):
        listing.append(
            ("filter_district", q(regency=filters["regency"], district=filters["district"]))
        )
    listing += [
        ("filter_partner", q(partner=filters["partner"])),
        ("filter_offer_type", q(offer_type="financing")),
        ("filter_min_score", q(min_score="80")),
        ("sort_oldest", q(sort="oldest")),
        ("sort_cooperative", q(sort="cooperative")),
        ("detail", f"/suggestions/{first_pending(engine, username)}"),
        ("overview", "/overview"),
    ]
    if not legacy:
        scoped = {"regency": filters["regency"]} if role != "business_assistant" else {}
        listing += [
            ("export_csv", "/export.csv?" + urlencode(scoped)),
            ("export_xlsx", "/export.xlsx?" + urlencode(scoped)),
            # The whole queue of the scope: up to worklist.MAX_EXPORT rows.
            ("export_csv_all", "/export.csv"),
            ("export_xlsx_all", "/export.xlsx"),
            ("overview_csv", "/overview.csv"),
            ("filter_cooperative", q(cooperative=filters["cooperative_id"])),
            ("filter_offer", q(offer=filters["offer"])),
            ("next", f"/suggestions/{first_pending(engine, username)}/next"),
        ]
    return listing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the national set")
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="reuse a loaded database")
    parser.add_argument("--legacy", action="store_true", help="page=N only (the old code)")
    parser.add_argument(
        "--pending", type=int, default=0, help="top up to this many pending (PostgreSQL)"
    )
    parser.add_argument(
        "--only", default="", help="time only the pages whose name matches this regex"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kopdes-review-") as tmp:
        url = os.environ.get("KOPDES_BENCH_DATABASE_URL")
        data_dir = Path(os.environ.get("KOPDES_BENCH_DATA_DIR", tmp))
        settings = Settings(database_url=url or f"sqlite:///{data_dir / 'k.db'}", data_dir=data_dir)
        parts = Parts(settings)
        loaded = False
        if args.keep:
            create_schema(parts.engine)
            with Session(parts.engine) as session:
                loaded = bool(session.exec(select(func.count()).select_from(SuggestionRow)).one())
        if not loaded:
            if url:
                parts.engine.dispose()
                reset_schema(url)
                parts = Parts(settings)
            create_schema(parts.engine)
            started = time.perf_counter()
            load_national(parts, args.scale)
            print(json.dumps({"loaded_s": round(time.perf_counter() - started, 1)}), flush=True)
        create_schema(parts.engine)  # the newest migration (indexes) on a kept database
        if args.pending:
            started = time.perf_counter()
            added = top_up(parts.engine, args.pending)
            elapsed = round(time.perf_counter() - started, 1)
            print(json.dumps({"topped_up": added, "top_up_s": elapsed}), flush=True)
        settle(parts.engine)
        pending = pending_count(parts.engine)
        with Session(parts.engine) as session:
            cooperatives = session.exec(select(func.count()).select_from(CooperativeRow)).one()
        print(
            json.dumps(
                {
                    "database": "PostgreSQL" if url else "SQLite",
                    "cooperatives": cooperatives,
                    "pending": pending,
                }
            ),
            flush=True,
        )
        roles = coordinators(parts.engine)
        base, server = serve(create_app(parts, sections=[include_notifications]))
        try:
            for role, (username, filters) in roles.items():
                client = logged_in(base, username)
                for page, path in pages(parts.engine, username, filters, role, args.legacy):
                    if not re.search(args.only, page):
                        continue
                    row = {"page": page, "role": role, "path": path}
                    row.update(measure(client, path, args.rounds))
                    print(json.dumps(row, ensure_ascii=False), flush=True)
                token = create_token(parts.engine, username, "bench")
                auth = {"authorization": f"Bearer {token}"}
                api = [
                    ("api_queue_first", "/api/v1/suggestions"),
                    ("api_overview", "/api/v1/overview"),
                ]
                if not args.legacy:
                    api.append(("api_queue_last", "/api/v1/suggestions?end=1"))
                for page, path in api:
                    if not re.search(args.only, page):
                        continue
                    row = {"page": page, "role": role, "path": path}
                    row.update(measure(client, path, args.rounds, auth))
                    print(json.dumps(row, ensure_ascii=False), flush=True)
        finally:
            server.should_exit = True
            parts.engine.dispose()


if __name__ == "__main__":
    main()
