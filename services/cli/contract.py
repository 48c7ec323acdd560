"""The contract's documents, generated from the code: ``json-schemas`` and ``asyncapi``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from services.cli.common import console


def json_schemas(
    out: Annotated[Path, typer.Option(help="folder to write into")] = Path("docs/schemas"),
) -> None:
    """Write a JSON Schema for every payload of the event contract."""
    # heavy: the contract's models (a quarter second); only when writing the schemas
    from schemas.export import write_json_schemas

    for path in write_json_schemas(out):
        console.print(f"wrote {path}")


def asyncapi(
    out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
) -> None:
    """Print the AsyncAPI document generated from the services' code."""
    # heavy: every stage, with SQLAlchemy and FastStream; only when the document is made
    from services.pipeline.app import asyncapi_document

    text = json.dumps(asyncapi_document().to_specification().to_jsonable(), indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
