"""The ``kopdes-match`` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from matcher.scoring import SUGGESTION_THRESHOLD
from services.platform.settings import Settings

app = typer.Typer(
    help="Matchmaking between village cooperatives (Koperasi Desa Merah Putih) and partners.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()
err_console = Console(stderr=True)

NatsUrl = Annotated[str | None, typer.Option(help="NATS URL (env KOPDES_NATS_URL)")]
DatabaseUrl = Annotated[str | None, typer.Option(help="database URL (env KOPDES_DATABASE_URL)")]
DataDir = Annotated[Path | None, typer.Option(help="data folder (env KOPDES_DATA_DIR)")]


def load_settings(
    nats_url: str | None = None, database_url: str | None = None, data_dir: Path | None = None
) -> Settings:
    overrides = {
        k: v
        for k, v in {
            "nats_url": nats_url,
            "database_url": database_url,
            "data_dir": data_dir,
        }.items()
        if v is not None
    }
    return Settings(**overrides)


def configure_logging(verbose: bool, log_format: str = "rich") -> None:
    if log_format == "json":  # one JSON object a line on stderr, for a log pipeline
        from services.platform.observability import json_handler

        handler: logging.Handler = json_handler(sys.stderr)
    else:
        handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=True)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[handler],
        force=True,
    )
    if not verbose:
        for noisy in ("faststream", "nats", "sqlalchemy", "services.broker", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, installed before anything starts."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _until_stopped() -> None:
    await _stop_on_signals().wait()


@app.command()
def run(
    services: Annotated[
        list[str] | None,
        typer.Argument(help="services to run (default: all): ingest, matcher, review, notify"),
    ] = None,
    embedded: Annotated[
        bool, typer.Option(help="start an embedded nats-server (also when none is reachable)")
    ] = False,
    nats_url: NatsUrl = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    verbose: bool = False,
) -> None:
    """Run the services in the foreground until SIGINT or SIGTERM."""
    from services.app import Pipeline
    from services.matching.ownership import SecondMatcherError
    from services.platform.embedded_nats import EmbeddedNats, is_reachable

    settings = load_settings(nats_url, database_url, data_dir)
    configure_logging(verbose, settings.log_format)
    log = logging.getLogger("kopdes-match")

    async def main() -> None:
        stop = _stop_on_signals()
        executor = _own_executor()
        server: EmbeddedNats | None = None
        fallback = settings.embedded_fallback and not is_reachable(settings.nats_url)
        if embedded or fallback:
            port = int(settings.nats_url.rsplit(":", 1)[-1]) if not embedded else None
            server = await EmbeddedNats(settings.data_dir / "nats", port).__aenter__()
            settings.nats_url = server.url
            log.info("embedded nats-server listening on %s", server.url)
        try:
            pipeline = Pipeline(settings, services or None)
            try:
                await pipeline.start()
            except SecondMatcherError as refused:
                await pipeline.stop()
                err_console.print(f"[red]{refused}[/red]")
                raise typer.Exit(2) from None
            log.info("running %s; database %s", ", ".join(pipeline.parts), settings.sqlalchemy_url)
            await stop.wait()
            log.info("stopping")
            await pipeline.stop()
        finally:
            if server is not None:
                await server.__aexit__()
        executor.shutdown(wait=False, cancel_futures=True)
        await _threads_stopped(log)

    asyncio.run(main())


HANDLER_THREADS = "kopdes-handler"


def _own_executor() -> ThreadPoolExecutor:
    """Handlers run their batches with asyncio.to_thread: in threads named so that the stop
    can tell whether one is still busy (asyncio.run itself would wait for them forever)."""
    executor = ThreadPoolExecutor(thread_name_prefix=HANDLER_THREADS)
    asyncio.get_running_loop().set_default_executor(executor)
    return executor


async def _threads_stopped(log: logging.Logger) -> None:
    """Wait a bounded time for the handlers' threads (a batch in its database call).

    A handler stuck on a database lock would otherwise keep a stopping process alive until
    the orchestrator kills it. Its transaction was not committed, so its messages were not
    acknowledged and are redelivered after a restart.
    """
    from services.app import STOP_TIMEOUT_SECONDS

    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        busy = [t for t in threading.enumerate() if t.name.startswith(HANDLER_THREADS)]
        if not any(t.is_alive() for t in busy):
            return
        await asyncio.sleep(0.1)
    log.error(
        "a handler is still busy %.0f s after the stop; exiting without it", STOP_TIMEOUT_SECONDS
    )
    logging.shutdown()
    os._exit(1)


@app.command()
def demo(
    limit: Annotated[
        int | None, typer.Option(help="cooperatives to publish (default: all 2,145 villages)")
    ] = None,
    top: Annotated[int, typer.Option(help="suggestions to print per offer")] = 3,
    data_dir: Annotated[Path, typer.Option(help="folder for the demo's NATS and SQLite")] = Path(
        "data/demo"
    ),
    keep: Annotated[bool, typer.Option(help="keep the data of an earlier demo run")] = False,
    serve: Annotated[
        bool, typer.Option(help="keep the pipeline and review dashboard running until Ctrl-C")
    ] = False,
    verbose: bool = False,
) -> None:
    """Self-contained demo: embedded NATS, SQLite, Kalimantan Barat data, best suggestions."""
    from services.demo.run import run_demo

    configure_logging(verbose)
    asyncio.run(
        run_demo(
            console,
            data_dir=data_dir,
            limit=limit,
            top=top,
            fresh=not keep,
            serve_until=_until_stopped if serve else None,
        )
    )


@app.command()
def publish(
    file: Annotated[Path, typer.Argument(help="JSON or JSON Lines file of events", exists=True)],
    subject: Annotated[
        str | None, typer.Option(help="subject (default: inferred from each payload)")
    ] = None,
    nats_url: NatsUrl = None,
) -> None:
    """Publish JSON or JSON Lines events to JetStream, with a deterministic Nats-Msg-Id."""
    from services.platform.publishing import publish_file

    settings = load_settings(nats_url)
    sent, problems = asyncio.run(publish_file(settings, file, subject))
    for problem in problems:
        print(problem, file=sys.stderr)  # FILE:LINE: reason, one a line, never wrapped
    console.print(f"published {sent} event(s) from {file}")
    if problems:
        raise typer.Exit(2)


@app.command()
def score(
    cooperatives: Annotated[Path, typer.Option(help="CooperativeProfile JSON Lines", exists=True)],
    offers: Annotated[Path, typer.Option(help="PartnerOffer JSON Lines", exists=True)],
    top_k: Annotated[int, typer.Option(min=1, help="suggestions per offer or cooperative")] = 10,
    per: Annotated[
        str, typer.Option(help="rank cooperatives per offer, or offers per cooperative")
    ] = "offer",
    as_of: Annotated[
        str | None, typer.Option(help="date for expiry, YYYY-MM-DD (default today)")
    ] = None,
    skip_invalid: Annotated[bool, typer.Option(help="report invalid lines but go on")] = False,
    min_score: Annotated[
        float, typer.Option(help="leave out pairs scoring lower (default: the live threshold)")
    ] = SUGGESTION_THRESHOLD,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="processes ranking per offer (default: one per CPU)"),
    ] = None,
) -> None:
    """Batch scoring of exported files (CONTRACT.md): JSON Lines suggestions on stdout."""
    from services.batch_score import (
        collection_paused,
        default_workers,
        read_inputs,
        score_lines,
    )

    if per not in ("offer", "cooperative"):
        err_console.print(f"--per must be 'offer' or 'cooperative', not {per!r}")
        raise typer.Exit(2)
    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        err_console.print(f"--as-of must be a date YYYY-MM-DD, not {as_of!r}")
        raise typer.Exit(2) from None
    with collection_paused():
        coops, offer_values, invalid = read_inputs(cooperatives, offers)
        for problem in invalid:
            print(problem, file=sys.stderr)
        if invalid and not skip_invalid:
            raise typer.Exit(2)
        mode: Literal["offer", "cooperative"] = "offer" if per == "offer" else "cooperative"
        out = sys.stdout
        for line in score_lines(
            coops,
            offer_values,
            per=mode,
            top_k=top_k,
            as_of=day,
            min_score=min_score,
            workers=workers or default_workers(),
        ):
            out.write(line + "\n")


@app.command()
def deadletters(
    limit: Annotated[int, typer.Option(help="newest first, at most this many")] = 50,
    error_type: Annotated[str | None, typer.Option(help="only this error type")] = None,
    raw: Annotated[bool, typer.Option(help="print the raw input too")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List the inputs that were refused, and why."""
    from sqlmodel import Session, col, select

    from services.storage.db import create_schema, make_engine
    from services.storage.models import DeadLetterRow

    settings = load_settings(database_url=database_url, data_dir=data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    create_schema(engine)
    query = select(DeadLetterRow).order_by(col(DeadLetterRow.id).desc()).limit(limit)
    if error_type:
        query = query.where(DeadLetterRow.error_type == error_type)
    with Session(engine) as session:
        rows = session.exec(query).all()
    if not rows:
        console.print("no dead letters")
        return
    table = Table("received", "subject", "error", "reason", title="Dead letters")
    for row in rows:
        reason = row.reason + (f"\n[dim]{row.raw[:500]}[/dim]" if raw else "")
        table.add_row(
            row.received_at.strftime("%Y-%m-%d %H:%M:%S"), row.subject, row.error_type, reason
        )
    console.print(table)


EVALUATION_SETS = Path(__file__).resolve().parents[1] / "tests" / "data"


@app.command()
def evaluate(
    sets: Annotated[
        list[Path] | None,
        typer.Argument(help="labelled sets (default: the dev and held-out sets in tests/data)"),
    ] = None,
) -> None:
    """nDCG@10, precision@5 and eligibility violations, for the matcher and a naive baseline."""
    from matcher.evaluation import evaluate_set, format_report, load_set

    files = sets or sorted(EVALUATION_SETS.glob("matcher_eval_*.json"))
    if not files:
        err_console.print("no evaluation set found; give one as an argument")
        raise typer.Exit(2)
    met = True
    for path in files:
        report = evaluate_set(load_set(json.loads(path.read_text(encoding="utf-8"))))
        console.print(f"[bold]{path.name}[/bold]")
        console.print(format_report(report), highlight=False, markup=False)
        console.print()
        met = met and report.meets_targets()
    if not met:
        err_console.print("targets not met: nDCG@10 >= 0.90, precision@5 >= 0.95, no violations")
        raise typer.Exit(1)


@app.command("json-schemas")
def json_schemas(
    out: Annotated[Path, typer.Option(help="folder to write into")] = Path("docs/schemas"),
) -> None:
    """Write a JSON Schema for every payload of the event contract."""
    from schemas.export import write_json_schemas

    for path in write_json_schemas(out):
        console.print(f"wrote {path}")


@app.command()
def asyncapi(
    out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """Print the AsyncAPI document generated from the services' code."""
    from services.app import asyncapi_document

    text = json.dumps(asyncapi_document().to_specification().to_jsonable(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


@app.command("nats-config")
def nats_config(
    partners: Annotated[
        str,
        typer.Option(
            help="partner ids: a file (TOML/JSON `partners = [...]`, or one id a line) "
            "or a comma-separated list such as bri,bni"
        ),
    ],
    out: Annotated[Path, typer.Option(help="nats-server configuration to write")] = Path(
        "nats.conf"
    ),
    credentials: Annotated[
        Path | None,
        typer.Option(help="plain passwords, mode 0600 (default: <out>.credentials.json)"),
    ] = None,
    services_password: Annotated[
        str | None,
        typer.Option(
            envvar="KOPDES_NATS_SERVICES_PASSWORD",
            help="password of the services' user `kopdes` (default: kept or generated)",
        ),
    ] = None,
    rotate: Annotated[bool, typer.Option(help="generate new passwords for everyone")] = False,
    store_dir: Annotated[str, typer.Option(help="JetStream store_dir in the config")] = (
        "/data/jetstream"
    ),
    bcrypt_cost: Annotated[int, typer.Option(min=4, max=31, help="bcrypt cost factor")] = 11,
) -> None:
    """Write a nats-server configuration with one user per partner (publish own offers only)."""
    from services.platform.natsconfig import NatsConfigError, generate, read_partners

    try:
        result = generate(
            read_partners(partners),
            out,
            credentials=credentials,
            services_password=services_password,
            rotate=rotate,
            store_dir=store_dir,
            bcrypt_cost=bcrypt_cost,
        )
    except NatsConfigError as exc:
        err_console.print(f"nats-config: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    table = Table("user", "role", "password", title=f"Users in {result.config_path}")
    for user in result.users:
        state = "new" if user.name in result.new_passwords else "kept"
        table.add_row(user.name, user.role, state)
    console.print(table)
    console.print(f"passwords in {result.credentials_path} (mode 0600): hand out, then keep safe")


@app.command("partner-consumers")
def partner_consumers(
    partners: Annotated[
        str, typer.Option(help="partner ids: the file or list given to nats-config")
    ],
    nats_url: NatsUrl = None,
) -> None:
    """Create each partner's notification consumer `partner-<id>` (partners may not)."""
    import nats

    from services.platform.natsconfig import (
        NatsConfigError,
        ensure_partner_consumers,
        read_partners,
    )
    from services.platform.topology import ensure_streams

    settings = load_settings(nats_url, None, None)
    try:
        ids = read_partners(partners)
    except NatsConfigError as exc:
        err_console.print(f"partner-consumers: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None

    async def main() -> None:
        nc = await nats.connect(settings.nats_servers, name="kopdes-match-setup")
        try:
            await ensure_streams(nc.jetstream(), settings)
            await ensure_partner_consumers(nc.jetstream(), ids)
        finally:
            await nc.close()

    asyncio.run(main())
    console.print(f"notification consumers ready for {len(ids)} partner(s) on KOPDES_NOTIFY")


@app.command()
def migrate(
    revision: Annotated[
        str, typer.Option(help="revision to upgrade or downgrade to ('base': drop everything)")
    ] = "head",
    sql: Annotated[
        bool, typer.Option("--sql", help="print the SQL of an upgrade from nothing; change nothing")
    ] = False,
    stamp: Annotated[
        str | None,
        typer.Option(help="record this revision as applied without running it (after a fix)"),
    ] = None,
    new: Annotated[
        str | None,
        typer.Option(help="write a new revision for what the models have and migrations lack"),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Bring the database schema to the newest migration; the services also do at start."""
    from services.platform.database import engine_from_settings
    from services.storage import migrate as migrations

    settings = load_settings(database_url=database_url, data_dir=data_dir)
    if new:
        path = migrations.new_revision(new)
        console.print(f"wrote {path}: review it, then run the migration tests", markup=False)
        return
    if sql:
        print(migrations.sql_script(settings.sqlalchemy_url, revision), end="")
        return
    engine = engine_from_settings(settings)
    where = engine.url.render_as_string(hide_password=True)
    try:
        if stamp:
            migrations.stamp(engine, stamp)
            console.print(f"{where} stamped at {stamp}", markup=False)
            return
        before, after = migrations.move_to(engine, revision)
    except migrations.SchemaMismatch as exc:
        err_console.print(f"migrate: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if before == after:
        console.print(f"{where} already at {after or 'base'}", markup=False)
    else:
        console.print(
            f"{where} migrated from {before or 'base'} to {after or 'base'}", markup=False
        )


@app.command()
def health(
    url: Annotated[
        str | None,
        typer.Option(help="endpoint to ask (default: /readyz on the local metrics port)"),
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the answer")] = 5.0,
) -> None:
    """Exit 0 when this machine's service answers ready, 1 otherwise (container health checks)."""
    import urllib.error
    import urllib.request

    target = url or f"http://127.0.0.1:{load_settings().metrics_port}/readyz"
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:
            console.print(response.read().decode().strip(), markup=False, highlight=False)
    except urllib.error.HTTPError as error:
        err_console.print(f"{error.code}: {error.read().decode().strip()}", markup=False)
        raise typer.Exit(1) from None
    except OSError as error:
        err_console.print(f"no answer from {target}: {error}", markup=False)
        raise typer.Exit(1) from None


coordinator_app = typer.Typer(help="Coordinator accounts of the review dashboard and API.")
app.add_typer(coordinator_app, name="coordinator")


def _engine(database_url: str | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from services.storage.db import create_schema, make_engine

    settings = load_settings(database_url=database_url, data_dir=data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    create_schema(engine)
    return engine


@coordinator_app.command("add")
def coordinator_add(
    username: str,
    role: Annotated[str, typer.Option(help="business_assistant, pmo or admin")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="region code (repeat): villages/district for a business assistant, "
            "regency/province for a PMO, none for an admin"
        ),
    ] = None,
    full_name: Annotated[str, typer.Option(help="name shown on the dashboard")] = "",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="KOPDES_NEW_PASSWORD",
            help="at least 10 characters",
        ),
    ] = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Add a coordinator account."""
    from pydantic import ValidationError

    from services.review.accounts import AccountError, add_coordinator
    from services.review.models import CoordinatorCreate, Role
    from services.review.scope import ScopeError

    try:
        new = CoordinatorCreate(
            username=username,
            full_name=full_name,
            role=Role(role),
            scope=scope or [],
            password=password,
        )
        row = add_coordinator(_engine(database_url, data_dir), new)
    except (ValidationError, AccountError, ScopeError, ValueError) as problem:
        err_console.print(f"not added: {problem}", markup=False)
        raise typer.Exit(2) from None
    console.print(
        f"added {row.username} ({row.role.value}, scope: {', '.join(row.scope) or 'all'})"
    )


@coordinator_app.command("list")
def coordinator_list(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """List coordinator accounts."""
    from services.review.accounts import list_coordinators
    from services.review.scope import scope_label

    table = Table("username", "name", "role", "scope", "active")
    for row in list_coordinators(_engine(database_url, data_dir)):
        table.add_row(
            row.username,
            row.full_name,
            row.role.value,
            scope_label(row),
            "yes" if row.active else "no",
        )
    console.print(table)


@coordinator_app.command("disable")
def coordinator_disable(
    username: str, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """Disable a coordinator: their session and API tokens stop working at once."""
    from services.review.accounts import AccountError, set_active

    try:
        set_active(_engine(database_url, data_dir), username, active=False)
    except AccountError as problem:
        err_console.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    console.print(f"disabled {username}")


@coordinator_app.command("enable")
def coordinator_enable(
    username: str, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """Enable a disabled coordinator again."""
    from services.review.accounts import AccountError, set_active

    try:
        set_active(_engine(database_url, data_dir), username, active=True)
    except AccountError as problem:
        err_console.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    console.print(f"enabled {username}")


@coordinator_app.command("token")
def coordinator_token(
    username: str,
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Issue an API token (printed once; only its hash is stored)."""
    from services.review.accounts import AccountError, create_token

    try:
        token = create_token(_engine(database_url, data_dir), username, label)
    except AccountError as problem:
        err_console.print(str(problem), markup=False)
        raise typer.Exit(2) from None
    print(token)


# Notifications: webhooks and inboxes (services/notify). -----------------------------------

webhook_app = typer.Typer(
    help="Webhooks of cooperatives and partners (admin).", no_args_is_help=True
)
app.add_typer(webhook_app, name="webhook")


@webhook_app.command("add")
def webhook_add(
    recipient_type: Annotated[str, typer.Option(help="cooperative or partner")],
    recipient_id: Annotated[str, typer.Option(help="cooperative_id or partner_id")],
    url: Annotated[str, typer.Option(help="http(s) URL that receives a POST per notification")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Register a webhook; prints its signing secret once."""
    from services.notify.admin import add_webhook
    from services.notify.webhooks import WebhookError

    try:
        done = add_webhook(
            load_settings(database_url=database_url, data_dir=data_dir),
            recipient_type,
            recipient_id,
            url,
        )
    except WebhookError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    console.print(f"webhook {done.endpoint.id}: {recipient_type} {recipient_id} → {url}")
    console.print("secret (shown once; verify X-Kopdes-Signature with it):")
    print(done.secret)


@webhook_app.command("list")
def webhook_list(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """List registered webhooks."""
    from services.notify.admin import list_webhooks

    rows = list_webhooks(load_settings(database_url=database_url, data_dir=data_dir))
    table = Table("id", "recipient", "active", "since", title="Webhooks")
    table.add_column("url", overflow="fold")
    for row in rows:
        table.add_row(
            str(row.id),
            f"{row.recipient_type} {row.recipient_id}",
            "yes" if row.active else "no",
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.url,
        )
    console.print(table if rows else "no webhooks")


@webhook_app.command("remove")
def webhook_remove(
    endpoint_id: int, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """Deactivate a webhook; its pending deliveries are marked failed."""
    from services.notify.admin import remove_webhook
    from services.notify.webhooks import WebhookError

    try:
        row = remove_webhook(
            load_settings(database_url=database_url, data_dir=data_dir), endpoint_id
        )
    except WebhookError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    console.print(f"webhook {row.id} ({row.url}) deactivated")


@webhook_app.command("deliveries")
def webhook_deliveries(
    failed: Annotated[bool, typer.Option(help="only failed deliveries")] = False,
    limit: int = 50,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Webhook deliveries, newest first, with their last error."""
    from services.notify.admin import list_deliveries
    from services.storage.models import WebhookDeliveryStatus

    status = WebhookDeliveryStatus.FAILED if failed else None
    rows = list_deliveries(
        load_settings(database_url=database_url, data_dir=data_dir), status, limit
    )
    table = Table("id", "status", "tries", "notification", "url", "last error", title="Deliveries")
    for row, endpoint in rows:
        table.add_row(
            str(row.id),
            str(row.status),
            str(row.attempts),
            row.notification_id,
            endpoint.url if endpoint else "?",
            row.last_error,
        )
    console.print(table if rows else "no deliveries")


@webhook_app.command("retry")
def webhook_retry(
    delivery_ids: Annotated[list[int], typer.Argument(help="ids of failed deliveries")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Send failed deliveries again (a fresh round of tries, by the running notify service)."""
    from services.notify.admin import retry_deliveries
    from services.notify.webhooks import WebhookError

    try:
        rows = retry_deliveries(
            load_settings(database_url=database_url, data_dir=data_dir), delivery_ids
        )
    except WebhookError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    console.print(f"{len(rows)} delivery(ies) queued again")


@app.command()
def inbox(
    recipient_type: Annotated[str, typer.Argument(help="cooperative, partner or coordinator")],
    recipient_id: Annotated[str, typer.Argument(help="cooperative_id, partner_id or regency")],
    unread: Annotated[bool, typer.Option(help="only unread notifications")] = False,
    limit: int = 20,
    mark_read: Annotated[bool, typer.Option(help="mark the listed notifications read")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """The notifications of a cooperative, a partner or a regency's coordinators."""
    from services.notify import admin
    from services.notify.inbox import InboxError

    settings = load_settings(database_url=database_url, data_dir=data_dir)
    try:
        rows, unread_total = admin.read_inbox(settings, recipient_type, recipient_id, unread, limit)
    except InboxError as exc:
        err_console.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    console.print(
        f"[bold]Kotak masuk {recipient_type} {recipient_id}[/bold]: {unread_total} belum dibaca"
    )
    for row in rows:
        flag = "[bold]●[/bold]" if row.read_at is None else "[dim]○[/dim]"
        console.rule(
            f"{flag} {row.title} [dim]{row.created_at:%Y-%m-%d %H:%M} UTC · {row.notification_id}"
            "[/dim]",
            align="left",
        )
        console.print(row.body, highlight=False, markup=False)
        if mark_read:
            admin.mark_read(settings, row.notification_id, True)
    if not rows:
        console.print("tidak ada notifikasi")
