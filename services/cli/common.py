"""What every command shares: the consoles, the common options, settings and logging."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from services.platform.settings import Settings

console = Console()
err_console = Console(stderr=True)

NatsUrl = Annotated[str | None, typer.Option(help="NATS URL (env KOPDES_NATS_URL)")]
DatabaseUrl = Annotated[str | None, typer.Option(help="database URL (env KOPDES_DATABASE_URL)")]
DataDir = Annotated[Path | None, typer.Option(help="data folder (env KOPDES_DATA_DIR)")]


def load_settings(
    nats_url: str | None = None, database_url: str | None = None, data_dir: Path | None = None
) -> Settings:
    overrides: dict[str, Any] = {
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
        # heavy: observability loads SQLAlchemy (its database check); only for JSON logs
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
