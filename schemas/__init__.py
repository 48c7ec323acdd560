"""The kopdes-match event contract v1 as pydantic models."""

from schemas.events import (
    Basis,
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
    suggestion_id,
)

__all__ = [
    "Basis",
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
    "suggestion_id",
]
