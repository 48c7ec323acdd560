"""The matcher's memory for the national set, in process (not a timed test).

Builds what one matcher owning every province holds: 38 ``Shortlist``s filled with the
national set (``services.demo.synthetic.national``: 83,762 cooperatives, 10,000 offers)
and settled, as a province load does, without a database or a broker. Measures the
resident memory the state adds above the values themselves, and where it sits with
``--trace`` (tracemalloc, by line; several times slower).

A check of the pipeline benchmark's ``matcher_rss_mib`` that takes a minute instead of
twenty, and names the lines that hold the memory.

Ends with one JSON line: cooperatives, offers, provinces, pending, build_s,
values_rss_mib, rss_mib, state_mib.

Run: ``uv run python benchmarks/bench_memory.py [--trace]``
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from datetime import date

from matcher.shortlist import Rule, Shortlist, province_of
from matcher.values import cooperative_value, offer_value
from schemas.regions import Level, region_table
from services.demo import synthetic

AS_OF = date(2026, 6, 1)


def rss_mib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", action="store_true", help="tracemalloc: the top lines")
    args = parser.parse_args()
    profiles, offers = synthetic.national()
    coops = [cooperative_value(p) for p in profiles]
    values = [offer_value(o) for o in offers]
    del profiles, offers
    gc.collect()
    before = rss_mib()
    if args.trace:
        tracemalloc.start()
    started = time.perf_counter()
    shortlists = []
    for province in (r.code for r in region_table().of_level(Level.PROVINCE)):
        shortlist = Shortlist(province, Rule(), AS_OF)
        for coop in coops:
            if province_of(coop.village_code) == province:
                shortlist.upsert_cooperative(coop)
        for offer in values:
            shortlist.upsert_offer(offer)
        shortlist.everything_changed()
        shortlist.settle()
        shortlists.append(shortlist)
    took = time.perf_counter() - started
    gc.collect()
    after = rss_mib()
    if args.trace:
        stats = tracemalloc.take_snapshot().statistics("lineno")
        print(f"traced {sum(s.size for s in stats) / 2**20:.0f} MiB; the top lines:")
        for stat in stats[:25]:
            print(f"{stat.size / 2**20:8.1f} MiB {stat.count:9d} {stat.traceback[0]}")
    figures = {
        "cooperatives": len(coops),
        "offers": len(values),
        "provinces": len(shortlists),
        "pending": sum(len(s.published) for s in shortlists),
        "build_s": round(took, 1),
        "values_rss_mib": before,
        "rss_mib": after,
        "state_mib": after - before,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
