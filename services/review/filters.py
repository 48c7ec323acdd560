"""The queue's filter: what a coordinator narrows the pending queue to, as URL parameters and
as SQL conditions on the suggestions (every one selects through ``scope_filter``), and what it
names in words."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from sqlalchemy import ColumnElement, Engine, func, or_, tuple_
from sqlmodel import Session, col, select

from schemas.events import IDENTIFIER_PATTERN
from services.review.partners import partner_ids
from services.review.scope import region_condition, scope_filter
from services.review.search import search
from services.storage.models import (
    CooperativeRow,
    CoordinatorRow,
    OfferRow,
    SuggestionRow,
    SuggestionStatus,
)

Sort = Literal["score", "newest", "oldest", "cooperative"]
SORTS = ("score", "newest", "oldest", "cooperative")


def is_sort(value: str) -> TypeGuard[Sort]:
    return value in SORTS


PER_PAGE = 25
MAX_PER_PAGE = 100
IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


@dataclass
class QueueFilter:
    q: str | None = None  # cooperative name, village name, or an id or region code
    province: str | None = None
    regency: str | None = None
    district: str | None = None
    partner: str | None = None
    offer_type: str | None = None
    min_score: float | None = None
    cooperative: str | None = None  # exactly this cooperative id: its suggestions across offers
    offer: str | None = None  # exactly this offer, as "partner_id/offer_id" (see offer_key)
    sort: Sort = "score"
    page: int = 1  # offset pages, kept for API clients; the dashboard pages with cursors
    per_page: int = PER_PAGE
    after: str | None = None  # cursor: the page after this key
    before: str | None = None  # cursor: the page before this key
    end: bool = False  # the last page

    def __post_init__(self) -> None:
        self.page = max(1, self.page)
        self.per_page = min(max(1, self.per_page), MAX_PER_PAGE)

    def params(self) -> dict[str, str]:
        """The filter as URL parameters (without the page): links keep it."""
        values = {
            "q": self.q,
            "province": self.province,
            "regency": self.regency,
            "district": self.district,
            "partner": self.partner,
            "offer_type": self.offer_type,
            "min_score": None if self.min_score is None else f"{self.min_score:g}",
            "cooperative": self.cooperative,
            "offer": self.offer,
            "sort": None if self.sort == "score" else self.sort,  # the default is no filter
        }
        return {k: v for k, v in values.items() if v}


def offer_key(value: str) -> tuple[str, str] | None:
    """``partner_id/offer_id`` as its two ids, or None when it is not that (identifiers
    never hold a slash, so the split is unambiguous)."""
    partner_id, slash, offer_id = value.partition("/")
    ids_ok = all(IDENTIFIER.fullmatch(part) for part in (partner_id, offer_id))
    return (partner_id, offer_id) if slash and ids_ok else None


def filter_conditions(engine: Engine, coordinator: CoordinatorRow, f: QueueFilter) -> list[Any]:
    pending: ColumnElement[bool] = col(SuggestionRow.status) == SuggestionStatus.PENDING
    if (f.cooperative or f.offer) and engine.dialect.name == "sqlite":
        # Without statistics SQLite takes the status for selective and walks the whole
        # pending queue in score order looking for one cooperative's rows (a second on a
        # national queue). Most rows are pending: told so, it leads with the cooperative's
        # or the offer's index. PostgreSQL's statistics know it already.
        pending = func.likely(pending)
    conditions: list[Any] = [scope_filter(coordinator), pending]
    for code in (f.province, f.regency, f.district):
        if code:
            conditions.append(region_condition(code))
    if f.partner:
        conditions.append(col(SuggestionRow.partner_id).in_(partner_ids(engine, f.partner)))
    if f.offer_type:
        # On the suggestion's own columns (no join): a page is chosen from the suggestion
        # table's indexes alone, and the names are joined to its rows only (``queue._rows``).
        of_type = select(OfferRow.partner_id, OfferRow.offer_id).where(
            col(OfferRow.offer_type) == f.offer_type
        )
        conditions.append(
            tuple_(col(SuggestionRow.partner_id), col(SuggestionRow.offer_id)).in_(of_type)
        )
    if f.min_score is not None:
        conditions.append(col(SuggestionRow.score) >= f.min_score)
    # Equalities on the leading columns of the cooperative/status and offer/status indexes.
    if f.cooperative:
        conditions.append(col(SuggestionRow.cooperative_id) == f.cooperative)
    if f.offer:
        partner_id, offer_id = offer_key(f.offer) or ("", "")
        conditions.append(col(SuggestionRow.partner_id) == partner_id)
        conditions.append(col(SuggestionRow.offer_id) == offer_id)
    if f.q:
        hits = search(engine, f.q)
        if hits.region_prefix:
            conditions.append(region_condition(hits.region_prefix))
        else:
            # Villages through their regencies too: the regency column is indexed.
            regencies = sorted({code[:5] for code in hits.village_codes})
            conditions.append(
                or_(
                    col(SuggestionRow.cooperative_id).in_(hits.cooperative_ids),
                    col(SuggestionRow.regency_code).in_(regencies)
                    & col(SuggestionRow.village_code).in_(hits.village_codes),
                )
            )
    return conditions


def cooperative_conditions(coordinator: CoordinatorRow, f: QueueFilter) -> list[Any]:
    """The scope and region filters again on the cooperative (whose regency and village
    are its suggestions'), for the cooperative sort: walking cooperatives by name, the
    planner skips those outside before looking up their suggestions (a province's first
    page: 1,250 lookups to find 25)."""
    conditions = [scope_filter(coordinator, CooperativeRow)]
    for code in (f.province, f.regency, f.district):
        if code:
            conditions.append(region_condition(code, CooperativeRow))
    return conditions


def narrowed_to(session: Session, coordinator: CoordinatorRow, f: QueueFilter) -> dict[str, str]:
    """What the cooperative and offer filters name, in words: a cooperative's name only when
    it is in scope (a filter never tells what lies outside), an offer's title and partner."""
    names: dict[str, str] = {}
    if f.cooperative:
        name = session.exec(
            select(CooperativeRow.name).where(
                col(CooperativeRow.cooperative_id) == f.cooperative,
                scope_filter(coordinator, CooperativeRow),
            )
        ).first()
        names["cooperative"] = name or f.cooperative
    key = offer_key(f.offer) if f.offer else None
    if key:
        offer = session.get(OfferRow, key)
        names["offer"] = f"{offer.title} ({offer.partner_name})" if offer else "/".join(key)
    return names
