"""Candidate index: which cooperatives and offers to score for one event.

Cooperatives are posted under each of their canonical terms, per regency; offers under
each of their terms (with related terms, handled units and their intent), per region code
as written. One event gathers only the entities that share a term with it inside its
region: a pair sharing no term scores at most ``NO_OVERLAP_BOUND`` (below
``SUGGESTION_THRESHOLD``), so skipping it loses no suggestion. Recall against scoring every
pair is measured in the tests and the benchmark.

Scoring is split: the term components depend only on the two term profiles, so they are
computed once per distinct profile (``signature``) per query; the free-text component (at
most its weight x 100 points) is computed only for entities that can still enter the top k;
full explanations only for the final top k. Offer queries run in two stages: cooperatives
sharing the offer's own units or commodities first, the rest (related terms, intent) only
when ``weak_bound`` says they can still enter the top k. A generic offer (no unit or
produce named) is filed under ``ANY`` (``*``), which every cooperative is filed under too:
its candidates are all cooperatives in its regions.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import math
from collections import Counter
from collections.abc import Callable, Container, Iterable
from datetime import date

from matcher.eligibility import in_region, offer_ineligibility, pair_ineligibility
from matcher.explain import explain
from matcher.model import Cooperative, Match, Offer
from matcher.profile import ANY, CoopTerms, OfferTerms, coop_terms, offer_terms
from matcher.scoring import (
    NO_OVERLAP_BOUND,
    offer_weights,
    term_scores,
    text_ceiling,
    text_score,
    total,
    weak_bound,
    weighted_terms,
)

NATIONAL = ""  # the region key of offers open to all of Indonesia
# Term parts kept per (offer profile, cooperative profile), for the whole process; cleared
# when it grows past this. Signatures are process-wide ids, so the indexes of every province
# share one cache: a national offer's part for a cooperative profile is computed once, not
# once per province. (Per index, a limit of 50,000 let the 38 provinces' caches hold 0.9
# million parts, 53 MiB, nationally.)
PART_CACHE_LIMIT = 400_000
# Pair scores kept (see MatchIndex.pair_score); all dropped when there are more.
PAIR_SCORE_LIMIT = 2_000_000
# Every offer is also filed under this key, which no cooperative term equals: the
# exhaustive pass of best_offers (low min_score) finds all offers of a region with it.
EVERY_OFFER = "**"


def _regency(village_code: str) -> str:
    return ".".join(village_code.split(".")[:2])


def _prefixes(village_code: str) -> list[str]:
    """Every region code that contains the village, national first."""
    parts = village_code.split(".")
    return [NATIONAL] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


class _PartCache:
    """The term part depends only on the two term profiles: many pairs share one. By offer
    profile, then cooperative profile: the inner keys are the profiles' own signature
    ints, where a tuple per pair cost more than the part it keeps."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[int, float]] = {}
        self._count = 0

    def get(self, ot: OfferTerms, weights: dict[str, float], ct: CoopTerms) -> float:
        parts = self._parts.get(ot.signature)
        if parts is None:
            parts = self._parts[ot.signature] = {}
        part = parts.get(ct.signature)
        if part is None:
            if self._count >= PART_CACHE_LIMIT:
                self._parts.clear()
                self._count = 0
                parts = self._parts[ot.signature] = {}
            part = parts[ct.signature] = weighted_terms(weights, term_scores(ot, ct))
            self._count += 1
        return part


_PARTS = _PartCache()


class MatchIndex:
    def __init__(self) -> None:
        self._cooperatives: dict[str, Cooperative] = {}
        self._coop_terms: dict[str, CoopTerms] = {}
        # term -> regency code -> cooperative ids
        self._coop_postings: dict[str, dict[str, set[str]]] = {}
        # National offers work on term profiles instead: cooperatives typed alike share a
        # signature, and a query scores each signature once and expands only the best.
        self._sig_members: dict[int, set[str]] = {}
        self._sig_profile: dict[int, CoopTerms] = {}
        self._sig_postings: dict[str, set[int]] = {}  # term -> signatures
        self._offers: dict[str, Offer] = {}
        self._offer_terms: dict[str, OfferTerms] = {}
        self._offer_weights: dict[str, dict[str, float]] = {}
        # term -> region code as written in the offer ("" = national) -> offer keys
        self._offer_postings: dict[str, dict[str, set[str]]] = {}
        # pair_score of pairs asked for again and again (the members of a set, each time a
        # cooperative is placed into it), by cooperative then offer key, as of one date;
        # dropped for a cooperative or an offer when it changes.
        self._pair_scores: dict[str, dict[str, float | None]] = {}
        self._pair_scored_by_offer: dict[str, set[str]] = {}
        self._pair_scores_as_of: date | None = None
        self._pair_score_count = 0
        # The offers' member floors (``min_members``), counted, and sorted when asked: a
        # cooperative whose member count crosses none keeps every score and eligibility.
        self._member_floors: Counter[int] = Counter()
        self._sorted_floors: list[int] | None = []

    # ------------------------------------------------------------------ store
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

    def upsert_cooperative(self, coop: Cooperative) -> bool:
        """Store the cooperative; whether the change can move any pair's score or eligibility.

        Most profile updates change only the member count (or the name), which scoring does
        not read and eligibility reads only against offers' member floors: such an update
        replaces the value and keeps the terms, postings and cached scores, and the caller
        has nothing to recompute."""
        old = self._cooperatives.get(coop.cooperative_id)
        if old is not None and _same_terms(old, coop) and not self._crosses_floor(old, coop):
            self._cooperatives[coop.cooperative_id] = coop
            return False
        self.remove_cooperative(coop.cooperative_id)
        terms = coop_terms(coop)
        self._cooperatives[coop.cooperative_id] = coop
        self._coop_terms[coop.cooperative_id] = terms
        regency = _regency(coop.village_code)
        for term in terms.index_terms:
            self._coop_postings.setdefault(term, {}).setdefault(regency, set()).add(
                coop.cooperative_id
            )
        members = self._sig_members.setdefault(terms.signature, set())
        if not members:
            self._sig_profile[terms.signature] = terms
            for term in terms.index_terms:
                self._sig_postings.setdefault(term, set()).add(terms.signature)
        members.add(coop.cooperative_id)
        return True

    def _crosses_floor(self, old: Cooperative, new: Cooperative) -> bool:
        """Whether some offer's ``min_members`` lies in (lower, higher] of the two counts."""
        lower, higher = sorted((old.member_count, new.member_count))
        if lower == higher:
            return False
        if self._sorted_floors is None:
            self._sorted_floors = sorted(self._member_floors)
        floors = self._sorted_floors
        i = bisect.bisect_right(floors, lower)
        return i < len(floors) and floors[i] <= higher

    def remove_cooperative(self, cooperative_id: str) -> None:
        scores = self._pair_scores.pop(cooperative_id, {})
        self._pair_score_count -= len(scores)
        for key in scores:
            self._pair_scored_by_offer[key].discard(cooperative_id)
        coop = self._cooperatives.pop(cooperative_id, None)
        if coop is None:
            return
        terms = self._coop_terms.pop(cooperative_id)
        regency = _regency(coop.village_code)
        for term in terms.index_terms:
            _discard(self._coop_postings, term, regency, cooperative_id)
        members = self._sig_members[terms.signature]
        members.discard(cooperative_id)
        if not members:
            del self._sig_members[terms.signature]
            del self._sig_profile[terms.signature]
            for term in terms.index_terms:
                sigs = self._sig_postings[term]
                sigs.discard(terms.signature)
                if not sigs:
                    del self._sig_postings[term]

    def upsert_offer(self, offer: Offer) -> None:
        self.remove_offer(offer.key)
        terms = offer_terms(offer)
        self._offers[offer.key] = offer
        self._offer_terms[offer.key] = terms
        self._offer_weights[offer.key] = offer_weights(terms)
        if offer.min_members is not None:
            self._member_floors[offer.min_members] += 1
            self._sorted_floors = None
        for term in (*terms.index_terms, EVERY_OFFER):
            by_region = self._offer_postings.setdefault(term, {})
            for region in offer.regions or (NATIONAL,):
                by_region.setdefault(region, set()).add(offer.key)

    def remove_offer(self, key: str) -> None:
        scored = self._pair_scored_by_offer.pop(key, set())
        self._pair_score_count -= len(scored)
        for cooperative_id in scored:
            self._pair_scores[cooperative_id].pop(key, None)
        offer = self._offers.pop(key, None)
        if offer is None:
            return
        terms = self._offer_terms.pop(key)
        del self._offer_weights[key]
        if offer.min_members is not None:
            self._member_floors[offer.min_members] -= 1
            if not self._member_floors[offer.min_members]:
                del self._member_floors[offer.min_members]
            self._sorted_floors = None
        for term in (*terms.index_terms, EVERY_OFFER):
            for region in offer.regions or (NATIONAL,):
                _discard(self._offer_postings, term, region, key)

    # ------------------------------------------------------------------ queries
    def _eligible_pair(
        self, key: str, cooperative_id: str, as_of: date
    ) -> tuple[Offer, Cooperative, OfferTerms, CoopTerms] | None:
        offer, coop = self._offers.get(key), self._cooperatives.get(cooperative_id)
        if offer is None or coop is None:
            return None
        if offer_ineligibility(offer, as_of) or pair_ineligibility(offer, coop):
            return None
        return offer, coop, self._offer_terms[key], self._coop_terms[cooperative_id]

    def score(self, key: str, cooperative_id: str, as_of: date) -> Match | None:
        """The pair's match, or None when either is unknown or the pair is ineligible."""
        pair = self._eligible_pair(key, cooperative_id, as_of)
        if pair is None:
            return None
        offer, coop, ot, ct = pair
        return explain(offer, coop, ot, ct, term_scores(ot, ct), text_score(ot, ct))

    def pair_score(self, key: str, cooperative_id: str, as_of: date) -> float | None:
        """The pair's score without its explanation (None: unknown or ineligible)."""
        if as_of != self._pair_scores_as_of or self._pair_score_count >= PAIR_SCORE_LIMIT:
            self._pair_scores.clear()
            self._pair_scored_by_offer.clear()
            self._pair_scores_as_of, self._pair_score_count = as_of, 0
        scores = self._pair_scores.setdefault(cooperative_id, {})
        if key not in scores:
            scores[key] = self._pair_score(key, cooperative_id, as_of)
            self._pair_scored_by_offer.setdefault(key, set()).add(cooperative_id)
            self._pair_score_count += 1
        return scores[key]

    def _pair_score(self, key: str, cooperative_id: str, as_of: date) -> float | None:
        pair = self._eligible_pair(key, cooperative_id, as_of)
        if pair is None:
            return None
        _, _, ot, ct = pair
        weights = self._offer_weights[key]
        return total(weights, self._term_part(ot, weights, ct), text_score(ot, ct))

    def _term_part(self, ot: OfferTerms, weights: dict[str, float], ct: CoopTerms) -> float:
        return _PARTS.get(ot, weights, ct)

    def offers_to_place(
        self,
        cooperative_id: str,
        as_of: date,
        *,
        min_score: float,
        bar: Callable[[str], float],
    ) -> dict[str, float]:
        """Scores of the eligible offers the cooperative may enter, by offer key.

        ``bar(key)``: a score below which the cooperative cannot enter the offer's set
        (its weakest member's, say); offers whose upper bound is below it are skipped
        without computing their text component or eligibility. Every offer scoring at
        least ``min_score`` and its bar is returned, so a caller placing into sets gets
        the result scoring every pair would give, only faster.
        """
        coop = self._cooperatives.get(cooperative_id)
        if coop is None:
            return {}
        ct = self._coop_terms[cooperative_id]
        candidates = self.candidate_offers(cooperative_id)
        keys: Iterable[str] = candidates
        # Offers sharing no term score at most NO_OVERLAP_BOUND (see best_offers).
        if min_score <= NO_OVERLAP_BOUND + 0.05:
            keys = candidates | self._offers_in_region(coop.village_code)
        found: dict[str, float] = {}
        for key in keys:
            at_least = bar(key)
            if at_least == math.inf:
                continue  # the caller wants no score for this offer
            ot = self._offer_terms[key]
            weights = self._offer_weights[key]
            part = self._term_part(ot, weights, ct)
            ceiling = part + text_ceiling(weights) + 0.05
            if ceiling < min_score or ceiling < at_least:
                continue
            offer = self._offers[key]
            if offer_ineligibility(offer, as_of) or pair_ineligibility(offer, coop):
                continue
            score = total(weights, part, text_score(ot, ct))
            if score >= min_score:
                found[key] = score
        return found

    def cooperatives_to_place(
        self,
        key: str,
        as_of: date,
        *,
        min_score: float,
        bar: Callable[[str], float],
    ) -> dict[str, float]:
        """Scores of the eligible cooperatives that may take the offer, by cooperative id.

        The mirror of ``offers_to_place``: ``bar(cooperative_id)`` is a score below which
        the offer cannot enter the cooperative's own shortlist; cooperatives whose upper
        bound is below it are skipped without their text component or eligibility. Every
        cooperative scoring at least ``min_score`` and its bar is returned.
        """
        offer = self._offers.get(key)
        if offer is None or offer_ineligibility(offer, as_of):
            return {}
        ot = self._offer_terms[key]
        weights = self._offer_weights[key]
        terms = ot.index_terms
        if min_score <= NO_OVERLAP_BOUND + 0.05:  # cooperatives sharing no term may pass
            terms = terms | {ANY}
        groups = self._coop_groups(offer, ot, weights, frozenset(terms), set())
        text_max = text_ceiling(weights)
        found: dict[str, float] = {}
        for part, members in groups.items():
            ceiling = part + text_max + 0.05  # rounding to 0.1 may add up to 0.05
            if ceiling < min_score:
                continue
            for cid in (c for group in members for c in group):
                at_least = bar(cid)
                if ceiling < at_least:
                    continue
                coop = self._cooperatives[cid]
                if pair_ineligibility(offer, coop):
                    continue
                score = total(weights, part, text_score(ot, self._coop_terms[cid]))
                if score >= min_score and score >= at_least:
                    found[cid] = score
        return found

    def cooperative_ids(self) -> list[str]:
        return list(self._cooperatives)

    def offer_keys(self) -> list[str]:
        return list(self._offers)

    def terms_fingerprint(self, key: str, cooperative_id: str) -> tuple[str, str] | None:
        """Stable digests of the pair's canonical terms (what the match is about), or None
        when either is unknown: a rejection stands while neither changes."""
        ot, ct = self._offer_terms.get(key), self._coop_terms.get(cooperative_id)
        if ot is None or ct is None:
            return None
        # What the offer is for; not the words of its title and description (``mentioned``):
        # a retitled offer is the same offer to the cooperatives.
        offer_parts = ((ot.intent,), ot.units, ot.commodities, ot.handled_units)
        coop_parts = (ct.unit_set, ct.commodity_set, ct.intent_set, ct.object_set)
        return _digest(offer_parts), _digest(coop_parts)

    def candidate_cooperatives(self, key: str) -> set[str]:
        """Cooperatives in the offer's regions sharing a term with it (eligibility not checked)."""
        offer = self._offers.get(key)
        if offer is None:
            return set()
        ot = self._offer_terms[key]
        if not offer.regions:
            return {
                cid
                for sig in self._national_signatures(ot.index_terms)
                for cid in self._sig_members[sig]
            }
        return self._regional_candidates(offer, ot.index_terms)

    def _regional_candidates(self, offer: Offer, terms: Iterable[str]) -> set[str]:
        terms = tuple(terms)
        found: set[str] = set()
        for region in offer.regions:
            depth = 0 if region == NATIONAL else region.count(".") + 1
            regency = region if depth == 2 else (_regency(region) if depth > 2 else None)
            inside: set[str] = set()
            for term in terms:
                by_regency = self._coop_postings.get(term)
                if not by_regency:
                    continue
                if regency is not None:
                    inside.update(by_regency.get(regency, ()))
                else:
                    prefix = region + "." if depth else ""
                    for code, ids in by_regency.items():
                        if code.startswith(prefix):
                            inside.update(ids)
            if depth > 2:  # district or village: filter the regency's cooperatives
                inside = {
                    c for c in inside if in_region(self._cooperatives[c].village_code, (region,))
                }
            found |= inside
        return found

    def _national_signatures(self, terms: Iterable[str]) -> set[int]:
        found: set[int] = set()
        for term in terms:
            sigs = self._sig_postings.get(term)
            if sigs:
                found |= sigs
        return found

    def candidate_offers(self, cooperative_id: str) -> set[str]:
        """Offers whose regions contain the cooperative and that share a term with it."""
        coop = self._cooperatives.get(cooperative_id)
        if coop is None:
            return set()
        prefixes = _prefixes(coop.village_code)
        found: set[str] = set()
        for term in self._coop_terms[cooperative_id].index_terms:
            by_region = self._offer_postings.get(term)
            if not by_region:
                continue
            for prefix in prefixes:
                keys = by_region.get(prefix)
                if keys:
                    found |= keys
        return found

    def best_cooperatives(
        self, key: str, k: int, as_of: date, *, min_score: float = 0.0, explained: bool = True
    ) -> list[Match]:
        """The k best eligible candidates for the offer, best first (``Match.sort_key``).

        ``explained=False``: scores only (no components, no summary), for a caller that
        explains only the pairs it goes on to publish.

        Two stages: first the cooperatives that share one of the offer's own units or
        commodities; then, only if they may still enter the top k (an upper bound says),
        the cooperatives that share only a related term, the intent or nothing (``*``).
        """
        offer = self._offers.get(key)
        if offer is None or k <= 0 or offer_ineligibility(offer, as_of):
            return []
        ot = self._offer_terms[key]
        weights = self._offer_weights[key]
        strong = frozenset(ot.units) | frozenset(ot.commodities) | ot.handled_units
        stages: list[tuple[frozenset[str], float | None]] = (
            [(strong, None), (ot.index_terms - strong, weak_bound(ot, weights))]
            if strong
            else [(ot.index_terms, None)]
        )
        # Last, the cooperatives sharing no term at all (every cooperative is filed under
        # ANY): they score at most NO_OVERLAP_BOUND, so this runs only for a low min_score
        # and a top k not yet out of their reach; it keeps best_* exact for any min_score.
        stages.append((frozenset({ANY}), NO_OVERLAP_BOUND + 0.05))
        best: list[tuple[float, _Rev]] = []  # bounded min-heap of the k best so far
        text_cache: dict[str, float] = {}
        seen: set[object] = set()  # signatures (national) or cooperative ids (regional)
        for terms, bound in stages:
            if bound is not None and (bound < min_score or (len(best) == k and bound < best[0][0])):
                continue  # a later stage may have a higher bound than this one
            groups = self._coop_groups(offer, ot, weights, terms, seen)
            self._fill(offer, ot, weights, groups, k, min_score, best, text_cache)
        chosen = sorted(best, reverse=True)
        if not explained:
            return [Match(offer.offer_id, offer.partner_id, r.value, score) for score, r in chosen]
        return sorted(
            (self._explain(offer, self._cooperatives[r.value]) for _, r in chosen),
            key=lambda m: m.sort_key,
        )

    def _coop_groups(
        self,
        offer: Offer,
        ot: OfferTerms,
        weights: dict[str, float],
        terms: frozenset[str],
        seen: set[object],
    ) -> dict[float, list[Iterable[str]]]:
        """Candidates sharing ``terms`` not seen before, grouped by their term part, which
        is computed once per distinct cooperative profile."""
        groups: dict[float, list[Iterable[str]]] = {}
        if not offer.regions:
            for sig in self._national_signatures(terms) - seen:
                seen.add(sig)
                part = self._term_part(ot, weights, self._sig_profile[sig])
                groups.setdefault(part, []).append(self._sig_members[sig])
            return groups
        by_signature: dict[int, float] = {}
        for cid in self._regional_candidates(offer, terms) - seen:
            seen.add(cid)
            ct = self._coop_terms[cid]
            known = by_signature.get(ct.signature)
            if known is None:
                known = by_signature[ct.signature] = self._term_part(ot, weights, ct)
            groups.setdefault(known, []).append((cid,))
        return groups

    def _fill(
        self,
        offer: Offer,
        ot: OfferTerms,
        weights: dict[str, float],
        groups: dict[float, list[Iterable[str]]],
        k: int,
        min_score: float,
        best: list[tuple[float, _Rev]],
        text_cache: dict[str, float],
    ) -> None:
        """Push the groups' eligible cooperatives into ``best``, best term part first,
        computing the text component only while a group can still enter the top k."""
        text_max = text_ceiling(weights)
        for part in sorted(groups, reverse=True):
            ceiling = part + text_max + 0.05  # rounding to 0.1 may add up to 0.05
            if ceiling < min_score or (len(best) == k and ceiling < best[0][0]):
                break
            for cid in (c for members in groups[part] for c in members):
                coop = self._cooperatives[cid]
                if pair_ineligibility(offer, coop):
                    continue
                ct = self._coop_terms[cid]
                text = text_cache.get(ct.text)
                if text is None:
                    text = text_cache[ct.text] = text_score(ot, ct)
                score = total(weights, part, text)
                if score < min_score:
                    continue
                item = (score, _Rev(cid))
                if len(best) < k:
                    heapq.heappush(best, item)
                elif item > best[0]:
                    heapq.heapreplace(best, item)

    def best_offers(
        self,
        cooperative_id: str,
        k: int,
        as_of: date,
        *,
        min_score: float = 0.0,
        exclude: Container[str] = (),
        explained: bool = True,
    ) -> list[Match]:
        """The k best eligible candidate offers for the cooperative, best first
        (``explained=False``: scores only, as in ``best_cooperatives``)."""
        coop = self._cooperatives.get(cooperative_id)
        if coop is None or k <= 0:
            return []
        ct = self._coop_terms[cooperative_id]
        best: list[tuple[float, _RevKey, str]] = []  # bounded min-heap of the k best so far
        candidates = self.candidate_offers(cooperative_id)
        self._fill_offers(coop, ct, candidates, k, as_of, min_score, exclude, best)
        # Offers sharing no term score at most NO_OVERLAP_BOUND: scan them only when
        # min_score lets them in and the top k is not already out of their reach.
        bound = NO_OVERLAP_BOUND + 0.05
        if bound >= min_score and (len(best) < k or best[0][0] <= bound):
            rest = self._offers_in_region(coop.village_code) - candidates
            self._fill_offers(coop, ct, rest, k, as_of, min_score, exclude, best)
        if not explained:
            chosen = sorted(best, key=lambda entry: (-entry[0], entry[1].value))
            return [
                Match(self._offers[key].offer_id, self._offers[key].partner_id, cooperative_id, s)
                for s, _, key in chosen
            ]
        matches = [self._explain(self._offers[key], coop) for _, _, key in best]
        return sorted(matches, key=lambda m: m.sort_key)

    def _offers_in_region(self, village_code: str) -> set[str]:
        by_region = self._offer_postings.get(EVERY_OFFER, {})
        found: set[str] = set()
        for prefix in _prefixes(village_code):
            found |= by_region.get(prefix, set())
        return found

    def _fill_offers(
        self,
        coop: Cooperative,
        ct: CoopTerms,
        keys: Iterable[str],
        k: int,
        as_of: date,
        min_score: float,
        exclude: Container[str],
        best: list[tuple[float, _RevKey, str]],
    ) -> None:
        """Push the eligible offers among ``keys`` into ``best``: the term part once per
        distinct offer profile, text and eligibility only for offers that can still enter."""
        parts: dict[int, float] = {}
        ranked: list[tuple[float, float, str]] = []  # (ceiling, term part, key)
        for key in keys:
            if key in exclude:
                continue
            ot = self._offer_terms[key]
            weights = self._offer_weights[key]
            part = parts.get(ot.signature)
            if part is None:
                part = parts[ot.signature] = self._term_part(ot, weights, ct)
            ceiling = part + text_ceiling(weights) + 0.05
            if ceiling >= min_score:
                ranked.append((ceiling, part, key))
        ranked.sort(reverse=True)
        for ceiling, part, key in ranked:
            if len(best) == k and ceiling < best[0][0]:
                break
            offer = self._offers[key]
            if offer_ineligibility(offer, as_of) or pair_ineligibility(offer, coop):
                continue
            ot = self._offer_terms[key]
            score = total(self._offer_weights[key], part, text_score(ot, ct))
            if score < min_score:
                continue
            entry = (score, _RevKey(offer.partner_id, offer.offer_id), key)
            if len(best) < k:
                heapq.heappush(best, entry)
            elif entry[:2] > best[0][:2]:
                heapq.heapreplace(best, entry)

    def _explain(self, offer: Offer, coop: Cooperative) -> Match:
        ot, ct = self._offer_terms[offer.key], self._coop_terms[coop.cooperative_id]
        return explain(offer, coop, ot, ct, term_scores(ot, ct), text_score(ot, ct))

    # ------------------------------------------------------------------ bulk
    def upsert_cooperatives(self, coops: Iterable[Cooperative]) -> None:
        for coop in coops:
            self.upsert_cooperative(coop)

    def upsert_offers(self, offers: Iterable[Offer]) -> None:
        for offer in offers:
            self.upsert_offer(offer)


class _Rev:
    """Orders ids in reverse, so a min-heap of (score, _Rev(id)) evicts the worst by
    ``Match.sort_key``: lowest score first, and among equal scores the highest id."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Rev) -> bool:
        return self.value > other.value

    def __gt__(self, other: _Rev) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


class _RevKey:
    """(partner id, offer id) in reverse order, for the same bounded min-heap as _Rev."""

    __slots__ = ("value",)

    def __init__(self, partner_id: str, offer_id: str) -> None:
        self.value = (partner_id, offer_id)

    def __lt__(self, other: _RevKey) -> bool:
        return self.value > other.value

    def __gt__(self, other: _RevKey) -> bool:
        return self.value < other.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _RevKey) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _same_terms(old: Cooperative, new: Cooperative) -> bool:
    """Whether everything but the member count and the name is the same: all that
    scoring and eligibility read of a cooperative besides its member count."""
    return (
        old.village_code == new.village_code
        and old.business_units == new.business_units
        and old.commodities == new.commodities
        and old.needs == new.needs
        and old.financing_need_idr == new.financing_need_idr
    )


def _digest(parts: Iterable[Iterable[str]]) -> str:
    text = "|".join(",".join(sorted(part)) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _discard(postings: dict[str, dict[str, set[str]]], term: str, region: str, item: str) -> None:
    by_region = postings.get(term)
    if by_region is None:
        return
    items = by_region.get(region)
    if items is None:
        return
    items.discard(item)
    if not items:
        del by_region[region]
        if not by_region:
            del postings[term]
