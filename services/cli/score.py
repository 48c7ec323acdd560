"""``score``: the batch command of CONTRACT.md, ranking pairs from exported files offline."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer

from matcher.scoring import SUGGESTION_THRESHOLD
from services.cli.common import err_console


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
    # heavy: numpy and the contract's models (half a second); only when scoring
    from services.cli.batch_score import (
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
