"""The matcher's value objects from anything with the contract's field names.

Contract events and table rows both have the events' field names, so one translation serves
the live pipeline (rows, via ``services/ingest/convert.py`` and the matching repository)
and the batch command (events). Pure and structural (``Protocol``s, no pydantic, no SQL), so
that every stage may use it and the batch command does not load SQLAlchemy with the table
models.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from matcher import Cooperative, Offer


class CooperativeFields(Protocol):
    # Properties: read-only, so that frozen events match as well as table rows.
    @property
    def cooperative_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def village_code(self) -> str: ...

    @property
    def member_count(self) -> int: ...

    @property
    def business_units(self) -> list[str]: ...

    @property
    def commodities(self) -> list[str]: ...

    @property
    def needs(self) -> str: ...

    @property
    def financing_need_idr(self) -> int | None: ...


class OfferFields(Protocol):
    # Properties: read-only, so that frozen events match as well as table rows.
    @property
    def offer_id(self) -> str: ...

    @property
    def partner_id(self) -> str: ...

    @property
    def partner_name(self) -> str: ...

    @property
    def partner_type(self) -> str: ...

    @property
    def offer_type(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def business_units(self) -> list[str]: ...

    @property
    def commodities(self) -> list[str]: ...

    @property
    def regions(self) -> list[str]: ...

    @property
    def min_members(self) -> int | None: ...

    @property
    def min_amount_idr(self) -> int | None: ...

    @property
    def max_amount_idr(self) -> int | None: ...

    @property
    def capacity(self) -> int | None: ...

    @property
    def valid_until(self) -> date | None: ...


def cooperative_value(source: CooperativeFields) -> Cooperative:
    return Cooperative(
        cooperative_id=source.cooperative_id,
        village_code=source.village_code,
        member_count=source.member_count,
        business_units=tuple(source.business_units),
        commodities=tuple(source.commodities),
        needs=source.needs,
        financing_need_idr=source.financing_need_idr,
        name=source.name,
    )


def offer_value(source: OfferFields, *, withdrawn: bool = False) -> Offer:
    return Offer(
        offer_id=source.offer_id,
        partner_id=source.partner_id,
        offer_type=str(source.offer_type),
        title=source.title,
        description=source.description,
        business_units=tuple(source.business_units),
        commodities=tuple(source.commodities),
        regions=tuple(source.regions),
        min_members=source.min_members,
        min_amount_idr=source.min_amount_idr,
        max_amount_idr=source.max_amount_idr,
        capacity=source.capacity,
        valid_until=source.valid_until,
        withdrawn=withdrawn,
        partner_name=source.partner_name,
        partner_type=str(source.partner_type),
    )
