"""``webhook``: the webhooks of cooperatives and partners, and their deliveries (admin)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from services.cli.common import DatabaseUrl, DataDir, console, err_console, load_settings

app = typer.Typer(help="Webhooks of cooperatives and partners (admin).", no_args_is_help=True)


@app.command("add")
def webhook_add(
    recipient_type: Annotated[str, typer.Option(help="cooperative or partner")],
    recipient_id: Annotated[str, typer.Option(help="cooperative_id or partner_id")],
    url: Annotated[str, typer.Option(help="http(s) URL that receives a POST per notification")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Register a webhook; prints its signing secret once."""
    # heavy: SQLAlchemy and the table models; only when this command runs
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


@app.command("list")
def webhook_list(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """List registered webhooks."""
    # heavy: SQLAlchemy and the table models; only when this command runs
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


@app.command("remove")
def webhook_remove(
    endpoint_id: int, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """Deactivate a webhook; its pending deliveries are marked failed."""
    # heavy: SQLAlchemy and the table models; only when this command runs
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


@app.command("deliveries")
def webhook_deliveries(
    failed: Annotated[bool, typer.Option(help="only failed deliveries")] = False,
    limit: int = 50,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Webhook deliveries, newest first, with their last error."""
    # heavy: SQLAlchemy and the table models; only when this command runs
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


@app.command("retry")
def webhook_retry(
    delivery_ids: Annotated[list[int], typer.Argument(help="ids of failed deliveries")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Send failed deliveries again (a fresh round of tries, by the running notify service)."""
    # heavy: SQLAlchemy and the table models; only when this command runs
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
