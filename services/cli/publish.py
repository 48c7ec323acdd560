"""``publish``: events from a file onto JetStream."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.cli.common import NatsUrl, console, load_settings


def publish(
    file: Annotated[Path, typer.Argument(help="JSON or JSON Lines file of events", exists=True)],
    subject: Annotated[
        str | None, typer.Option(help="subject (default: inferred from each payload)")
    ] = None,
    nats_url: NatsUrl = None,
) -> None:
    """Publish JSON or JSON Lines events to JetStream, with a deterministic Nats-Msg-Id."""
    # heavy: the NATS client; only when something is published
    from services.platform.publishing import publish_file

    settings = load_settings(nats_url)
    sent, problems = asyncio.run(publish_file(settings, file, subject))
    for problem in problems:
        print(problem, file=sys.stderr)  # FILE:LINE: reason, one a line, never wrapped
    console.print(f"published {sent} event(s) from {file}")
    if problems:
        raise typer.Exit(2)
