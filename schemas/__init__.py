"""The kopdes-match event contract v1 as pydantic models."""

from schemas.events import (
    CooperativeProfile,
    DeadLetter,
    Decision,
    ExplanationComponent,
    MatchDecision,
    MatchRetracted,
    MatchSuggestion,
    Notification,
    OfferType,
    OfferWithdrawn,
    PartnerOffer,
    PartnerType,
    RecipientType,
    RetractReason,
)

__all__ = [
    "CooperativeProfile",
    "DeadLetter",
    "Decision",
    "ExplanationComponent",
    "MatchDecision",
    "MatchRetracted",
    "MatchSuggestion",
    "Notification",
    "OfferType",
    "OfferWithdrawn",
    "PartnerOffer",
    "PartnerType",
    "RecipientType",
    "RetractReason",
]
