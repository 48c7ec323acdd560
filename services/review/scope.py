"""The one place that turns a coordinator into a filter on suggestions.

Every query of the review (pages, API, counts, charts, decisions) selects suggestions
through ``scope_filter``; nothing else decides what a coordinator may see or touch.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlmodel import col

from schemas.regions import Level, region_contains, region_table
from services.storage.models import CooperativeRow, CoordinatorRow, Role, SuggestionRow

# Which levels of region each role may be given.
ALLOWED_LEVELS = {
    Role.BUSINESS_ASSISTANT: {Level.VILLAGE, Level.DISTRICT},
    Role.PMO: {Level.REGENCY, Level.PROVINCE},
    Role.ADMIN: set(),
}


class ScopeError(ValueError):
    pass


def validate_scope(role: Role, codes: list[str]) -> list[str]:
    """The scope a coordinator of ``role`` may have, or ScopeError saying why not."""
    codes = sorted({c.strip() for c in codes if c.strip()})
    if role == Role.ADMIN:
        if codes:
            raise ScopeError("an admin sees every region: give no scope")
        return []
    if not codes:
        raise ScopeError(f"a {role.value} needs at least one region code")
    table = region_table()
    allowed = ALLOWED_LEVELS[role]
    for code in codes:
        region = table.get(code)
        if region is None:
            raise ScopeError(f"{code!r} is not a Kemendagri region code")
        if region.level not in allowed:
            levels = " or ".join(sorted(level.value for level in allowed))
            raise ScopeError(f"a {role.value} is scoped to a {levels}; {code} is a {region.level}")
    return codes


@lru_cache(maxsize=64)
def regencies_of(province: str) -> tuple[str, ...]:
    return tuple(r.code for r in region_table().of_level(Level.REGENCY, province))


def region_condition(
    code: str, table: type[SuggestionRow] | type[CooperativeRow] = SuggestionRow
) -> ColumnElement[bool]:
    """SQL condition: the rows inside the region ``code`` (any level), through the indexed
    regency column."""
    village, regency = col(table.village_code), col(table.regency_code)
    depth = code.count(".") + 1
    if depth == 2:
        return regency == code
    if depth == 1:  # a province: its regencies, as a list the regency index can serve
        return regency.in_(regencies_of(code))
    # A district or village: its regency narrows through the index first.
    return and_(regency == code[:5], or_(village == code, village.startswith(code + ".")))


def scope_filter(
    coordinator: CoordinatorRow, table: type[SuggestionRow] | type[CooperativeRow] = SuggestionRow
) -> ColumnElement[bool]:
    """SQL condition: true for exactly the suggestions (or cooperatives) in scope."""
    if not coordinator.active:
        return false()
    if coordinator.role == Role.ADMIN:
        return true()
    if not coordinator.scope:
        return false()
    return or_(*(region_condition(code, table) for code in coordinator.scope))


def in_scope(coordinator: CoordinatorRow, village_code: str) -> bool:
    """The same rule in Python, for choices shown in forms (never for data access)."""
    if not coordinator.active:
        return False
    if coordinator.role == Role.ADMIN:
        return True
    return any(region_contains(code, village_code) for code in coordinator.scope)


def scope_label(coordinator: CoordinatorRow) -> str:
    if coordinator.role == Role.ADMIN:
        return "Seluruh Indonesia"
    table = region_table()
    return "; ".join(table.describe(code) for code in coordinator.scope)
