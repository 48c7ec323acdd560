"""Translations between events, table rows and the matcher's value objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from matcher import Cooperative, Offer
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
    return Cooperative(
        cooperative_id=row.cooperative_id,
        village_code=row.village_code,
        member_count=row.member_count,
        business_units=tuple(row.business_units),
        commodities=tuple(row.commodities),
        needs=row.needs,
        financing_need_idr=row.financing_need_idr,
        name=row.name,
    )


def offer_from_row(row: OfferRow) -> Offer:
    return Offer(
        offer_id=row.offer_id,
        partner_id=row.partner_id,
        offer_type=str(row.offer_type),
        title=row.title,
        description=row.description,
        business_units=tuple(row.business_units),
        commodities=tuple(row.commodities),
        regions=tuple(row.regions),
        min_members=row.min_members,
        min_amount_idr=row.min_amount_idr,
        max_amount_idr=row.max_amount_idr,
        capacity=row.capacity,
        valid_until=row.valid_until,
        withdrawn=row.withdrawn_at is not None,
        partner_name=row.partner_name,
        partner_type=str(row.partner_type),
    )
