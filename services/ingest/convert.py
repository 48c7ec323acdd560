"""Translations between events, table rows and the matcher's value objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from matcher import Cooperative, Offer
from matcher.values import cooperative_value, offer_value
from schemas import CooperativeProfile, PartnerOffer
from schemas.regions import regency_code
from services.storage.models import CooperativeRow, OfferRow


def cooperative_values(profile: CooperativeProfile) -> dict[str, Any]:
    """The ``cooperative`` table's columns for a profile (for Core statements)."""
    return {
        **profile.model_dump(mode="python"),
        "regency_code": regency_code(profile.village_code),
    }


def cooperative_row(profile: CooperativeProfile) -> CooperativeRow:
    return CooperativeRow(**cooperative_values(profile))


def offer_values(offer: PartnerOffer, withdrawn_at: datetime | None, reason: str) -> dict[str, Any]:
    """The ``offer`` table's columns for an offer and the withdrawal covering it, if any."""
    return {
        **offer.model_dump(mode="python"),
        "withdrawn_at": withdrawn_at,
        "withdraw_reason": reason if withdrawn_at else "",
    }


def offer_row(offer: PartnerOffer, withdrawn_at: datetime | None, reason: str) -> OfferRow:
    return OfferRow(**offer_values(offer, withdrawn_at, reason))


def cooperative_from_row(row: CooperativeRow) -> Cooperative:
    return cooperative_value(row)


def offer_from_row(row: OfferRow) -> Offer:
    return offer_value(row, withdrawn=row.withdrawn_at is not None)
