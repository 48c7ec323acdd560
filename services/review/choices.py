"""The values the queue's filters offer: the provinces, regencies, districts and partners with
pending suggestions in scope, and the offer types."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from schemas.regions import region_table
from services.review.cache import KEPT_SECONDS, ScopeCache
from services.review.labels import OFFER_TYPE_LABELS, region_name
from services.review.partners import CHOICES_SECONDS, partner_names
from services.review.scope import scope_filter
from services.storage.models import CoordinatorRow, SuggestionRow, SuggestionStatus


@dataclass
class Choice:
    code: str
    label: str
    pending: int = 0


@dataclass
class FilterChoices:
    provinces: list[Choice]
    regencies: list[Choice]  # label "Kabupaten, Provinsi"
    districts: dict[str, list[Choice]]  # by regency; label "Kecamatan, Kabupaten"
    partners: list[Choice]  # the most pending first
    offer_types: list[str]

    def regencies_in(self, province: str | None) -> list[Choice]:
        if not province:
            return self.regencies
        return [r for r in self.regencies if r.code.startswith(province + ".")]


# A decision leaves the choices as they are: their counts only order the partners.
_choices: ScopeCache[FilterChoices] = ScopeCache(
    CHOICES_SECONDS, KEPT_SECONDS, forget_on_decision=False
)


def filter_choices(session: Session, coordinator: CoordinatorRow) -> FilterChoices:
    """The values the queue's filters offer: those with pending suggestions in scope.

    Computed once per scope, fresh for a minute, then refreshed in the background
    (services/review/cache.py); a choice that emptied meanwhile merely finds nothing.
    """
    return _choices.get(session, coordinator, _compute_choices)


def _compute_choices(session: Session, coordinator: CoordinatorRow) -> FilterChoices:
    table = region_table()
    pending = [scope_filter(coordinator), col(SuggestionRow.status) == SuggestionStatus.PENDING]
    district = func.substr(SuggestionRow.village_code, 1, 8)
    counted = session.exec(
        select(SuggestionRow.regency_code, district, func.count())
        .where(*pending)
        .group_by(col(SuggestionRow.regency_code), district)
    ).all()
    provinces: dict[str, int] = defaultdict(int)
    regencies: dict[str, int] = defaultdict(int)
    districts: dict[str, list[Choice]] = defaultdict(list)
    for regency, code, n in counted:
        provinces[regency[:2]] += n
        regencies[regency] += n
        districts[regency].append(Choice(code, f"{table.name(code)}, {region_name(regency)}", n))
    by_partner = session.exec(
        select(SuggestionRow.partner_id, func.count())
        .where(*pending)
        .group_by(col(SuggestionRow.partner_id))
    ).all()
    names = partner_names(session, [p for p, _ in by_partner])
    return FilterChoices(
        provinces=sorted(
            (Choice(c, table.name(c), n) for c, n in provinces.items()), key=lambda c: c.label
        ),
        regencies=sorted(
            (Choice(c, f"{region_name(c)}, {table.name(c[:2])}", n) for c, n in regencies.items()),
            key=lambda c: c.label,
        ),
        districts={r: sorted(ds, key=lambda c: c.label) for r, ds in districts.items()},
        partners=sorted(
            (Choice(p, names.get(p, p), n) for p, n in by_partner),
            key=lambda c: (-c.pending, c.label),
        ),
        offer_types=list(OFFER_TYPE_LABELS),
    )
