"""The overview: suggestions and coverage per regency (summed per province) and decisions per
partner, for a coordinator's scope."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, case, func
from sqlmodel import Session, col, select

from schemas.regions import region_table
from services.review.cache import KEPT_SECONDS, ScopeCache
from services.review.labels import region_name
from services.review.partners import partner_names
from services.review.scope import region_condition, scope_filter
from services.storage.models import CooperativeRow, CoordinatorRow, SuggestionRow, SuggestionStatus

# Computed once per scope like the filter choices; a decision taken here drops it at once
# (services/review/cache.py).
OVERVIEW_SECONDS = 60.0


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
        return _summed(RegencyStats("", "Jumlah"), self.regencies)

    @property
    def provinces(self) -> list[RegencyStats]:
        """The regencies summed per province (the admin's overview starts here)."""
        table = region_table()
        by_province: dict[str, list[RegencyStats]] = defaultdict(list)
        for r in self.regencies:
            by_province[r.code[:2]].append(r)
        return sorted(
            (_summed(RegencyStats(p, table.name(p)), rs) for p, rs in by_province.items()),
            key=lambda r: r.name,
        )

    @property
    def largest_province(self) -> int:
        return max((r.pending + r.approved + r.rejected for r in self.provinces), default=0) or 1


def _summed(total: RegencyStats, parts: list[RegencyStats]) -> RegencyStats:
    for r in parts:
        total.pending += r.pending
        total.approved += r.approved
        total.rejected += r.rejected
        total.cooperatives += r.cooperatives
        total.covered += r.covered
    return total


_overviews: ScopeCache[Overview] = ScopeCache(OVERVIEW_SECONDS, KEPT_SECONDS)


def overview(
    session: Session, coordinator: CoordinatorRow, province: str | None = None
) -> Overview:
    """Per regency of the scope (of ``province`` only, if given) and per partner: computed
    once per scope, fresh for a minute (then refreshed in the background), dropped when a
    decision here changes it."""
    return _overviews.get(
        session, coordinator, lambda s, c: _compute_overview(s, c, province), province
    )


def _compute_overview(
    session: Session, coordinator: CoordinatorRow, province: str | None
) -> Overview:
    in_scope = scope_filter(coordinator)
    if province:
        in_scope = and_(in_scope, region_condition(province))
    stats: dict[str, RegencyStats] = {}

    def regency(code: str) -> RegencyStats:
        if code not in stats:
            stats[code] = RegencyStats(code, region_name(code))
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
    cooperatives_in_scope = scope_filter(coordinator, CooperativeRow)
    if province:
        cooperatives_in_scope = and_(
            cooperatives_in_scope, region_condition(province, CooperativeRow)
        )
    cooperatives = session.exec(
        select(CooperativeRow.regency_code, func.count())
        .where(cooperatives_in_scope)
        .group_by(col(CooperativeRow.regency_code))
    ).all()
    for code, n in cooperatives:
        regency(code).cooperatives = n
    approved = func.sum(case((col(SuggestionRow.status) == SuggestionStatus.APPROVED, 1), else_=0))
    rejected = func.sum(case((col(SuggestionRow.status) == SuggestionStatus.REJECTED, 1), else_=0))
    # Grouped on the suggestion table alone (its partner/status index); names looked up after.
    partners = session.exec(
        select(SuggestionRow.partner_id, approved, rejected)
        .where(in_scope)
        .group_by(col(SuggestionRow.partner_id))
    ).all()
    names = partner_names(session, [p for p, _, _ in partners])
    return Overview(
        regencies=sorted(stats.values(), key=lambda r: (r.code[:2], r.name)),
        partners=sorted(
            (PartnerStats(p, names.get(p, p), int(a or 0), int(r or 0)) for p, a, r in partners),
            key=lambda p: (-(p.approved + p.rejected), p.name),
        ),
    )
