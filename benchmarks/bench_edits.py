"""Profile edits against the matching rule, with and without each offer's reserve (a
script, not a test).

Builds every province's ``Shortlist`` from a part of the national set (no database, no
broker), then applies the same background of profile updates as the pipeline benchmark
(``background.py``: most change the member count, one in 20 is an edit) once with
``RESERVE`` entries beyond each offer's 20 and once with none. The baseline, in the same
run, is the rule without the reserve: every fall of a selected cooperative behind an
outsider rescores its offer over the whole province.

Ends with one JSON line: scale, updates, rescorings and ms_per_update for each, and
whether both announced the same events.

Run: ``uv run python benchmarks/bench_edits.py [--scale 0.1] [--updates 4000]``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import date
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).parent))

from background import EDIT_EVERY, profile_update

from matcher.index import MatchIndex
from matcher.shortlist import RESERVE, Event, Rule, Shortlist, province_of
from matcher.values import cooperative_value, offer_value
from schemas import CooperativeProfile, PartnerOffer, internal
from services.demo.synthetic import national


def run(
    profiles: list[CooperativeProfile],
    offers: list[PartnerOffer],
    updates: list[CooperativeProfile],
    reserve: int,
) -> tuple[float, int, list[Event]]:
    """(ms per update, province rescorings, events) with ``reserve`` entries per offer."""
    today = date.today()
    shortlists = {p: Shortlist(p, Rule(), today, reserve) for p in internal.provinces()}
    for profile in profiles:
        shortlists[province_of(profile.village_code)].upsert_cooperative(cooperative_value(profile))
    for shortlist in shortlists.values():
        for offer in offers:
            shortlist.upsert_offer(offer_value(offer))
        shortlist.settle()
    rescorings = 0
    original = MatchIndex.best_cooperatives

    def counted(index: MatchIndex, *args: object, **kwargs: object) -> object:
        nonlocal rescorings
        rescorings += 1
        return original(index, *args, **kwargs)  # type: ignore[arg-type]  # passed through

    events: list[Event] = []
    with patch.object(MatchIndex, "best_cooperatives", counted):
        started = time.process_time()
        for update in updates:
            shortlist = shortlists[province_of(update.village_code)]
            shortlist.upsert_cooperative(cooperative_value(update))
            events.extend(shortlist.settle())
        spent = time.process_time() - started
    return 1000 * spent / len(updates), rescorings, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="fraction of the national set")
    parser.add_argument("--updates", type=int, default=4000)
    args = parser.parse_args()
    profiles, offers = national()
    profiles = profiles[: int(len(profiles) * args.scale)]
    offers = offers[: max(1, int(len(offers) * args.scale))]
    rng = random.Random(11)
    updates = [profile_update(profiles, i + 1, rng, EDIT_EVERY) for i in range(args.updates)]
    without_ms, without_rescorings, without_events = run(profiles, offers, updates, 0)
    with_ms, with_rescorings, with_events = run(profiles, offers, updates, RESERVE)
    print(
        json.dumps(
            {
                "scale": args.scale,
                "updates": args.updates,
                "reserve": RESERVE,
                "rescorings_without": without_rescorings,
                "rescorings_with": with_rescorings,
                "ms_per_update_without": round(without_ms, 3),
                "ms_per_update_with": round(with_ms, 3),
                "same_events": without_events == with_events,
            }
        )
    )


if __name__ == "__main__":
    main()
