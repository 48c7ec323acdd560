"""Turning raw input messages into contract events, or into a clear refusal.

Pure functions: no database, no broker. Every refusal carries an ``error_type`` for
grouping and a ``reason`` a partner's developer can act on (which field, what rule).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from pydantic import ValidationError

from schemas import CooperativeProfile, OfferWithdrawn, PartnerOffer, subjects

InputEvent = CooperativeProfile | PartnerOffer | OfferWithdrawn


@dataclass(frozen=True)
class Refused(Exception):
    error_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.error_type}: {self.reason}"


def model_for_subject(subject: str) -> tuple[type[InputEvent], str | None]:
    """The payload model for a subject and, for offer subjects, the partner id it names."""
    if subject == subjects.COOPERATIVE_UPSERTED:
        return CooperativeProfile, None
    offers: tuple[tuple[str, type[PartnerOffer | OfferWithdrawn]], ...] = (
        (subjects.OFFER_UPSERTED_PREFIX, PartnerOffer),
        (subjects.OFFER_WITHDRAWN_PREFIX, OfferWithdrawn),
    )
    for prefix, model in offers:
        if subject.startswith(prefix):
            return model, subject.removeprefix(prefix)
    raise Refused("unknown_subject", f"no input is accepted on subject {subject!r}")


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "payload"
        message = item["msg"]
        if item["type"] == "missing":
            message = "required field is missing"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def parse_input(subject: str, data: bytes, max_bytes: int) -> InputEvent:
    """Validate one input message; raise ``Refused`` with the reason when it cannot be accepted."""
    if len(data) > max_bytes:
        raise Refused(
            "payload_too_large", f"payload is {len(data)} bytes; the limit is {max_bytes}"
        )
    model, subject_partner = model_for_subject(subject)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(
            "invalid_encoding", f"payload is not UTF-8: {exc.reason} at byte {exc.start}"
        ) from exc
    payload = _load_json(text)
    if not isinstance(payload, dict):
        raise Refused(
            "invalid_json", f"payload must be a JSON object, not {type(payload).__name__}"
        )
    try:
        event = model.model_validate(payload)
    except ValidationError as exc:
        raise Refused("validation_error", describe_validation_error(exc)) from exc
    # An offer subject names the partner (subject_partner is None for a cooperative).
    if not isinstance(event, CooperativeProfile) and event.partner_id != subject_partner:
        raise Refused(
            "partner_mismatch",
            f"partner_id {event.partner_id!r} does not match the subject's partner "
            f"{subject_partner!r}",
        )
    return event


MAX_JSON_DEPTH = 32  # a contract payload nests 3 deep; more is an attack or a bug


def _load_json(text: str) -> object:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(
            "invalid_json",
            f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from exc
    except RecursionError:
        raise Refused(
            "invalid_json", f"payload is nested deeper than {MAX_JSON_DEPTH} levels"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise Refused("invalid_json", f"payload is not usable JSON: {exc}") from None
    if _depth(payload) > MAX_JSON_DEPTH:
        raise Refused("invalid_json", f"payload is nested deeper than {MAX_JSON_DEPTH} levels")
    return payload


def _depth(value: object) -> int:
    """How deep lists and objects nest (iterative: the payload may be deeper than the stack)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((child, level + 1) for child in item)
    return deepest


def raw_text(data: bytes, limit: int) -> tuple[str, str, bool]:
    """The input as text for a dead letter: UTF-8 when it is, else base64; cut at ``limit``."""
    truncated = len(data) > limit
    data = data[:limit]
    try:
        return data.decode("utf-8"), "utf-8", truncated
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64", truncated
