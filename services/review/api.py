"""JSON API: the dashboard's powers for integrations, with the same scope rules.

Authentication: ``Authorization: Bearer <token>`` (``kopdes-match coordinator token``).
No cookies are read here, so no CSRF token is needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from schemas import Decision
from services.review import decisions
from services.review.deps import ApiCoordinator, SessionDep
from services.review.detail import detail
from services.review.filters import MAX_PER_PAGE, PER_PAGE, QueueFilter, Sort, offer_key
from services.review.labels import APPROVE_REASONS, REJECT_REASONS
from services.review.models import AuditPublic, CoordinatorPublic, DecisionPublic
from services.review.overview import overview as scope_overview
from services.review.queue import BadCursor, QueueItem, queue
from services.review.ranks import current_ranks, rank_of

router = APIRouter(tags=["review"])


class Problem(BaseModel):
    detail: str
    existing: DecisionPublic | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing, unknown or revoked token"},
    404: {"model": Problem, "description": "no such suggestion in the coordinator's scope"},
}
DECIDE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {"model": Problem, "description": "decided already, changed meanwhile, or offer full"},
    422: {"model": Problem, "description": "unknown reason code, note too long"},
}


class SuggestionOut(BaseModel):
    suggestion_id: str
    partner_id: str
    offer_id: str
    cooperative_id: str
    cooperative_name: str
    offer_title: str
    partner_name: str
    offer_type: str
    regency_code: str
    province_code: str
    village_code: str
    score: float
    rank: int = Field(
        description="1 = best for the offer in the cooperative's province: its place now "
        "among the offer's pending suggestions there (a decided one: as it was stored)"
    )
    basis: list[str] = Field(
        description="why it is suggested: 'offer' (among the offer's best in the province), "
        "'cooperative' (among the cooperative's best offers), or both"
    )
    status: str
    version: int
    summary: str
    explanation: list[dict[str, Any]]
    updated_at: datetime


def _out(item: QueueItem, ranks: dict[str, int]) -> SuggestionOut:
    s = item.suggestion
    return SuggestionOut(
        suggestion_id=s.suggestion_id,
        partner_id=s.partner_id,
        offer_id=s.offer_id,
        cooperative_id=s.cooperative_id,
        cooperative_name=item.cooperative_name,
        offer_title=item.offer_title,
        partner_name=item.partner_name,
        offer_type=item.offer_type,
        regency_code=s.regency_code,
        province_code=s.province_code,
        village_code=s.village_code,
        score=s.score,
        rank=rank_of(s, ranks),
        basis=s.basis,
        status=str(s.status),
        version=s.version,
        summary=s.summary,
        explanation=s.explanation,
        updated_at=s.updated_at,
    )


class QueueOut(BaseModel):
    items: list[SuggestionOut]
    total: int
    page: int
    per_page: int
    pages: int
    next_cursor: str | None = None
    previous_cursor: str | None = None


class DetailOut(BaseModel):
    suggestion: SuggestionOut
    cooperative: dict[str, Any]
    offer: dict[str, Any]
    approved_for_offer: int
    same_cooperative: list[SuggestionOut]
    same_offer: list[SuggestionOut]
    decisions: list[DecisionPublic]
    audit: list[AuditPublic]


class DecisionIn(BaseModel):
    decision: Decision
    reason_code: str = Field(max_length=40)
    note: str = Field("", max_length=decisions.MAX_NOTE)
    version: int = Field(description="the suggestion version the decision was made on")


class BulkItem(BaseModel):
    suggestion_id: str = Field(max_length=40)
    version: int


class BulkIn(BaseModel):
    items: list[BulkItem] = Field(min_length=1, max_length=200)
    reason_code: str = Field(max_length=40)
    note: str = Field("", max_length=decisions.MAX_NOTE)


class BulkOut(BaseModel):
    approved: list[str]
    refused: dict[str, str]


class ReopenIn(BaseModel):
    version: int
    note: str = Field("", max_length=decisions.MAX_NOTE)


class RegencyOut(BaseModel):
    regency_code: str
    name: str
    pending: int
    approved: int
    rejected: int
    cooperatives: int
    covered: int
    coverage: float


class PartnerOut(BaseModel):
    partner_id: str
    name: str
    approved: int
    rejected: int
    approval_rate: float | None


class OverviewOut(BaseModel):
    regencies: list[RegencyOut]
    partners: list[PartnerOut]


def _refused(error: decisions.DecisionError) -> JSONResponse:
    existing = (
        DecisionPublic.model_validate(error.existing, from_attributes=True).model_dump(mode="json")
        if error.existing
        else None
    )
    return JSONResponse(
        {"detail": error.message, "existing": existing}, status_code=error.status_code
    )


@router.get("/me", response_model=CoordinatorPublic, responses=ERRORS)
def me(coordinator: ApiCoordinator) -> Any:
    return coordinator


@router.get("/reasons", responses=ERRORS)
def reasons(coordinator: ApiCoordinator) -> dict[str, dict[str, str]]:
    """Reason codes of a decision, with their words (Bahasa Indonesia)."""
    return {"approved": APPROVE_REASONS, "rejected": REJECT_REASONS}


@router.get("/suggestions", response_model=QueueOut, responses=ERRORS)
def list_suggestions(
    session: SessionDep,
    coordinator: ApiCoordinator,
    q: Annotated[str | None, Query(max_length=100, description="name, id or region code")] = None,
    province: Annotated[str | None, Query(max_length=2)] = None,
    regency: Annotated[str | None, Query(max_length=13)] = None,
    district: Annotated[str | None, Query(max_length=13)] = None,
    partner: Annotated[str | None, Query(max_length=200, description="id or name")] = None,
    offer_type: Annotated[str | None, Query(max_length=20)] = None,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    cooperative: Annotated[
        str | None, Query(max_length=64, description="cooperative_id: its suggestions")
    ] = None,
    offer: Annotated[
        str | None, Query(max_length=129, description="partner_id/offer_id: its suggestions")
    ] = None,
    sort: Sort = "score",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = PER_PAGE,
    after: Annotated[str | None, Query(max_length=300, description="next_cursor")] = None,
    before: Annotated[str | None, Query(max_length=300, description="previous_cursor")] = None,
    end: Annotated[bool, Query(description="the last page")] = False,
) -> Any:
    """Pending suggestions in the coordinator's scope, filtered, sorted and paginated.

    Page with ``after=<next_cursor>`` (fast at any depth); ``page`` is an offset and slows
    down deep in a large queue."""
    if offer and offer_key(offer) is None:
        raise HTTPException(422, "offer is partner_id/offer_id")
    f = QueueFilter(
        q, province, regency, district, partner, offer_type, min_score, cooperative, offer,
        sort, page, per_page, after, before, end,
    )  # fmt: skip
    try:
        result = queue(session, coordinator, f)
    except BadCursor:
        raise HTTPException(422, "after/before is not a cursor of this sort") from None
    ranks = current_ranks(session, (i.suggestion for i in result.items))
    return QueueOut(
        items=[_out(i, ranks) for i in result.items],
        total=result.total,
        page=f.page,
        per_page=f.per_page,
        pages=result.pages,
        next_cursor=result.next_cursor,
        previous_cursor=result.previous_cursor,
    )


def _as_dict(row: Any) -> dict[str, Any]:
    return row.model_dump(mode="json") if row is not None else {}


@router.get("/suggestions/{suggestion_id}", response_model=DetailOut, responses=ERRORS)
def get_suggestion(session: SessionDep, coordinator: ApiCoordinator, suggestion_id: str) -> Any:
    found = detail(session, coordinator, suggestion_id[:40])
    if found is None:
        raise HTTPException(404, decisions.NOT_FOUND)
    coop = found.cooperative
    offer = found.offer
    item = QueueItem(
        found.suggestion,
        coop.name if coop else "",
        offer.title if offer else "",
        offer.partner_name if offer else "",
        offer.offer_type if offer else "",
    )
    listed = [i.suggestion for i in (*found.same_cooperative, *found.same_offer)]
    ranks = {**current_ranks(session, listed), found.suggestion.suggestion_id: found.rank}
    return DetailOut(
        suggestion=_out(item, ranks),
        cooperative=_as_dict(coop),
        offer=_as_dict(offer),
        approved_for_offer=found.approved_for_offer,
        same_cooperative=[_out(i, ranks) for i in found.same_cooperative],
        same_offer=[_out(i, ranks) for i in found.same_offer],
        decisions=[DecisionPublic.model_validate(d, from_attributes=True) for d in found.decisions],
        audit=[AuditPublic.model_validate(a, from_attributes=True) for a in found.audit],
    )


@router.post(
    "/suggestions/{suggestion_id}/decision",
    response_model=DecisionPublic,
    status_code=201,
    responses=DECIDE_ERRORS,
)
def decide(
    request: Request, coordinator: ApiCoordinator, suggestion_id: str, body: DecisionIn
) -> Any:
    """Approve or reject; publishes ``kopdes.match.decided``. A repeat gets 409 and the
    existing decision, never a second event."""
    try:
        record = decisions.decide(
            request.app.state.engine,
            coordinator,
            suggestion_id,
            body.decision,
            body.reason_code,
            body.note,
            body.version,
        )
    except decisions.DecisionError as refused:
        return _refused(refused)
    request.app.state.wake()
    return DecisionPublic.model_validate(record, from_attributes=True)


@router.post("/suggestions/bulk-approve", response_model=BulkOut, responses=DECIDE_ERRORS)
def bulk_approve(request: Request, coordinator: ApiCoordinator, body: BulkIn) -> Any:
    """Approve several suggestions, each on its own; the refused ones say why."""
    try:
        result = decisions.bulk_approve(
            request.app.state.engine,
            coordinator,
            [(i.suggestion_id, i.version) for i in body.items],
            body.reason_code,
            body.note,
        )
    except decisions.DecisionError as refused:
        return _refused(refused)
    if result.approved:
        request.app.state.wake()
    return BulkOut(approved=result.approved, refused=result.refused)


@router.post(
    "/suggestions/{suggestion_id}/reopen",
    response_model=SuggestionOut,
    responses={**DECIDE_ERRORS, 403: {"model": Problem, "description": "not a PMO or admin"}},
)
def reopen(
    request: Request,
    session: SessionDep,
    coordinator: ApiCoordinator,
    suggestion_id: str,
    body: ReopenIn,
) -> Any:
    """Set a decided suggestion back to pending (PMO or admin only)."""
    try:
        decisions.reopen(
            request.app.state.engine, coordinator, suggestion_id, body.version, body.note
        )
    except decisions.DecisionError as refused:
        return _refused(refused)
    request.app.state.wake()
    return get_suggestion(session, coordinator, suggestion_id).suggestion


@router.get("/overview", response_model=OverviewOut, responses=ERRORS)
def overview(session: SessionDep, coordinator: ApiCoordinator) -> Any:
    """Per regency: pending/approved/rejected and coverage; approval rate per partner."""
    o = scope_overview(session, coordinator)
    return OverviewOut(
        regencies=[
            RegencyOut(
                regency_code=r.code,
                name=r.name,
                pending=r.pending,
                approved=r.approved,
                rejected=r.rejected,
                cooperatives=r.cooperatives,
                covered=r.covered,
                coverage=r.coverage,
            )
            for r in o.regencies
        ],
        partners=[
            PartnerOut(
                partner_id=p.partner_id,
                name=p.name,
                approved=p.approved,
                rejected=p.rejected,
                approval_rate=p.rate,
            )
            for p in o.partners
        ],
    )
