"""JSON Schema documents for every contract payload, as published in ``docs/schemas/``."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.events import INPUT_MODELS, OUTPUT_MODELS


def json_schemas() -> dict[str, str]:
    """File name → JSON Schema text, for every payload of the contract."""
    return {
        f"{model.__name__}.schema.json": json.dumps(
            model.model_json_schema(), indent=2, ensure_ascii=False
        )
        + "\n"
        for model in (*INPUT_MODELS, *OUTPUT_MODELS)
    }


def write_json_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in json_schemas().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
