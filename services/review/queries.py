"""What the pages and the API read: the queue, a suggestion's detail, the overview.

Every query selects suggestions through ``scope_filter``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from schemas.regions import region_table
from services.review.models import AuditRow, Coordinator, DecisionRow
from services.review.scope import scope_filter
from services.storage.models import CooperativeRow, OfferRow, SuggestionRow, SuggestionStatus

Sort = Literal["score", "newest", "oldest", "cooperative"]
PER_PAGE = 25
MAX_PER_PAGE = 100


@dataclass
class QueueFilter:
    regency: str | None = None
    district: str | None = None
    partner: str | None = None
    offer_type: str | None = None
    min_score: float | None = None
    sort: Sort = "score"
    page: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        self.page = max(1, self.page)
        self.per_page = min(max(1, self.per_page), MAX_PER_PAGE)


@dataclass
class QueueItem:
    suggestion: SuggestionRow
    cooperative_name: str
    offer_title: str
    partner_name: str
    offer_type: str


@dataclass
class QueuePage:
    items: list[QueueItem]
    total: int
    filter: QueueFilter

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filter.per_page))


def _joined() -> Any:
    return (
        select(
            SuggestionRow,
            CooperativeRow.name,
            OfferRow.title,
            OfferRow.partner_name,
            OfferRow.offer_type,
        )
        .join(CooperativeRow, col(CooperativeRow.cooperative_id) == SuggestionRow.cooperative_id)
        .join(
            OfferRow,
            (col(OfferRow.partner_id) == SuggestionRow.partner_id)
            & (col(OfferRow.offer_id) == SuggestionRow.offer_id),
        )
    )


def _item(row: Any) -> QueueItem:
    return QueueItem(row[0], row[1], row[2], row[3], row[4])


def queue(session: Session, coordinator: Coordinator, f: QueueFilter) -> QueuePage:
    conditions = [
        scope_filter(coordinator),
        col(SuggestionRow.status) == SuggestionStatus.PENDING,
    ]
    if f.regency:
        conditions.append(col(SuggestionRow.regency_code) == f.regency)
    if f.district:
        conditions.append(col(SuggestionRow.village_code).startswith(f.district + "."))
    if f.partner:
        conditions.append(col(SuggestionRow.partner_id) == f.partner)
    if f.offer_type:
        conditions.append(col(OfferRow.offer_type) == f.offer_type)
    if f.min_score is not None:
        conditions.append(col(SuggestionRow.score) >= f.min_score)
    order = {
        "score": [col(SuggestionRow.score).desc(), col(SuggestionRow.suggestion_id)],
        "newest": [col(SuggestionRow.updated_at).desc(), col(SuggestionRow.suggestion_id)],
        "oldest": [col(SuggestionRow.updated_at), col(SuggestionRow.suggestion_id)],
        "cooperative": [col(CooperativeRow.name), col(SuggestionRow.suggestion_id)],
    }[f.sort]
    base = _joined().where(*conditions)
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(*order).offset((f.page - 1) * f.per_page).limit(f.per_page)
    ).all()
    return QueuePage([_item(r) for r in rows], total, f)


@dataclass
class FilterChoices:
    regencies: list[tuple[str, str]]
    districts: list[tuple[str, str]]
    partners: list[tuple[str, str]]
    offer_types: list[str]


def filter_choices(
    session: Session, coordinator: Coordinator, regency: str | None = None
) -> FilterChoices:
    """The values the queue's filters offer: only those with pending suggestions in scope."""
    pending = [scope_filter(coordinator), col(SuggestionRow.status) == SuggestionStatus.PENDING]
    table = region_table()
    regencies = session.exec(select(SuggestionRow.regency_code).where(*pending).distinct()).all()
    village_query = select(SuggestionRow.village_code).where(*pending).distinct()
    if regency:
        village_query = village_query.where(col(SuggestionRow.regency_code) == regency)
    districts = sorted({v.rsplit(".", 1)[0] for v in session.exec(village_query).all()})
    partners = session.exec(
        select(OfferRow.partner_id, OfferRow.partner_name)
        .join(
            SuggestionRow,
            (col(OfferRow.partner_id) == SuggestionRow.partner_id)
            & (col(OfferRow.offer_id) == SuggestionRow.offer_id),
        )
        .where(*pending)
        .distinct()
    ).all()
    offer_types = session.exec(
        select(OfferRow.offer_type)
        .join(
            SuggestionRow,
            (col(OfferRow.partner_id) == SuggestionRow.partner_id)
            & (col(OfferRow.offer_id) == SuggestionRow.offer_id),
        )
        .where(*pending)
        .distinct()
    ).all()
    return FilterChoices(
        regencies=sorted(((c, table.name(c)) for c in regencies), key=lambda x: x[1]),
        districts=sorted(((c, table.name(c)) for c in districts), key=lambda x: x[1]),
        partners=sorted({(p, n) for p, n in partners}, key=lambda x: x[1]),
        offer_types=sorted(set(offer_types)),
    )


@dataclass
class Detail:
    suggestion: SuggestionRow
    cooperative: CooperativeRow | None
    offer: OfferRow | None
    approved_for_offer: int
    same_cooperative: list[QueueItem]
    same_offer: list[QueueItem]
    decisions: list[DecisionRow]
    audit: list[AuditRow]


def detail(session: Session, coordinator: Coordinator, suggestion_id: str) -> Detail | None:
    """A suggestion in scope with its context, or None (also when it is out of scope)."""
    row = session.exec(
        select(SuggestionRow).where(
            SuggestionRow.suggestion_id == suggestion_id, scope_filter(coordinator)
        )
    ).first()
    if row is None:
        return None
    cooperative = session.get(CooperativeRow, row.cooperative_id)
    offer = session.get(OfferRow, (row.partner_id, row.offer_id))
    approved = session.exec(
        select(func.count())
        .select_from(SuggestionRow)
        .where(
            SuggestionRow.partner_id == row.partner_id,
            SuggestionRow.offer_id == row.offer_id,
            SuggestionRow.status == SuggestionStatus.APPROVED,
        )
    ).one()
    others = _joined().where(
        scope_filter(coordinator),
        col(SuggestionRow.suggestion_id) != suggestion_id,
        col(SuggestionRow.status) != SuggestionStatus.RETRACTED,
    )
    same_cooperative = session.exec(
        others.where(col(SuggestionRow.cooperative_id) == row.cooperative_id)
        .order_by(col(SuggestionRow.score).desc())
        .limit(20)
    ).all()
    same_offer = session.exec(
        others.where(
            col(SuggestionRow.partner_id) == row.partner_id,
            col(SuggestionRow.offer_id) == row.offer_id,
        )
        .order_by(col(SuggestionRow.score).desc())
        .limit(20)
    ).all()
    decisions = session.exec(
        select(DecisionRow)
        .where(DecisionRow.suggestion_id == suggestion_id)
        .order_by(col(DecisionRow.id).desc())
    ).all()
    audit = session.exec(
        select(AuditRow).where(AuditRow.target == suggestion_id).order_by(col(AuditRow.id).desc())
    ).all()
    return Detail(
        row,
        cooperative,
        offer,
        approved,
        [_item(r) for r in same_cooperative],
        [_item(r) for r in same_offer],
        list(decisions),
        list(audit),
    )


@dataclass
class RegencyStats:
    code: str
    name: str
    pending: int = 0
    approved: int = 0
    rejected: int = 0
    cooperatives: int = 0  # cooperatives of the regency in scope
    covered: int = 0  # of which at least one approved partner

    @property
    def coverage(self) -> float:
        return self.covered / self.cooperatives if self.cooperatives else 0.0


@dataclass
class PartnerStats:
    partner_id: str
    name: str
    approved: int
    rejected: int

    @property
    def rate(self) -> float | None:
        decided = self.approved + self.rejected
        return self.approved / decided if decided else None


@dataclass
class Overview:
    regencies: list[RegencyStats] = field(default_factory=list)
    partners: list[PartnerStats] = field(default_factory=list)

    @property
    def largest(self) -> int:
        """The most suggestions of one regency: the full width of the bars."""
        return max((r.pending + r.approved + r.rejected for r in self.regencies), default=0) or 1

    @property
    def totals(self) -> RegencyStats:
        total = RegencyStats("", "Jumlah")
        for r in self.regencies:
            total.pending += r.pending
            total.approved += r.approved
            total.rejected += r.rejected
            total.cooperatives += r.cooperatives
            total.covered += r.covered
        return total


def overview(session: Session, coordinator: Coordinator) -> Overview:
    table = region_table()
    in_scope = scope_filter(coordinator)
    stats: dict[str, RegencyStats] = {}

    def regency(code: str) -> RegencyStats:
        if code not in stats:
            stats[code] = RegencyStats(code, table.name(code).removeprefix("Kabupaten "))
        return stats[code]

    counts = session.exec(
        select(SuggestionRow.regency_code, SuggestionRow.status, func.count())
        .where(in_scope)
        .group_by(col(SuggestionRow.regency_code), col(SuggestionRow.status))
    ).all()
    for code, status, n in counts:
        if status in ("pending", "approved", "rejected"):
            setattr(regency(code), str(status), n)
    covered = session.exec(
        select(SuggestionRow.regency_code, func.count(func.distinct(SuggestionRow.cooperative_id)))
        .where(in_scope, col(SuggestionRow.status) == SuggestionStatus.APPROVED)
        .group_by(col(SuggestionRow.regency_code))
    ).all()
    for code, n in covered:
        regency(code).covered = n
    cooperatives = session.exec(
        select(CooperativeRow.regency_code, func.count())
        .where(scope_filter(coordinator, CooperativeRow))
        .group_by(col(CooperativeRow.regency_code))
    ).all()
    for code, n in cooperatives:
        regency(code).cooperatives = n
    approved = func.sum(case((col(SuggestionRow.status) == SuggestionStatus.APPROVED, 1), else_=0))
    rejected = func.sum(case((col(SuggestionRow.status) == SuggestionStatus.REJECTED, 1), else_=0))
    partners = session.exec(
        select(SuggestionRow.partner_id, func.max(OfferRow.partner_name), approved, rejected)
        .join(
            OfferRow,
            (col(OfferRow.partner_id) == SuggestionRow.partner_id)
            & (col(OfferRow.offer_id) == SuggestionRow.offer_id),
        )
        .where(in_scope)
        .group_by(col(SuggestionRow.partner_id))
    ).all()
    return Overview(
        regencies=sorted(stats.values(), key=lambda r: r.name),
        partners=sorted(
            (PartnerStats(p, n or p, int(a or 0), int(r or 0)) for p, n, a, r in partners),
            key=lambda p: (-(p.approved + p.rejected), p.name),
        ),
    )
