"""Offline evaluation of the matcher against graded judgments, and of a naive baseline.

Pure functions: the caller reads the files (see ``load_set`` for the JSON shape) and
``evaluate`` computes, in one run and on the same data:

- nDCG@10 (graded gain ``2**g - 1``) of each query's top-10 ranking, over queries with at
  least one graded pair;
- precision@5: share of the top-5 suggestions with grade >= ``RELEVANT_GRADE``, over
  queries where the system suggests anything;
- the share of suggestions that break an eligibility rule (must be 0 for the matcher).

The matcher's ranking is ``best_cooperatives`` / ``best_offers`` with ``min_score=0``; its
suggestions are the ranked pairs at or above ``SUGGESTION_THRESHOLD`` (what the service
publishes). The baseline has no threshold: its suggestions are its whole top k.

Queries run in both directions: cooperatives for each offer (the contract's ranking) and
offers for each cooperative. The matcher suggests only pairs at or above
``SUGGESTION_THRESHOLD``; the baseline ranks every pair by rapidfuzz ``WRatio`` over the
concatenated text, with no vocabulary and no eligibility rules, and suggests its top k.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz, utils

from matcher.eligibility import ineligibility
from matcher.index import MatchIndex
from matcher.model import Cooperative, Offer
from matcher.scoring import SUGGESTION_THRESHOLD

K_NDCG = 10
K_PRECISION = 5
RELEVANT_GRADE = 2  # grades: 3 ideal, 2 good, 1 marginal, 0 (or absent) irrelevant

TARGETS = {"ndcg_at_10": 0.90, "precision_at_5": 0.95, "eligibility_violations": 0.0}

Judgments = Mapping[tuple[str, str], int]  # (offer key, cooperative id) -> grade


@dataclass(frozen=True)
class EvaluationSet:
    name: str
    as_of: date
    cooperatives: tuple[Cooperative, ...]
    offers: tuple[Offer, ...]
    judgments: dict[tuple[str, str], int]


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


def cooperative_from_dict(d: Mapping[str, Any]) -> Cooperative:
    """A CooperativeProfile payload (extra keys ignored) as the matcher's value object."""
    return Cooperative(
        cooperative_id=d["cooperative_id"],
        village_code=d["village_code"],
        member_count=int(d["member_count"]),
        business_units=_tuple(d.get("business_units")),
        commodities=_tuple(d.get("commodities")),
        needs=d.get("needs") or "",
        financing_need_idr=d.get("financing_need_idr"),
        name=d.get("name", ""),
    )


def offer_from_dict(d: Mapping[str, Any]) -> Offer:
    """A PartnerOffer payload (extra keys ignored) as the matcher's value object."""
    valid_until = d.get("valid_until")
    return Offer(
        offer_id=d["offer_id"],
        partner_id=d["partner_id"],
        offer_type=d["offer_type"],
        title=d["title"],
        description=d.get("description") or "",
        business_units=_tuple(d.get("business_units")),
        commodities=_tuple(d.get("commodities")),
        regions=_tuple(d.get("regions")),
        min_members=d.get("min_members"),
        min_amount_idr=d.get("min_amount_idr"),
        max_amount_idr=d.get("max_amount_idr"),
        capacity=d.get("capacity"),
        valid_until=date.fromisoformat(valid_until) if valid_until else None,
        withdrawn=bool(d.get("withdrawn", False)),
        partner_name=d.get("partner_name", ""),
        partner_type=d.get("partner_type", ""),
    )


def load_set(data: Mapping[str, Any]) -> EvaluationSet:
    """An evaluation set from its parsed JSON: ``name``, ``as_of``, ``cooperatives``,
    ``offers`` (contract payloads) and ``judgments`` (``offer`` key, ``cooperative``,
    ``grade``; absent pairs are grade 0)."""
    return EvaluationSet(
        name=data.get("name", ""),
        as_of=date.fromisoformat(data["as_of"]),
        cooperatives=tuple(cooperative_from_dict(c) for c in data["cooperatives"]),
        offers=tuple(offer_from_dict(o) for o in data["offers"]),
        judgments={
            (j["offer"], j["cooperative"]): int(j["grade"]) for j in data.get("judgments", ())
        },
    )


@dataclass(frozen=True)
class Metrics:
    ndcg_at_10: float
    precision_at_5: float
    eligibility_violations: float  # share of suggestions that break a hard rule
    suggestions: int
    queries: int

    def meets_targets(self) -> bool:
        return (
            self.ndcg_at_10 >= TARGETS["ndcg_at_10"]
            and self.precision_at_5 >= TARGETS["precision_at_5"]
            and self.eligibility_violations <= TARGETS["eligibility_violations"]
        )


@dataclass(frozen=True)
class EvaluationReport:
    name: str
    # direction ("per_offer", "per_cooperative") -> metrics
    matcher: dict[str, Metrics] = field(default_factory=dict)
    baseline: dict[str, Metrics] = field(default_factory=dict)

    def meets_targets(self) -> bool:
        return all(m.meets_targets() for m in self.matcher.values())


def dcg(grades: Sequence[int]) -> float:
    return sum((2.0**g - 1) / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg(ranked: Sequence[int], all_grades: Iterable[int], k: int = K_NDCG) -> float | None:
    """nDCG@k of a ranking's grades against the ideal order of all grades; None if no gain."""
    ideal = dcg(sorted(all_grades, reverse=True)[:k])
    if ideal == 0:
        return None
    return dcg(list(ranked)[:k]) / ideal


def precision(ranked: Sequence[int], k: int = K_PRECISION) -> float | None:
    top = list(ranked)[:k]
    if not top:
        return None
    return sum(g >= RELEVANT_GRADE for g in top) / len(top)


Ranking = list[tuple[tuple[str, str], float]]  # (offer key, cooperative id), score


def _metrics(
    rankings: Mapping[str, Ranking],
    min_score: float,
    ideal_grades: Mapping[str, list[int]],
    judgments: Judgments,
    violates: Mapping[tuple[str, str], bool],
) -> Metrics:
    """nDCG on the whole top-k ranking; precision and eligibility on the suggestions,
    the ranked pairs at or above ``min_score``."""
    ndcgs: list[float] = []
    precisions: list[float] = []
    suggestions = violations = 0
    for query, ranked in rankings.items():
        n = ndcg([judgments.get(p, 0) for p, _ in ranked], ideal_grades.get(query, ()))
        if n is not None:
            ndcgs.append(n)
        suggested = [p for p, score in ranked if score >= min_score]
        p = precision([judgments.get(pair, 0) for pair in suggested])
        if p is not None:
            precisions.append(p)
        suggestions += len(suggested)
        violations += sum(violates[pair] for pair in suggested)
    return Metrics(
        ndcg_at_10=sum(ndcgs) / len(ndcgs) if ndcgs else 1.0,
        precision_at_5=sum(precisions) / len(precisions) if precisions else 1.0,
        eligibility_violations=violations / suggestions if suggestions else 0.0,
        suggestions=suggestions,
        queries=len(rankings),
    )


def _offer_text(o: Offer) -> str:
    return " ".join((o.title, o.description, *o.business_units, *o.commodities))


def _coop_text(c: Cooperative) -> str:
    return " ".join((c.name, *c.business_units, *c.commodities, c.needs))


def baseline_scores(
    offers: Sequence[Offer], coops: Sequence[Cooperative]
) -> dict[tuple[str, str], float]:
    """The naive baseline: WRatio over concatenated text, every pair, no vocabulary."""
    coop_texts = [(c.cooperative_id, utils.default_process(_coop_text(c))) for c in coops]
    scores: dict[tuple[str, str], float] = {}
    for o in offers:
        text = utils.default_process(_offer_text(o))
        for cid, ctext in coop_texts:
            scores[(o.key, cid)] = fuzz.WRatio(text, ctext, processor=None)
    return scores


def evaluate(
    cooperatives: Sequence[Cooperative],
    offers: Sequence[Offer],
    judgments: Judgments,
    as_of: date,
    *,
    name: str = "",
    k: int = K_NDCG,
    min_score: float = SUGGESTION_THRESHOLD,
) -> EvaluationReport:
    """Metrics of the matcher and of the WRatio baseline on the same set, both directions."""
    index = MatchIndex()
    index.upsert_cooperatives(cooperatives)
    index.upsert_offers(offers)

    pairs = [(o, c) for o in offers for c in cooperatives]
    violates = {(o.key, c.cooperative_id): ineligibility(o, c, as_of) is not None for o, c in pairs}
    ideal_by_offer: dict[str, list[int]] = {o.key: [] for o in offers}
    ideal_by_coop: dict[str, list[int]] = {c.cooperative_id: [] for c in cooperatives}
    for (key, cid), grade in judgments.items():
        if grade > 0 and key in ideal_by_offer and cid in ideal_by_coop:
            ideal_by_offer[key].append(grade)
            ideal_by_coop[cid].append(grade)

    # The matcher's ranking is its top k among candidates (min_score 0); its suggestions
    # are the ranked pairs at or above min_score.
    ours_by_offer = {
        o.key: [
            ((m.offer_key, m.cooperative_id), m.score)
            for m in index.best_cooperatives(o.key, k, as_of)
        ]
        for o in offers
    }
    ours_by_coop = {
        c.cooperative_id: [
            ((m.offer_key, m.cooperative_id), m.score)
            for m in index.best_offers(c.cooperative_id, k, as_of)
        ]
        for c in cooperatives
    }

    # The baseline suggests its top k, whatever the score and the eligibility rules.
    base = baseline_scores(offers, cooperatives)
    base_by_offer = {
        o.key: [
            (p, base[p])
            for p in sorted(
                ((o.key, c.cooperative_id) for c in cooperatives), key=lambda p: (-base[p], p[1])
            )[:k]
        ]
        for o in offers
    }
    base_by_coop = {
        c.cooperative_id: [
            (p, base[p])
            for p in sorted(
                ((o.key, c.cooperative_id) for o in offers), key=lambda p: (-base[p], p[0])
            )[:k]
        ]
        for c in cooperatives
    }
    return EvaluationReport(
        name=name,
        matcher={
            "per_offer": _metrics(ours_by_offer, min_score, ideal_by_offer, judgments, violates),
            "per_cooperative": _metrics(
                ours_by_coop, min_score, ideal_by_coop, judgments, violates
            ),
        },
        baseline={
            "per_offer": _metrics(base_by_offer, 0.0, ideal_by_offer, judgments, violates),
            "per_cooperative": _metrics(base_by_coop, 0.0, ideal_by_coop, judgments, violates),
        },
    )


def evaluate_set(data: EvaluationSet) -> EvaluationReport:
    return evaluate(data.cooperatives, data.offers, data.judgments, data.as_of, name=data.name)


def format_report(report: EvaluationReport) -> str:
    """A plain-text table: one row per system and direction, targets and verdict below."""
    lines = [
        f"Evaluation set: {report.name or '-'}",
        f"{'system':<10} {'direction':<16} {'nDCG@10':>8} {'P@5':>6} {'inelig.':>8} "
        f"{'sugg.':>6} {'queries':>8}",
    ]
    for system, by_direction in (("matcher", report.matcher), ("baseline", report.baseline)):
        for direction, m in by_direction.items():
            lines.append(
                f"{system:<10} {direction:<16} {m.ndcg_at_10:>8.3f} {m.precision_at_5:>6.3f} "
                f"{m.eligibility_violations:>8.3f} {m.suggestions:>6d} {m.queries:>8d}"
            )
    lines.append(
        f"targets: nDCG@10 >= {TARGETS['ndcg_at_10']}, P@5 >= {TARGETS['precision_at_5']}, "
        f"ineligible share = 0 -> {'met' if report.meets_targets() else 'NOT met'}"
    )
    return "\n".join(lines)
