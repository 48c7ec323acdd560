"""Benchmark of the matcher on a national data set (not a timed test).

One cooperative per village of the region table (83,762) and 10,000 offers from the seeded
generator in ``matcher_synth.py``. Prints: index build time, peak memory, query latency
(top-10 cooperatives for an offer, top-10 offers for a cooperative), the same queries by
brute force with the naive baseline (rapidfuzz WRatio over concatenated text, every
pair), and the candidate index's recall against scoring every eligible pair.

Run: ``uv run python benchmarks/bench_matcher.py [--offers 10000] [--queries 500]``
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from rapidfuzz import fuzz, process, utils

sys.path.insert(0, str(Path(__file__).parent))

import matcher_synth

from matcher.eligibility import in_region, offer_ineligibility, pair_ineligibility
from matcher.index import MatchIndex
from matcher.model import Cooperative
from matcher.profile import coop_terms, offer_terms
from matcher.scoring import (
    SUGGESTION_THRESHOLD,
    offer_weights,
    term_scores,
    text_score,
    total,
    weighted_terms,
)
from schemas.regions import region_table

AS_OF = date(2026, 6, 1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def ms(seconds: list[float]) -> str:
    s = sorted(seconds)
    p90 = s[int(len(s) * 0.9)]
    return (
        f"median {statistics.median(s) * 1000:7.3f} ms   p90 {p90 * 1000:7.3f} ms   "
        f"max {s[-1] * 1000:7.3f} ms   (n={len(s)})"
    )


def scope(offer_regions: tuple[str, ...]) -> str:
    if not offer_regions:
        return "national"
    if len(offer_regions) > 1:
        return "several regencies"
    return {1: "province", 2: "regency", 3: "district", 4: "village"}[
        offer_regions[0].count(".") + 1
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--recall-offers", type=int, default=300)
    parser.add_argument("--baseline-queries", type=int, default=20)
    args = parser.parse_args()

    villages = [r.code for r in region_table().villages()]
    coops = matcher_synth.cooperatives(villages)
    offers = matcher_synth.offers(villages, args.offers)
    gc.collect()
    rss_data = peak_rss_mb()
    print(
        f"data: {len(coops)} cooperatives, {len(offers)} offers; "
        f"peak RSS with region table and data: {rss_data:.0f} MB"
    )

    index = MatchIndex()
    t0 = time.perf_counter()
    index.upsert_cooperatives(coops)
    t1 = time.perf_counter()
    index.upsert_offers(offers)
    t2 = time.perf_counter()
    print(f"build: cooperatives {t1 - t0:.2f} s, offers {t2 - t1:.2f} s, total {t2 - t0:.2f} s")
    rss_built = peak_rss_mb()
    print(f"peak RSS after build: {rss_built:.0f} MB (index adds ~{rss_built - rss_data:.0f} MB)")

    rng = random.Random(7)
    live = [o for o in offers if offer_ineligibility(o, AS_OF) is None]
    sample_offers = rng.sample(live, min(args.queries, len(live)))
    sample_coops = rng.sample(coops, min(args.queries * 2, len(coops)))

    for label, min_score in (
        ("suggestions (min_score=threshold)", SUGGESTION_THRESHOLD),
        ("ranking (min_score=0)", 0.0),
    ):
        times: list[float] = []
        by_scope: dict[str, list[float]] = {}
        for o in sample_offers:
            t = time.perf_counter()
            index.best_cooperatives(o.key, 10, AS_OF, min_score=min_score)
            dt = time.perf_counter() - t
            times.append(dt)
            by_scope.setdefault(scope(o.regions), []).append(dt)
        print(f"top-10 cooperatives for one offer, {label}: {ms(times)}")
        for name, ts in sorted(by_scope.items()):
            print(f"    {name:<18} {ms(ts)}")
        times = []
        for c in sample_coops:
            t = time.perf_counter()
            index.best_offers(c.cooperative_id, 10, AS_OF, min_score=min_score)
            times.append(time.perf_counter() - t)
        print(f"top-10 offers for one cooperative, {label}: {ms(times)}")

    # Naive baseline by brute force: WRatio of the offer text against every cooperative.
    coop_texts = [
        utils.default_process(" ".join((*c.business_units, *c.commodities, c.needs))) for c in coops
    ]
    offer_texts = [
        utils.default_process(" ".join((o.title, *o.business_units, *o.commodities)))
        for o in offers
    ]
    base_offer: list[float] = []
    for o in sample_offers[: args.baseline_queries]:
        text = utils.default_process(" ".join((o.title, *o.business_units, *o.commodities)))
        t = time.perf_counter()
        process.extract(text, coop_texts, scorer=fuzz.WRatio, processor=None, limit=10)
        base_offer.append(time.perf_counter() - t)
    base_coop: list[float] = []
    for i in range(args.baseline_queries):
        t = time.perf_counter()
        process.extract(
            coop_texts[i * 97], offer_texts, scorer=fuzz.WRatio, processor=None, limit=10
        )
        base_coop.append(time.perf_counter() - t)
    ours_offer = []
    for o in sample_offers[: args.baseline_queries]:
        t = time.perf_counter()
        index.best_cooperatives(o.key, 10, AS_OF, min_score=SUGGESTION_THRESHOLD)
        ours_offer.append(time.perf_counter() - t)
    ours_coop = []
    for i in range(args.baseline_queries):
        t = time.perf_counter()
        index.best_offers(coops[i * 97].cooperative_id, 10, AS_OF, min_score=SUGGESTION_THRESHOLD)
        ours_coop.append(time.perf_counter() - t)
    print(
        f"baseline brute force WRatio, top-10 cooperatives for one offer: {ms(base_offer)}"
        f"  -> {statistics.median(base_offer) / statistics.median(ours_offer):.0f}x our median"
        f" on the same offers"
    )
    print(
        f"baseline brute force WRatio, top-10 offers for one cooperative: {ms(base_coop)}"
        f"  -> {statistics.median(base_coop) / statistics.median(ours_coop):.0f}x our median"
        f" on the same cooperatives"
    )

    # Recall of the candidate index against scoring every eligible pair in the region.
    found = relevant = top_equal = pooled = gathered = 0
    recall_offers = rng.sample(live, min(args.recall_offers, len(live)))
    by_regency: dict[str, list[Cooperative]] = {}
    for c in coops:
        by_regency.setdefault(".".join(c.village_code.split(".")[:2]), []).append(c)
    t = time.perf_counter()
    for o in recall_offers:
        ot = offer_terms(o)
        weights = offer_weights(ot)
        pool = (
            coops
            if not o.regions
            else [
                c
                for reg, cs in by_regency.items()
                if any(
                    reg == r or reg.startswith(r + ".") or r.startswith(reg + ".")
                    for r in o.regions
                )
                for c in cs
                if in_region(c.village_code, o.regions)
            ]
        )
        brute = []
        for c in pool:
            if pair_ineligibility(o, c):
                continue
            ct = coop_terms(c)
            s = total(weights, weighted_terms(weights, term_scores(ot, ct)), text_score(ot, ct))
            if s >= SUGGESTION_THRESHOLD:
                brute.append((-s, c.cooperative_id))
        candidates = index.candidate_cooperatives(o.key)
        pooled += len(pool)
        gathered += len(candidates)
        relevant += len(brute)
        found += sum(cid in candidates for _, cid in brute)
        ours = [
            (-m.score, m.cooperative_id)
            for m in index.best_cooperatives(o.key, 10, AS_OF, min_score=SUGGESTION_THRESHOLD)
        ]
        top_equal += ours == sorted(brute)[:10]
    print(
        f"recall of candidate index vs brute force over {len(recall_offers)} offers: "
        f"{found}/{relevant} pairs >= {SUGGESTION_THRESHOLD:.0f} "
        f"= {found / relevant if relevant else 1.0:.4f}; top-10 identical for "
        f"{top_equal}/{len(recall_offers)} offers ({time.perf_counter() - t:.0f} s)"
    )
    print(
        f"candidates per offer: {gathered / len(recall_offers):.0f} of "
        f"{pooled / len(recall_offers):.0f} cooperatives in its regions on average "
        f"({gathered / pooled:.1%}); the two-stage query scores fewer still"
    )
    print(f"peak RSS at end: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
