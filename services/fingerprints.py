"""Fingerprints of the matching-relevant fields of a profile and an offer.

A rejected pair stays rejected until one of these changes: edits to a name, a description
or a timestamp are not a reason to ask a coordinator again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from services.storage.models import CooperativeRow, OfferRow


def _terms(values: Iterable[str]) -> list[str]:
    return sorted({" ".join(v.lower().split()) for v in values if v.strip()})


def _digest(fields: dict[str, object]) -> str:
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cooperative_fingerprint(row: CooperativeRow) -> str:
    return _digest(
        {
            "village_code": row.village_code,
            "member_count": row.member_count,
            "business_units": _terms(row.business_units),
            "commodities": _terms(row.commodities),
            "needs": " ".join(row.needs.lower().split()),
            "financing_need_idr": row.financing_need_idr,
        }
    )


def offer_fingerprint(row: OfferRow) -> str:
    return _digest(
        {
            "offer_type": row.offer_type,
            "business_units": _terms(row.business_units),
            "commodities": _terms(row.commodities),
            "regions": sorted(row.regions),
            "min_members": row.min_members,
            "min_amount_idr": row.min_amount_idr,
            "max_amount_idr": row.max_amount_idr,
        }
    )
