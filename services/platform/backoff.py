"""The one exponential back-off of the service, for every kind of retry.

Used for a message handed back to JetStream (its NAK delay), a webhook delivery (its next
try, stored in the database so that a restart keeps it) and a database still starting
(``runtime.migrate_when_reachable``). The first two only compute a delay that something
else waits out, so a retry library that wraps a call (tenacity, stamina) would not fit
them; one function fits all three.
"""

from __future__ import annotations

import random

# 2**62 times any base delay is far above any cap; the bound keeps a huge attempt count
# from overflowing a float.
_MAX_DOUBLINGS = 62


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before try ``attempt + 1``: ``base * 2**(attempt-1)``, at most ``cap``.

    With ``rng``, full jitter: uniform in [0, that], so that many clients failing together
    do not come back together (webhook receivers).
    """
    delay = min(cap, base * 2 ** min(max(0, attempt - 1), _MAX_DOUBLINGS))
    return rng.uniform(0, delay) if rng is not None else delay
