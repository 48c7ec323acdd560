"""Ranking a whole batch of cooperatives for one offer at a time (``kopdes-match score``).

``MatchIndex`` serves the live pipeline, where cooperatives and offers come and go one by
one. A batch has every cooperative up front, so ``CooperativeColumns`` keeps them as
columns (numpy arrays) instead: cooperatives in village-code order, so that a region is a
slice, and each cooperative's units, commodities and needs as numbers of distinct term sets
(nationally a few thousand unit sets for 83,762 cooperatives). For an offer, each term
component is computed once per distinct set, gathered for every cooperative of the
offer's regions, and summed in the same order as ``scoring.weighted_terms``, so each term
part is the very float the index computes (in a small region, per cooperative instead of
per set). The free-text component (at most its weight x 100 points) and the explanation
are computed only for cooperatives that can still enter the top k; in a long run of equal
term parts, best ``TextColumns.bounds`` first and only while a bound can still compete.

The result is that of scoring every pair (``MatchIndex.score``) and keeping the k best
eligible pairs at or above ``min_score``, best first, ties by cooperative id (tested).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date

import numpy as np
from numpy.typing import NDArray

from matcher.eligibility import offer_ineligibility
from matcher.explain import explain
from matcher.model import Cooperative, Match, Offer
from matcher.profile import (
    PRODUCE_UNITS,
    RETAIL_UNITS,
    OfferTerms,
    coop_term_sets,
    coop_terms,
    coop_text_words,
    offer_terms,
)
from matcher.scoring import (
    FIT,
    INTENT_ONLY,
    NEEDS_FLOOR,
    NO_NEEDS,
    TYPE_IMPLAUSIBLE,
    TYPE_PLAUSIBLE,
    offer_tables,
    offer_weights,
    term_scores,
    text_ceiling,
    total,
)
from matcher.text_columns import TextColumns

# A score is its unrounded sum rounded to 0.1, so within 0.05 of it. Cooperatives whose
# term part is this far below the k-th best term part cannot reach the top k (see
# CooperativeColumns._near); twice the 0.1 needed, so float error in the sums never counts.
ROUNDING_SLACK = 0.2
# A sum rounds (``total``) to at most itself plus this: half the 0.1 step, and room for
# the float error of a double near 100.
ROUNDS_UP_BY = 0.05 + 1e-9
# Runs of at least this many cooperatives have the free text bounded first (TextColumns):
# the exact similarity is computed best bound first, only while a bound can still compete.
BOUNDED_RUN = 256
# The exact similarities of a bounded run are computed this many at first, then twice as
# many each time, up to the most.
FIRST_CHUNK, MOST_CHUNK = 64, 1_024


class _TermSets:
    """The distinct sets of one kind of term, as rows of a matrix of term numbers.

    Rows are padded with one number past the last term, where every value vector holds
    0.0: a set's best value is one gather and one row maximum, as ``scoring._best``.
    """

    def __init__(self) -> None:
        self._ids: dict[frozenset[str], int] = {}
        self._terms: dict[str, int] = {}

    def add(self, terms: frozenset[str]) -> int:
        found = self._ids.get(terms)
        if found is None:
            found = self._ids[terms] = len(self._ids)
            for term in sorted(terms):
                self._terms.setdefault(term, len(self._terms))
        return found

    def freeze(self) -> None:
        sets = list(self._ids)  # in id order: dicts keep insertion order
        width = max((len(s) for s in sets), default=0) or 1
        self.matrix = np.full((len(sets), width), len(self._terms), dtype=np.intp)
        for row, terms in enumerate(sets):
            self.matrix[row, : len(terms)] = [self._terms[t] for t in terms]
        self.empty = np.array([not s for s in sets], dtype=bool)

    def best(
        self, values: dict[str, float], ids: NDArray[np.intp] | None = None
    ) -> NDArray[np.float64]:
        """Each set's best value among its terms' ``values`` (0.0 when none has one), or
        that of each set of ``ids``: set by set when there are fewer of them than sets (a
        small region), else once per distinct set."""
        vector = np.zeros(len(self._terms) + 1)
        for term, value in values.items():
            number = self._terms.get(term)
            if number is not None:
                vector[number] = value
        best: NDArray[np.float64]  # numpy types a fancy index's reduction as Any
        if ids is None:
            best = vector[self.matrix].max(axis=1)
        elif len(ids) < len(self.matrix):
            best = vector[self.matrix[ids]].max(axis=1)
        else:
            best = vector[self.matrix].max(axis=1)[ids]
        return best

    def meets(self, terms: Iterable[str], ids: NDArray[np.intp] | None = None) -> NDArray[np.bool_]:
        """Whether each set (of ``ids``) shares a term with ``terms``."""
        return self.best(dict.fromkeys(terms, 1.0), ids) > 0.0


class CooperativeColumns:
    def __init__(self, cooperatives: Iterable[Cooperative]) -> None:
        coops = sorted(cooperatives, key=lambda c: c.village_code)
        self._coops = coops
        self._codes = [c.village_code for c in coops]
        self._units, self._commodities = _TermSets(), _TermSets()
        self._intents, self._objects = _TermSets(), _TermSets()
        needs_groups: dict[tuple[int, int], int] = {}
        unit_ids, commodity_ids, needs_ids = [], [], []
        words: list[tuple[str, ...]] = []
        for coop in coops:
            units, commodities, intents, objects = coop_term_sets(coop)
            unit_ids.append(self._units.add(units))
            commodity_ids.append(self._commodities.add(commodities))
            needs = (self._intents.add(intents), self._objects.add(objects))
            needs_ids.append(needs_groups.setdefault(needs, len(needs_groups)))
            words.append(coop_text_words(coop))  # its needs were just normalised: cached
        self._texts = TextColumns(words)
        del words
        for sets in (self._units, self._commodities, self._intents, self._objects):
            sets.freeze()
        self._unit_id = np.array(unit_ids, dtype=np.intp)
        self._commodity_id = np.array(commodity_ids, dtype=np.intp)
        self._needs_id = np.array(needs_ids, dtype=np.intp)
        self._group_intents = np.array([i for i, _ in needs_groups], dtype=np.intp)
        self._group_objects = np.array([o for _, o in needs_groups], dtype=np.intp)
        # What makes an offer type plausible without a stated intent (type_plausible).
        retail = self._units.meets(RETAIL_UNITS)
        produce = self._units.meets(PRODUCE_UNITS)
        self._retail = retail[self._unit_id]
        self._produce = produce[self._unit_id] | ~self._commodities.empty[self._commodity_id]
        # Member counts as ranks among the distinct counts: exact for integers of any size.
        self._member_counts = sorted({c.member_count for c in coops})
        rank = {count: i for i, count in enumerate(self._member_counts)}
        self._member_rank = np.array([rank[c.member_count] for c in coops], dtype=np.int64)
        self._has_need = np.array([c.financing_need_idr is not None for c in coops], dtype=bool)
        # Rupiah amounts are at most 10**15 (the contract): they fit in 64 bits.
        self._need = np.array([c.financing_need_idr or 0 for c in coops], dtype=np.int64)

    def best_cooperatives(
        self,
        offer: Offer,
        k: int,
        as_of: date,
        *,
        min_score: float = 0.0,
    ) -> list[Match]:
        """The k best eligible cooperatives for the offer, explained, best first."""
        if k <= 0 or offer_ineligibility(offer, as_of):
            return []
        ot = offer_terms(offer)
        weights = offer_weights(ot)
        rows = self._rows(offer.regions)
        part = self._term_parts(ot, weights, rows)
        text_most = text_ceiling(weights)
        # The index's bound, summed in its order: rounding to 0.1 may add up to 0.05.
        keep = np.flatnonzero(self._eligible(offer, rows) & (part + text_most + 0.05 >= min_score))
        near = self._near(keep, part[keep], k, text_most)
        positions = rows[near] if isinstance(rows, np.ndarray) else near + rows.start
        chosen = self._top(ot, weights, positions, part[near], k, min_score)
        matches = (_explain(offer, ot, self._coops[i], text) for i, text in chosen)
        return sorted(matches, key=lambda m: m.sort_key)

    def _rows(self, regions: Iterable[str]) -> slice | NDArray[np.intp]:
        """The cooperatives of the regions (none: all Indonesia), as a slice when one range.

        Codes that lie inside a region sort together, from the region's code up to its code
        followed by "/", the character after ".".
        """
        ranges = sorted(
            (bisect.bisect_left(self._codes, r), bisect.bisect_left(self._codes, r + "/"))
            for r in set(regions)
        )
        if not ranges:
            return slice(0, len(self._coops))
        merged: list[list[int]] = []
        for low, high in ranges:
            if merged and low <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        if len(merged) == 1:
            return slice(merged[0][0], merged[0][1])
        return np.concatenate([np.arange(low, high, dtype=np.intp) for low, high in merged])

    def _term_parts(
        self, ot: OfferTerms, weights: dict[str, float], rows: slice | NDArray[np.intp]
    ) -> NDArray[np.float64]:
        """``weighted_terms(weights, term_scores(ot, ct))`` of each cooperative of ``rows``,
        component by component as ``scoring.term_scores`` computes them."""
        tables = offer_tables(ot)
        units = self._unit_id[rows]
        unit: NDArray[np.float64] | float = 0.0
        if tables.units is not None:
            unit = self._units.best(tables.units, units)
        commodity: NDArray[np.float64] | float = 0.0
        if tables.commodities is not None:
            handles = self._units.meets(tables.handled, units)
            produce = self._commodities.best(tables.commodities, self._commodity_id[rows])
            commodity = np.where(handles, FIT, produce)
        # Needs as term_scores has them, per cooperative in a small region, else per
        # distinct (intents, objects) group and then gathered.
        groups = self._needs_id[rows]
        by_group = len(groups) >= len(self._group_intents)
        group = np.arange(len(self._group_intents)) if by_group else groups
        intents, objects = self._group_intents[group], self._group_objects[group]
        has_intents = ~self._intents.empty[intents]
        has_objects = ~self._objects.empty[objects]
        intent_ok = self._intents.meets((ot.intent,), intents)
        object_fit = self._objects.best(tables.things, objects) / 100.0
        span = 100.0 - NEEDS_FLOOR
        needs = np.where(
            has_objects,
            np.where(
                has_intents,
                NEEDS_FLOOR + span * (0.5 * intent_ok + 0.5 * object_fit),
                NEEDS_FLOOR + span * object_fit,
            ),
            np.where(has_intents, NEEDS_FLOOR + span * INTENT_ONLY * intent_ok, NO_NEEDS),
        )
        if by_group:
            needs, intent_ok = needs[groups], intent_ok[groups]
        if ot.intent == "intent:supply":
            plausible: NDArray[np.bool_] | bool = self._retail[rows]
        elif ot.intent in ("intent:offtake", "intent:logistics"):
            plausible = self._produce[rows]
        else:
            plausible = True
        offer_type = np.where(intent_ok, FIT, np.where(plausible, TYPE_PLAUSIBLE, TYPE_IMPLAUSIBLE))
        # The order of weighted_terms: the same float for every pair.
        return (
            weights["business_unit"] * unit
            + weights["commodity"] * commodity
            + weights["needs"] * needs
            + weights["offer_type"] * offer_type
        )

    def _eligible(self, offer: Offer, rows: slice | NDArray[np.intp]) -> NDArray[np.bool_]:
        """pair_ineligibility is None, for each cooperative of ``rows`` (all in the region)."""
        ok = np.ones(len(self._member_rank[rows]), dtype=bool)
        if offer.min_members is not None:
            lowest = bisect.bisect_left(self._member_counts, offer.min_members)
            ok &= self._member_rank[rows] >= lowest
        has_need, need = self._has_need[rows], self._need[rows]
        if offer.min_amount_idr is not None:
            ok &= ~(has_need & (need < offer.min_amount_idr))
        if offer.max_amount_idr is not None:
            ok &= ~(has_need & (need > offer.max_amount_idr))
        return ok

    @staticmethod
    def _near(
        keep: NDArray[np.intp], parts: NDArray[np.float64], k: int, text_most: float
    ) -> NDArray[np.intp]:
        """The kept cooperatives that may enter the top k.

        The k best term parts score at least the k-th part less 0.05; a cooperative whose
        part plus the text's most plus 0.05 is below that scores lower than all k of them,
        so it is either out of the top k or below ``min_score`` like them.
        """
        if len(keep) <= k:
            return keep
        kth = np.partition(parts, len(parts) - k)[len(parts) - k]
        kept: NDArray[np.intp] = keep[parts >= kth - text_most - ROUNDING_SLACK]
        return kept

    def _top(
        self,
        ot: OfferTerms,
        weights: dict[str, float],
        positions: NDArray[np.intp],
        parts: NDArray[np.float64],
        k: int,
        min_score: float,
    ) -> list[tuple[int, float]]:
        """The positions of the k best scores, with their free-text similarity.

        Runs of equal term parts are taken best first until a run cannot enter the top k
        any more (the index's bound, summed in its order). A long run has its texts
        bounded first, and exact similarities computed best bound first, a chunk at a
        time, while the bound may still reach the k-th best score.
        """
        if not len(parts):
            return []
        text_most, text_weight = text_ceiling(weights), weights["text"]
        order = np.argsort(-parts, kind="stable")
        positions, parts = positions[order], parts[order]
        runs = np.flatnonzero(np.diff(parts)) + 1  # where the next run starts
        best: list[tuple[float, str, int, float]] = []  # (-score, id, position, text)
        for start, end in zip((0, *runs.tolist()), (*runs.tolist(), len(parts)), strict=True):
            part = float(parts[start])
            if len(best) == k and part + text_most + 0.05 < -best[-1][0]:
                break
            run = positions[start:end]
            if len(run) < BOUNDED_RUN:
                texts = self._texts.similarities(ot.text, run)
                self._take(weights, part, run, texts, best, k, min_score)
                continue
            bounds, exact = self._texts.bounds(ot.text, run)
            by_bound = np.argsort(-bounds, kind="stable")
            reach = part + text_weight * bounds[by_bound] + ROUNDS_UP_BY
            taken, size = 0, FIRST_CHUNK
            while taken < len(by_bound):
                floor = min_score if len(best) < k else -best[-1][0]
                chunk = by_bound[taken : taken + size][reach[taken : taken + size] >= floor]
                if not len(chunk):
                    break  # bounds descend: none further on reaches the floor either
                taken, size = taken + size, min(2 * size, MOST_CHUNK)
                texts = bounds[chunk]
                inexact = ~exact[chunk]
                texts[inexact] = self._texts.similarities(ot.text, run[chunk[inexact]])
                self._take(weights, part, run[chunk], texts, best, k, min_score)
        return [(position, text) for _, _, position, text in best]

    def _take(
        self,
        weights: dict[str, float],
        part: float,
        positions: NDArray[np.intp],
        texts: NDArray[np.float64],
        best: list[tuple[float, str, int, float]],
        k: int,
        min_score: float,
    ) -> None:
        """Add the cooperatives of equal term ``part`` to ``best`` (the k best so far).

        Only sums that may round to a score in the top k are rounded (``total``), one by
        one: a sum more than 0.1 below another's rounds lower.
        """
        sums = part + weights["text"] * texts
        floor = min_score if len(best) < k else -best[-1][0]
        may = sums >= floor - ROUNDING_SLACK
        if np.count_nonzero(may) > k:
            kth = np.partition(sums[may], -k)[-k]
            may &= sums >= kth - ROUNDING_SLACK
        for position, text in zip(positions[may].tolist(), texts[may].tolist(), strict=True):
            score = total(weights, part, text)
            if score >= min_score:
                best.append((-score, self._coops[position].cooperative_id, position, text))
        best.sort()
        del best[k:]


def _explain(offer: Offer, ot: OfferTerms, coop: Cooperative, text: float) -> Match:
    ct = coop_terms(coop)
    return explain(offer, coop, ot, ct, term_scores(ot, ct), text)
