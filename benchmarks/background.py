"""The background of profile updates both load benchmarks run under."""

from __future__ import annotations

import random
from datetime import timedelta

from schemas import CooperativeProfile

# 200 updates/s with one edit in 20 is still ~860,000 edits a day for 83,762 cooperatives.
EDIT_EVERY = 20


def profile_update(
    profiles: list[CooperativeProfile], step: int, rng: random.Random, edit_every: int = EDIT_EVERY
) -> CooperativeProfile:
    """A newer version of a random profile: most change their member count; one in
    ``edit_every`` (0: none) is edited, taking another profile's units, produce and needs (its
    scores change, and each set it falls in is recomputed)."""
    profile = rng.choice(profiles)
    changes: dict[str, object] = {
        "updated_at": profile.updated_at + timedelta(seconds=step),
        "member_count": profile.member_count + step % 7,
    }
    if edit_every and step % edit_every == 0:
        other = rng.choice(profiles)
        changes |= {
            "business_units": other.business_units,
            "commodities": other.commodities,
            "needs": other.needs,
        }
    return profile.model_copy(update=changes)
