"""The one back-off: exact without jitter (redeliveries, a database at start), bounded."""

from __future__ import annotations

import random

from services.platform.backoff import backoff_delay
from services.platform.consuming import MAX_RETRY_DELAY


def test_doubles_from_the_base_up_to_the_cap() -> None:
    # A redelivered message: 2, 4, 8, ... s after its 1st, 2nd, 3rd ... delivery, 60 s at most.
    assert [backoff_delay(n, 2.0, MAX_RETRY_DELAY) for n in range(1, 8)] == [
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]
    # The database at start (runtime.migrate_when_reachable).
    assert [backoff_delay(n, 0.5, 5.0) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff_delay(0, 2.0, 60.0) == 2.0  # no delivery counted yet: the base


def test_a_huge_attempt_count_stays_at_the_cap() -> None:
    assert backoff_delay(10_000, 2.0, 60.0) == 60.0
    assert 0 <= backoff_delay(10_000, 2.0, 600.0, random.Random(1)) <= 600.0
