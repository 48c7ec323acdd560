"""How the pipeline does: ``deadletters`` (the refused inputs) and ``evaluate`` (the
matcher's quality on the labelled sets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from matcher.evaluation import evaluate_set, format_report, load_set
from services.cli.common import DatabaseUrl, DataDir, console, err_console, load_settings

EVALUATION_SETS = Path(__file__).resolve().parents[2] / "tests" / "data"


def deadletters(
    limit: Annotated[int, typer.Option(help="newest first, at most this many")] = 50,
    error_type: Annotated[str | None, typer.Option(help="only this error type")] = None,
    raw: Annotated[bool, typer.Option(help="print the raw input too")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List the inputs that were refused, and why."""
    # heavy: SQLAlchemy and the table models; only when this command runs
    from sqlmodel import Session, col, select

    from services.storage.db import make_engine
    from services.storage.migrate import create_schema
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


def evaluate(
    sets: Annotated[
        list[Path] | None,
        typer.Argument(help="labelled sets (default: the dev and held-out sets in tests/data)"),
    ] = None,
) -> None:
    """nDCG@10, precision@5 and eligibility violations, for the matcher and a naive baseline."""
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
