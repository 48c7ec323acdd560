"""The background of profile updates both load benchmarks run under."""

from __future__ import annotations

import random
from datetime import timedelta

from schemas import CooperativeProfile


def profile_update(
    profiles: list[CooperativeProfile], step: int, rng: random.Random
) -> CooperativeProfile:
    """A newer version of a random profile: most change their member count; one in four
    is edited, taking another profile's units, produce and needs (its scores change)."""
    profile = rng.choice(profiles)
    changes: dict[str, object] = {
        "updated_at": profile.updated_at + timedelta(seconds=step),
        "member_count": profile.member_count + step % 7,
    }
    if step % 4 == 0:
        other = rng.choice(profiles)
        changes |= {
            "business_units": other.business_units,
            "commodities": other.commodities,
            "needs": other.needs,
        }
    return profile.model_copy(update=changes)
