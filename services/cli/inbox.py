"""``inbox``: the notifications of one recipient, in the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.common import DatabaseUrl, DataDir, console, err_console, load_settings


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
    # heavy: SQLAlchemy and the table models; only when this command runs
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
