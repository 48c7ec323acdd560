"""The ``score`` command's logic: rank pairs from exported JSON Lines files, offline.

Uses the same validation (the contract's models) and the same matcher as the live pipeline.
Lines are validated one at a time and kept only as the matcher's plain values; ranking per
offer goes through ``matcher.batch.CooperativeColumns``, which scores a whole region's
cooperatives at once, and ranking per cooperative through a ``MatchIndex``.

Ranking per offer uses several processes where fork is available. The cooperatives, in
village-code order, are cut into one contiguous slice per worker (so a regency's offer
mostly meets one slice); each forked worker reads its slice from what the parent holds
(``_FORKED``) instead of receiving it, builds the columns of that slice and ranks every
offer against it, and sends back each offer's k best matches of the slice. An offer's k
best overall are among those, so the parent merges them by ``Match.sort_key``: the output
is the same, in the same order, for any number of workers. Building the columns, the
larger part of the work, is shared out as well as ranking.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from matcher import Cooperative, Match, MatchIndex, Offer
from matcher.batch import CooperativeColumns
from matcher.values import cooperative_value, offer_value
from schemas import CooperativeProfile, PartnerOffer, suggestion_id
from services.ingest.intake import describe_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)
ValueT = TypeVar("ValueT")
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

# What forked workers read: set by the parent before it starts them.
_FORKED: dict[str, Any] = {}


@dataclass(frozen=True)
class InvalidLine:
    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


def read_jsonl(path: Path, model: type[ModelT]) -> Iterator[ModelT | InvalidLine]:
    """Each object of a JSON Lines file, validated, or a ``FILE:LINE: reason`` for a bad line."""
    number = 0
    with path.open(encoding="utf-8", errors="strict") as handle:
        try:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    yield model.model_validate_json(text)
                except ValidationError as exc:
                    reason = describe_validation_error(exc)
                    if any(e["type"] == "json_invalid" for e in exc.errors()):
                        reason = "not a JSON object: " + exc.errors()[0]["msg"]
                    yield InvalidLine(path, number, reason)
        except UnicodeDecodeError as exc:
            yield InvalidLine(path, number + 1, f"not UTF-8: {exc.reason}")


def newest(
    path: Path,
    model: type[ModelT],
    key: Callable[[ModelT], str],
    value: Callable[[ModelT], ValueT],
    invalid: list[InvalidLine],
) -> dict[str, ValueT]:
    """The newest version of each entity of the file (by ``updated_at``; on a tie the later
    line, as in the live pipeline), keyed in the order each first appears. Bad lines go to
    ``invalid``."""
    found: dict[str, tuple[datetime, ValueT]] = {}
    for item in read_jsonl(path, model):
        if isinstance(item, InvalidLine):
            invalid.append(item)
            continue
        seen = found.get(key(item))
        # Both input events carry updated_at; ModelT is bound to BaseModel only (read_jsonl).
        stamp: datetime = item.updated_at  # type: ignore[attr-defined]
        if seen is None or not stamp < seen[0]:
            found[key(item)] = (stamp, value(item))
    return {k: v for k, (_, v) in found.items()}


def read_inputs(
    cooperatives: Path, offers: Path
) -> tuple[dict[str, Cooperative], dict[str, Offer], list[InvalidLine]]:
    """Cooperatives by id and offers by key (newest versions), and every invalid line."""
    invalid: list[InvalidLine] = []
    coops = newest(
        cooperatives, CooperativeProfile, lambda p: p.cooperative_id, cooperative_value, invalid
    )
    offer_values = newest(
        offers, PartnerOffer, lambda o: f"{o.partner_id}/{o.offer_id}", offer_value, invalid
    )
    return coops, offer_values, invalid


def _limit(offer: Offer, top_k: int) -> int:
    return top_k if offer.capacity is None else min(top_k, offer.capacity)


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a batch is read and ranked.

    A batch makes no reference cycles worth collecting, but holds millions of objects (the
    values, their term sets and words), and every full collection walks all of them: a
    tenth of the command's CPU time, and in a forked worker it would also copy every page
    it touches.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def forked_map(
    function: Callable[[ItemT], ResultT], items: Sequence[ItemT], workers: int
) -> Iterator[ResultT]:
    """``map(function, items)``, in order, in ``workers`` forked processes (in this one
    when there is one worker, one item, or no fork)."""
    if workers <= 1 or len(items) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(function, items)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(function, items)


# A match as a worker sends it back: its sort key, and its output line around the rank.
_Ranked = tuple[tuple[float, str, str, str], str, str]


def _slice_matches(index: int) -> list[list[_Ranked]]:
    """Each offer's k best matches among one slice of the cooperatives (in a worker), as
    sort keys and formatted lines: the parent only merges and writes. (Formatting here
    costs the worker what pickling the matches cost it, and spares the parent both the
    unpickling and the formatting, all of it serial.)"""
    columns = CooperativeColumns(_FORKED["slices"][index])
    top_k, as_of, min_score = _FORKED["job"]
    return [
        [
            (m.sort_key, *suggestion_parts(m))
            for m in columns.best_cooperatives(
                offer, _limit(offer, top_k), as_of, min_score=min_score
            )
        ]
        for offer in _FORKED["offers"]
    ]


def score_lines(
    cooperatives: dict[str, Cooperative],
    offers: dict[str, Offer],
    *,
    per: Literal["offer", "cooperative"],
    top_k: int,
    as_of: date,
    min_score: float,
    workers: int = 1,
) -> Iterator[str]:
    """The command's output lines (``suggestion_line``), ranked as ``rank_pairs`` ranks
    them; per offer in ``workers`` processes, each with a slice of the cooperatives."""
    if per == "cooperative" or workers <= 1:
        for rank, match in rank_pairs(
            cooperatives, offers, per=per, top_k=top_k, as_of=as_of, min_score=min_score
        ):
            yield suggestion_line(rank, match)
        return
    coops = sorted(cooperatives.values(), key=lambda c: c.village_code)
    size = max(1, -(-len(coops) // workers))
    listed = list(offers.values())
    _FORKED.update(
        slices=[coops[i : i + size] for i in range(0, len(coops), size)],
        offers=listed,
        job=(top_k, as_of, min_score),
    )
    try:
        found = list(forked_map(_slice_matches, range(len(_FORKED["slices"])), workers))
    finally:
        _FORKED.clear()
    for i, offer in enumerate(listed):
        merged = sorted(m for matches in found for m in matches[i])
        for rank, (_, head, tail) in enumerate(merged[: _limit(offer, top_k)], start=1):
            yield f"{head}{rank}{tail}"


def rank_pairs(
    cooperatives: dict[str, Cooperative],
    offers: dict[str, Offer],
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
        columns = CooperativeColumns(cooperatives.values())
        for offer in offers.values():
            best = columns.best_cooperatives(
                offer, _limit(offer, top_k), as_of, min_score=min_score
            )
            yield from enumerate(best, start=1)
        return
    index = MatchIndex()
    index.upsert_cooperatives(cooperatives.values())
    index.upsert_offers(offers.values())
    holders = {
        key: {
            m.cooperative_id
            for m in index.best_cooperatives(
                key, _limit(offer, index.cooperative_count), as_of, min_score=min_score
            )
        }
        for key, offer in offers.items()
        if offer.capacity is not None
    }
    for coop_id in cooperatives:
        matches = index.best_offers(coop_id, index.offer_count, as_of, min_score=min_score)
        kept = [m for m in matches if m.offer_key not in holders or coop_id in holders[m.offer_key]]
        yield from enumerate(kept[:top_k], start=1)


def suggestion_line(rank: int, match: Match) -> str:
    """One output line: a JSON object, with its keys in this order."""
    head, tail = suggestion_parts(match)
    return f"{head}{rank}{tail}"


def suggestion_parts(match: Match) -> tuple[str, str]:
    """``suggestion_line`` before and after its rank: ``json.dumps`` of the object joins
    its items with ", " between braces, so the two halves join around the rank."""
    ids = {
        "suggestion_id": suggestion_id(match.partner_id, match.offer_id, match.cooperative_id),
        "offer_id": match.offer_id,
        "partner_id": match.partner_id,
        "cooperative_id": match.cooperative_id,
    }
    rest = {
        "score": match.score,
        "explanation": [c.as_dict() for c in match.components],
        "summary": match.summary,
    }
    head = json.dumps(ids, ensure_ascii=False)[:-1] + ', "rank": '
    return head, ", " + json.dumps(rest, ensure_ascii=False)[1:]
