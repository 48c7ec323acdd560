"""The committed JSON Schemas and AsyncAPI document match the code that they describe."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.export import json_schemas
from services.pipeline.app import asyncapi_document

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = (
    "regenerate with `uv run kopdes-match json-schemas` and "
    "`uv run kopdes-match asyncapi --out docs/asyncapi.json`"
)


def test_json_schemas_are_in_sync():
    expected = json_schemas()
    committed = {p.name: p.read_text(encoding="utf-8") for p in (DOCS / "schemas").glob("*.json")}
    assert committed == expected, REGENERATE


def test_asyncapi_document_is_in_sync():
    generated = asyncapi_document().to_specification().to_jsonable()
    committed = json.loads((DOCS / "asyncapi.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(generated)), REGENERATE


def test_asyncapi_lists_every_contract_subject():
    document = json.loads((DOCS / "asyncapi.json").read_text(encoding="utf-8"))
    addresses = {channel["address"] for channel in document["channels"].values()}
    for subject in (
        "kopdes.cooperative.upserted",
        "kopdes.offer.upserted.*",
        "kopdes.offer.withdrawn.*",
        "kopdes.match.suggested",
        "kopdes.match.retracted",
        "kopdes.deadletter",
    ):
        assert subject in addresses
    schemas = document["components"]["schemas"]
    assert {"CooperativeProfile", "PartnerOffer", "OfferWithdrawn", "MatchSuggestion"} <= set(
        schemas
    )
