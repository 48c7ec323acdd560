"""What the pages compute per coordinator scope and keep for a short while.

Everyone with the same role and regions sees the same filter choices and the same
overview, and at national scale computing them takes a scan of the pending suggestions.
So each is computed once per scope and kept for ``ttl`` seconds. A decision taken in this
process drops the kept values of every scope that holds the decided suggestion
(``forget_region``), so the coordinator who decided sees it counted at once; another
process's decisions show when the value expires.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from cachetools import TTLCache
from sqlalchemy import Engine

from schemas.regions import region_contains
from services.review.models import Coordinator, Role

V = TypeVar("V")
# (role, scope, anything else the value depends on)
Key = tuple[str, tuple[str, ...], Hashable]

_all: list[ScopeCache[object]] = []


class ScopeCache(Generic[V]):
    """Values by database (the engine: a new engine starts empty), role, scope and
    ``extra``, each kept ``ttl`` seconds."""

    def __init__(self, ttl: float, maxsize: int = 1024, forget_on_decision: bool = True) -> None:
        self._ttl = ttl
        self._maxsize = maxsize
        self._by_engine: weakref.WeakKeyDictionary[Engine, TTLCache[Key, V]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        if forget_on_decision:
            _all.append(self)  # type: ignore[arg-type]

    def _values(self, engine: Engine) -> TTLCache[Key, V]:
        values = self._by_engine.get(engine)
        if values is None:
            values = self._by_engine[engine] = TTLCache(maxsize=self._maxsize, ttl=self._ttl)
        return values

    def get(
        self,
        engine: Engine,
        coordinator: Coordinator,
        compute: Callable[[], V],
        extra: Hashable = None,
    ) -> V:
        """The kept value, or ``compute()`` kept now. Two requests that miss together both
        compute (no lock is held while computing): the second merely replaces the first."""
        key = (str(coordinator.role), tuple(coordinator.scope), extra)
        with self._lock:
            found = self._values(engine).get(key)
        if found is None:
            found = compute()
            with self._lock:
                self._values(engine)[key] = found
        return found

    def forget_region(self, engine: Engine, village_code: str) -> None:
        with self._lock:
            values = self._values(engine)
            for key in [k for k in list(values.keys()) if _holds(k[0], k[1], village_code)]:
                values.pop(key, None)


def _holds(role: str, scope: tuple[str, ...], village_code: str) -> bool:
    if role == str(Role.ADMIN):
        return True
    return any(region_contains(code, village_code) for code in scope)


def forget_region(engine: Engine, village_code: str) -> None:
    """A suggestion of ``village_code`` was decided or reopened: drop what counted it."""
    for cache in _all:
        cache.forget_region(engine, village_code)
