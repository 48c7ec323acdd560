"""Logging a repeated failure once per interval instead of once per occurrence."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Hashable
from typing import Any

_INSTANCES: weakref.WeakSet[ThrottledLog] = weakref.WeakSet()


def reset_all() -> None:
    """Forget what every throttle has written (tests start each from a clean log)."""
    for throttle in list(_INSTANCES):
        with throttle._lock:
            throttle._last.clear()
            throttle._skipped.clear()


class ThrottledLog:
    """Writes the first record of each key, then at most one per ``interval`` seconds.

    The next record written for a key says how many were left out since the last one, so
    the log still shows how often a failure happens without growing with every delivery.
    """

    def __init__(self, logger: logging.Logger, interval: float = 60.0) -> None:
        self.logger = logger
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}
        self._skipped: dict[Hashable, int] = {}
        _INSTANCES.add(self)

    def log(self, level: int, key: Hashable, msg: str, *args: Any, **kwargs: Any) -> bool:
        """Log unless ``key`` was logged less than ``interval`` ago; True when written."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._skipped[key] = self._skipped.get(key, 0) + 1
                return False
            self._last[key] = now
            skipped = self._skipped.pop(key, 0)
            if len(self._last) > 10_000:  # keys are few; never let them grow without bound
                self._last = {key: now}
        if skipped:
            msg += f" ({skipped} more like it in the last {self.interval:.0f} s not logged)"
        self.logger.log(level, msg, *args, **kwargs)
        return True
