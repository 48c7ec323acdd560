"""Benchmark of ``kopdes-match score`` on a national data set (not a timed test).

One cooperative per village of the region table (83,762, ``services/demo/synthetic/``) and
1,000 offers: every fifth one national, the others kept at province or regency level (an
offer the generator gives several regencies or a district is moved to its first regency).
The files are written as JSON Lines to a directory (a temporary one unless ``--data-dir``
names one; existing files there are reused), then ``kopdes-match score --top-k 10`` runs as a
subprocess: wall time and the child's peak RSS are measured, stdout is counted.

The naive baseline is timed on a sample of offers and scaled to all of them: rapidfuzz
``WRatio`` of each offer's text against every cooperative in its regions, top 10.

Ends with one JSON line: cooperatives, offers, seconds, cpu_seconds (the command's and its
workers'), peak_rss_mib (the largest single process: forked workers share their parent's
pages), workers, pairs_out, output_sha256, and the baseline's estimate.

Run: ``uv run python benchmarks/bench_score.py [--data-dir DIR] [--baseline-offers 20]
[--workers N]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from matcher import in_region
from schemas import CooperativeProfile, PartnerOffer
from services.demo import synthetic

SEED = 83
OFFERS = 1_000
AS_OF = "2026-06-01"


def national_share(offers: list[PartnerOffer]) -> list[PartnerOffer]:
    """Every fifth offer national, the rest at province or regency level."""
    shaped: list[PartnerOffer] = []
    for i, offer in enumerate(offers):
        regions = offer.regions
        if i % 5 == 0:
            regions = []
        elif len(regions) != 1 or regions[0].count(".") > 1:
            regions = [".".join(regions[0].split(".")[:2])]
        shaped.append(offer.model_copy(update={"regions": regions}))
    return shaped


def write_inputs(directory: Path) -> tuple[Path, Path]:
    coop_file, offer_file = directory / "cooperatives.jsonl", directory / "offers.jsonl"
    if coop_file.exists() and offer_file.exists():
        return coop_file, offer_file
    t = time.perf_counter()
    coops = synthetic.cooperatives(None, seed=SEED)
    offers = national_share(
        synthetic.offers(None, count=OFFERS, seed=SEED, today=date.fromisoformat(AS_OF))
    )
    coop_file.write_text("".join(c.model_dump_json() + "\n" for c in coops), encoding="utf-8")
    offer_file.write_text("".join(o.model_dump_json() + "\n" for o in offers), encoding="utf-8")
    took = time.perf_counter() - t
    print(f"generated {len(coops)} cooperatives, {len(offers)} offers in {took:.1f} s")
    return coop_file, offer_file


def run_score(
    coop_file: Path, offer_file: Path, out_file: Path, workers: int | None = None
) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MiB, exit code) of one ``kopdes-match score`` run.

    The CPU seconds tell what the wall time would be on an idle core: the machine's two
    cores are shared, and the wall time grows with everything else running.
    """
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    command = [
        sys.executable,
        "-m",
        "services",
        "score",
        "--cooperatives",
        str(coop_file),
        "--offers",
        str(offer_file),
        "--top-k",
        "10",
        "--as-of",
        AS_OF,
        *(["--workers", str(workers)] if workers else []),
    ]
    t = time.perf_counter()
    with out_file.open("wb") as out:
        code = subprocess.run(command, stdout=out, check=False).returncode
    seconds = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if usage.ru_maxrss <= before:
        print("warning: the child's peak RSS is below an earlier child's; it is not measured")
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return seconds, cpu, usage.ru_maxrss / 1024, code  # Linux: KiB


def naive_baseline(coop_file: Path, offer_file: Path, sample: int) -> float | None:
    """Seconds the naive brute force (WRatio against every cooperative in the offer's
    regions, top 10) would take for all offers, from a sample."""
    if sample <= 0:
        return None
    coops = [CooperativeProfile.model_validate_json(line) for line in coop_file.open()]
    offers = [PartnerOffer.model_validate_json(line) for line in offer_file.open()]
    texts = [
        utils.default_process(" ".join((*c.business_units, *c.commodities, c.needs))) for c in coops
    ]
    chosen = random.Random(7).sample(offers, min(sample, len(offers)))
    t = time.perf_counter()
    for offer in chosen:
        query = utils.default_process(
            " ".join((offer.title, *offer.business_units, *offer.commodities))
        )
        pool = [
            text
            for text, c in zip(texts, coops, strict=True)
            if not offer.regions or in_region(c.village_code, tuple(offer.regions))
        ]
        process.extract(query, pool, scorer=fuzz.WRatio, processor=None, limit=10)
    return (time.perf_counter() - t) * len(offers) / len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, help="where the input files are (or go)")
    parser.add_argument("--baseline-offers", type=int, default=20, help="0: no baseline")
    parser.add_argument("--keep-output", type=Path, help="copy the suggestions here")
    parser.add_argument("--workers", type=int, help="score's --workers (default: its own)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        directory = args.data_dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        coop_file, offer_file = write_inputs(directory)
        out_file = args.keep_output or Path(tmp) / "suggestions.jsonl"
        seconds, cpu, peak_mib, code = run_score(coop_file, offer_file, out_file, args.workers)
        if code != 0:
            sys.exit(f"kopdes-match score exited {code}")
        output = out_file.read_bytes()
        pairs = output.count(b"\n")
        cooperatives = sum(1 for _ in coop_file.open())
        offers = sum(1 for _ in offer_file.open())
        national = sum(1 for line in offer_file.open() if '"regions":[]' in line)
        print(
            f"score: {seconds:.2f} s ({cpu:.2f} s CPU), peak RSS {peak_mib:.0f} MiB, "
            f"{pairs} suggestions"
        )
        baseline = naive_baseline(coop_file, offer_file, args.baseline_offers)
        if baseline is not None:
            print(f"naive baseline (WRatio, every cooperative in the regions): ~{baseline:.0f} s")
        print(
            json.dumps(
                {
                    "cooperatives": cooperatives,
                    "offers": offers,
                    "national_offers": national,
                    "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu, 2),
                    "peak_rss_mib": round(peak_mib),
                    "workers": args.workers or "default",
                    "pairs_out": pairs,
                    "output_sha256": hashlib.sha256(output).hexdigest(),
                    "naive_baseline_seconds": None if baseline is None else round(baseline, 1),
                    "naive_baseline_sample": args.baseline_offers,
                }
            )
        )


if __name__ == "__main__":
    main()
