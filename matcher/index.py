"""Candidate index: which cooperatives and offers to score for one event.

Provisional brute force over every stored entity; the matcher issue replaces it with an
index by canonical term and region prefix. The public methods stay.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date

from matcher.eligibility import offer_ineligibility, pair_ineligibility
from matcher.model import Cooperative, Match, Offer
from matcher.scoring import score_pair


class MatchIndex:
    def __init__(self) -> None:
        self._cooperatives: dict[str, Cooperative] = {}
        self._offers: dict[str, Offer] = {}

    @property
    def cooperative_count(self) -> int:
        return len(self._cooperatives)

    @property
    def offer_count(self) -> int:
        return len(self._offers)

    def cooperative(self, cooperative_id: str) -> Cooperative | None:
        return self._cooperatives.get(cooperative_id)

    def offer(self, key: str) -> Offer | None:
        return self._offers.get(key)

    def upsert_cooperative(self, coop: Cooperative) -> None:
        self._cooperatives[coop.cooperative_id] = coop

    def remove_cooperative(self, cooperative_id: str) -> None:
        self._cooperatives.pop(cooperative_id, None)

    def upsert_offer(self, offer: Offer) -> None:
        self._offers[offer.key] = offer

    def remove_offer(self, key: str) -> None:
        self._offers.pop(key, None)

    def score(self, key: str, cooperative_id: str, as_of: date) -> Match | None:
        """The pair's match, or None when either is unknown or the pair is ineligible."""
        offer, coop = self._offers.get(key), self._cooperatives.get(cooperative_id)
        if offer is None or coop is None:
            return None
        if offer_ineligibility(offer, as_of) or pair_ineligibility(offer, coop):
            return None
        return score_pair(offer, coop)

    def best_cooperatives(
        self, key: str, k: int, as_of: date, *, min_score: float = 0.0
    ) -> list[Match]:
        offer = self._offers.get(key)
        if offer is None or offer_ineligibility(offer, as_of):
            return []
        matches = [
            score_pair(offer, coop)
            for coop in self._cooperatives.values()
            if pair_ineligibility(offer, coop) is None
        ]
        return sorted((m for m in matches if m.score >= min_score), key=lambda m: m.sort_key)[:k]

    def best_offers(
        self,
        cooperative_id: str,
        k: int,
        as_of: date,
        *,
        min_score: float = 0.0,
        exclude: Container[str] = (),
    ) -> list[Match]:
        coop = self._cooperatives.get(cooperative_id)
        if coop is None:
            return []
        matches = [
            score_pair(offer, coop)
            for key, offer in self._offers.items()
            if key not in exclude
            and offer_ineligibility(offer, as_of) is None
            and pair_ineligibility(offer, coop) is None
        ]
        return sorted((m for m in matches if m.score >= min_score), key=lambda m: m.sort_key)[:k]
