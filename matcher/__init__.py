"""Pure matching core: eligibility, scoring and the candidate index. No I/O, no framework."""

from matcher.eligibility import in_region, ineligibility, is_eligible
from matcher.index import MatchIndex
from matcher.model import Component, Cooperative, Match, Offer, offer_key
from matcher.scoring import SUGGESTION_THRESHOLD, score_pair

__all__ = [
    "SUGGESTION_THRESHOLD",
    "Component",
    "Cooperative",
    "Match",
    "MatchIndex",
    "Offer",
    "in_region",
    "ineligibility",
    "is_eligible",
    "offer_key",
    "score_pair",
]
