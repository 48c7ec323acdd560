"""Internal change events: what one stage tells the next, never seen by partners.

Every subject carries the province (``kopdes.internal.<province>.<entity>.changed``): a
province's matching depends only on its cooperatives and the offers covering it, so a
matcher process that owns a province consumes only that province's subjects. A change
that concerns several provinces (a national offer, a cooperative that moved, a decision
that fills an offer's capacity) is announced to each of them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from schemas.events import Decision
from schemas.regions import provinces_summary

PREFIX = "kopdes.internal."
WILDCARD = PREFIX + ">"


class CooperativeChanged(BaseModel):
    cooperative_id: str
    updated_at: datetime


class OfferChanged(BaseModel):
    partner_id: str
    offer_id: str
    updated_at: datetime
    withdrawn: bool = False


class PairDecided(BaseModel):
    """A coordinator decided on a suggestion (or took a decision back).

    Sent to the cooperative's province; when the offer's approvals changed, also to every
    other province the offer covers, which only take ``approved`` from it."""

    suggestion_id: str
    partner_id: str
    offer_id: str
    cooperative_id: str
    province_code: str  # the cooperative's
    decision: Decision
    score: float  # as the coordinator saw it
    rank: int
    approved: int  # the offer's approved cooperatives, nationwide, after the decision


def cooperative_changed(province: str) -> str:
    return f"{PREFIX}{province}.cooperative.changed"


def offer_changed(province: str) -> str:
    return f"{PREFIX}{province}.offer.changed"


def pair_decided(province: str) -> str:
    return f"{PREFIX}{province}.decision.changed"


def province_filter(province: str) -> str:
    return f"{PREFIX}{province}.>"


def province_of_subject(subject: str) -> str:
    return subject.removeprefix(PREFIX).split(".", 1)[0]


def provinces() -> list[str]:
    """Every province code of the region table, in order."""
    return list(provinces_summary())


def provinces_of_regions(regions: list[str] | tuple[str, ...]) -> set[str]:
    """The provinces that regions of any level lie in; none means all of Indonesia."""
    if not regions:
        return set(provinces())
    return {code.split(".", 1)[0] for code in regions}
