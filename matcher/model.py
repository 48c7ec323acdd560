"""The matcher's own value objects: plain data, no I/O, no framework.

The services translate events and database rows into these (with ``matcher/values.py``, which
needs only their field names), so the scoring core never depends on pydantic, SQL or NATS.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Cooperative:
    cooperative_id: str
    village_code: str
    member_count: int
    business_units: tuple[str, ...] = ()
    commodities: tuple[str, ...] = ()
    needs: str = ""
    financing_need_idr: int | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: str
    partner_id: str
    offer_type: str
    title: str
    description: str = ""
    business_units: tuple[str, ...] = ()
    commodities: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    min_members: int | None = None
    min_amount_idr: int | None = None
    max_amount_idr: int | None = None
    capacity: int | None = None
    valid_until: date | None = None
    withdrawn: bool = False
    partner_name: str = ""
    partner_type: str = ""

    @property
    def key(self) -> str:
        """Offer ids are unique per partner only; ``/`` cannot appear in either id."""
        return offer_key(self.partner_id, self.offer_id)


def offer_key(partner_id: str, offer_id: str) -> str:
    # Interned: a matcher holds each key in many maps of many provinces; one string per
    # offer instead of one per call.
    return sys.intern(f"{partner_id}/{offer_id}")


@dataclass(frozen=True, slots=True)
class Component:
    """One weighted part of a score, with what matched what."""

    name: str
    weight: float
    score: float
    detail: str

    def as_dict(self) -> dict[str, object]:
        # dataclasses.asdict deep-copies field by field: ten times slower on a hot path.
        return {
            "name": self.name,
            "weight": self.weight,
            "score": self.score,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Match:
    offer_id: str
    partner_id: str
    cooperative_id: str
    score: float
    components: tuple[Component, ...] = field(default=())
    # One sentence in Bahasa Indonesia for the dashboard and notifications.
    summary: str = ""

    @property
    def offer_key(self) -> str:
        return offer_key(self.partner_id, self.offer_id)

    @property
    def sort_key(self) -> tuple[float, str, str, str]:
        """Best first, ties broken by ids so that every run ranks the same way."""
        return (-self.score, self.cooperative_id, self.partner_id, self.offer_id)
