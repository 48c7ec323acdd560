"""The ``score`` command's logic: rank pairs from exported JSON Lines files, offline.

Uses the same validation (the contract's models) and the same matcher as the live pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from matcher import Match, MatchIndex
from schemas import CooperativeProfile, PartnerOffer, suggestion_id
from services.convert import cooperative_from_event, offer_from_event
from services.intake import describe_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class InvalidLine:
    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def read_jsonl(path: Path, model: type[ModelT]) -> tuple[list[ModelT], list[InvalidLine]]:
    """Every valid object of a JSON Lines file, and a ``FILE:LINE: reason`` for each bad line."""
    items: list[ModelT] = []
    invalid: list[InvalidLine] = []
    with path.open(encoding="utf-8", errors="strict") as handle:
        try:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    items.append(model.model_validate_json(text))
                except ValidationError as exc:
                    reason = describe_validation_error(exc)
                    if any(e["type"] == "json_invalid" for e in exc.errors()):
                        reason = "not a JSON object: " + exc.errors()[0]["msg"]
                    invalid.append(InvalidLine(path, number, reason))
        except UnicodeDecodeError as exc:
            invalid.append(InvalidLine(path, number + 1, f"not UTF-8: {exc.reason}"))
    return items, invalid


def build_index(cooperatives: list[CooperativeProfile], offers: list[PartnerOffer]) -> MatchIndex:
    """The newest version of each cooperative and offer wins, as in the live pipeline."""
    index = MatchIndex()
    for profile in sorted(cooperatives, key=lambda p: p.updated_at):
        index.upsert_cooperative(cooperative_from_event(profile))
    for offer in sorted(offers, key=lambda o: o.updated_at):
        index.upsert_offer(offer_from_event(offer))
    return index


def _offer_limit(index: MatchIndex, key: str, top_k: int) -> int:
    offer = index.offer(key)
    capacity = offer.capacity if offer is not None else None
    return top_k if capacity is None else min(top_k, capacity)


def rank_pairs(
    index: MatchIndex,
    offer_keys: list[str],
    cooperative_ids: list[str],
    *,
    per: Literal["offer", "cooperative"],
    top_k: int,
    as_of: date,
    min_score: float,
) -> Iterator[tuple[int, Match]]:
    """(rank, match) for each offer's best cooperatives, or each cooperative's best offers.

    Capacity holds in both directions: a cooperative is offered only offers whose best
    ``capacity`` cooperatives it is among.
    """
    if per == "offer":
        for key in offer_keys:
            limit = _offer_limit(index, key, top_k)
            for rank, match in enumerate(
                index.best_cooperatives(key, limit, as_of, min_score=min_score), start=1
            ):
                yield rank, match
        return
    full = {key for key in offer_keys if (o := index.offer(key)) and o.capacity is not None}
    holders = {
        key: {
            m.cooperative_id
            for m in index.best_cooperatives(
                key, _offer_limit(index, key, index.cooperative_count), as_of, min_score=min_score
            )
        }
        for key in full
    }
    for coop_id in cooperative_ids:
        matches = index.best_offers(coop_id, index.offer_count, as_of, min_score=min_score)
        kept = [m for m in matches if m.offer_key not in holders or coop_id in holders[m.offer_key]]
        for rank, match in enumerate(kept[:top_k], start=1):
            yield rank, match


def suggestion_line(rank: int, match: Match) -> str:
    return json.dumps(
        {
            "suggestion_id": suggestion_id(match.partner_id, match.offer_id, match.cooperative_id),
            "offer_id": match.offer_id,
            "partner_id": match.partner_id,
            "cooperative_id": match.cooperative_id,
            "rank": rank,
            "score": match.score,
            "explanation": [c.as_dict() for c in match.components],
            "summary": match.summary,
        },
        ensure_ascii=False,
    )
