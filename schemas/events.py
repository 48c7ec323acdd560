"""The event contract v1 (``CONTRACT.md``) as pydantic models.

Field names and meanings are fixed: partner systems code against them. Fields added here
beyond the contract are optional, so that every v1 payload stays valid.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from schemas.regions import region_table

IDENTIFIER_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

# The limits of "Every input" in CONTRACT.md: what both databases can hold, refused at
# once with the field and the rule instead of failing (and being retried) at the insert.
MAX_COUNT = 2**31 - 1  # PostgreSQL's INTEGER; SQLite would store more, PostgreSQL refuses it
MAX_FUTURE = timedelta(hours=24)
# Before the Unix epoch an updated_at is a broken clock; it also keeps year-1 times with a
# positive offset from overflowing when converted to UTC.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def _no_nul(text: str) -> str:
    # PostgreSQL's text types cannot hold U+0000 ("text fields cannot contain NUL").
    if "\x00" in text:
        raise ValueError("text must not contain the NUL character U+0000")
    return text


def _not_in_the_future(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of the representable range of times") from None
    if utc < EARLIEST:
        raise ValueError("must not be before 1970-01-01T00:00:00Z")
    if utc > datetime.now(UTC) + MAX_FUTURE:
        raise ValueError(
            "is more than 24 hours ahead of the service's clock; an event from the future "
            "would hide every real update after it"
        )
    return value


NoNul = AfterValidator(_no_nul)
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
FreeTerm = Annotated[str, StringConstraints(max_length=200), NoNul]
FreeText = Annotated[str, StringConstraints(max_length=5000), NoNul]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
# Bounded so that every amount fits a 64-bit column; Rp1 quadrillion is far past any offer.
Rupiah = Annotated[int, Field(strict=True, ge=0, le=10**15)]
TermList = Annotated[list[FreeTerm], Field(max_length=50)]


def _existing_village(code: str) -> str:
    if not region_table().is_village(code):
        raise ValueError(f"{code!r} is not a Kemendagri village code in the region table")
    return code


def _existing_region(code: str) -> str:
    if code not in region_table():
        raise ValueError(f"{code!r} is not a Kemendagri region code in the region table")
    return code


def _iso_text(value: object) -> object:
    # The contract's times and dates are ISO 8601 text; numbers (epoch seconds) are refused
    # rather than guessed at.
    if isinstance(value, int | float):
        raise ValueError("must be ISO 8601 text, e.g. 2026-11-01T08:00:00+07:00 or 2026-11-01")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_not_in_the_future)]
Day = Annotated[date, BeforeValidator(_iso_text)]

VillageCode = Annotated[str, StringConstraints(max_length=13), AfterValidator(_existing_village)]
RegionCode = Annotated[str, StringConstraints(max_length=13), AfterValidator(_existing_region)]


class Event(BaseModel):
    # Unknown fields are ignored rather than refused: publishers may run a newer contract.
    model_config = ConfigDict(extra="ignore", frozen=True)


class PartnerType(StrEnum):
    BANK = "bank"
    BUMN = "bumn"
    BUSINESS = "business"
    COOPERATIVE = "cooperative"
    NGO = "ngo"
    GOVERNMENT = "government"


class OfferType(StrEnum):
    FINANCING = "financing"
    SUPPLY = "supply"
    OFFTAKE = "offtake"
    LOGISTICS = "logistics"
    EQUIPMENT = "equipment"
    TRAINING = "training"


class CooperativeProfile(Event):
    cooperative_id: Identifier
    name: Name
    village_code: VillageCode
    member_count: Count
    business_units: TermList = []
    commodities: TermList = []
    needs: FreeText = ""
    financing_need_idr: Rupiah | None = None
    updated_at: Timestamp


class PartnerOffer(Event):
    offer_id: Identifier
    partner_id: Identifier
    partner_name: Name
    partner_type: PartnerType
    offer_type: OfferType
    title: Name
    description: FreeText = ""
    business_units: TermList = []
    commodities: TermList = []
    regions: Annotated[list[RegionCode], Field(max_length=500)] = []
    min_members: Count | None = None
    min_amount_idr: Rupiah | None = None
    max_amount_idr: Rupiah | None = None
    capacity: Count | None = None
    valid_until: Day | None = None
    updated_at: Timestamp

    @model_validator(mode="after")
    def _amount_range_is_ordered(self) -> PartnerOffer:
        low, high = self.min_amount_idr, self.max_amount_idr
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_amount_idr ({low}) is greater than max_amount_idr ({high})")
        return self


class OfferWithdrawn(Event):
    offer_id: Identifier
    partner_id: Identifier
    withdrawn_at: Timestamp
    reason: FreeText = ""


class ExplanationComponent(Event):
    name: str
    weight: float
    score: float
    detail: str


def suggestion_id(partner_id: str, offer_id: str, cooperative_id: str) -> str:
    """Stable for the pair: the same offer and cooperative always give the same id."""
    digest = hashlib.sha256(f"{partner_id}/{offer_id}|{cooperative_id}".encode()).hexdigest()
    return f"sg-{digest[:24]}"


class Basis(StrEnum):
    OFFER = "offer"
    COOPERATIVE = "cooperative"


class MatchSuggestion(Event):
    suggestion_id: str
    offer_id: str
    partner_id: str
    cooperative_id: str
    regency_code: str
    score: Annotated[float, Field(ge=0, le=100)]
    rank: Annotated[int, Field(ge=1)]
    explanation: list[ExplanationComponent]
    created_at: AwareDatetime
    # v1.1: the province the rank is within, and which part of the rule put it there
    # ("offer": among the offer's best in the province; "cooperative": among the
    # cooperative's best offers). Optional, so that v1 payloads still validate.
    province_code: str | None = None
    basis: list[Basis] | None = None
    # Optional additions for readers that show the suggestion to people.
    summary: str | None = None


class RetractReason(StrEnum):
    OFFER_WITHDRAWN = "offer_withdrawn"
    OFFER_EXPIRED = "offer_expired"
    NO_LONGER_ELIGIBLE = "no_longer_eligible"
    SUPERSEDED = "superseded"
    CAPACITY_REACHED = "capacity_reached"  # v1.1


class MatchRetracted(Event):
    suggestion_id: str
    reason: RetractReason
    retracted_at: AwareDatetime


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    # v1.1: a coordinator took an earlier decision back; the suggestion is pending again.
    REOPENED = "reopened"


class MatchDecision(Event):
    suggestion_id: str
    decision: Decision
    reason_code: str
    note: str
    coordinator_id: str
    decided_at: AwareDatetime
    # Optional: the suggestion's version the coordinator decided on, so that consumers
    # tell a redelivered decision from a decision on a later suggestion of the same pair.
    suggestion_version: int | None = None


class RecipientType(StrEnum):
    COOPERATIVE = "cooperative"
    PARTNER = "partner"


class Notification(Event):
    notification_id: str
    recipient_type: RecipientType
    recipient_id: str
    suggestion_id: str
    title: str
    body: str
    created_at: AwareDatetime


class DeadLetter(Event):
    subject: str
    reason: str
    error_type: str
    raw: str
    received_at: AwareDatetime
    # Optional: whether ``raw`` holds base64 because the input was not UTF-8.
    raw_encoding: str = "utf-8"


INPUT_MODELS: tuple[type[Event], ...] = (CooperativeProfile, PartnerOffer, OfferWithdrawn)
OUTPUT_MODELS: tuple[type[Event], ...] = (
    MatchSuggestion,
    MatchRetracted,
    MatchDecision,
    Notification,
    DeadLetter,
)
