"""What the pages compute per coordinator scope and keep for a short while.

Everyone with the same role and regions sees the same filter choices and the same
overview, and at national scale computing them takes a scan of the pending suggestions
(0.2-0.5 s for the admin at 500,000 pending). So each is computed once per scope and
kept. A value older than ``fresh`` seconds is still served while a background thread
computes it again, so a request does not wait for it; one older than ``stale`` seconds
(nobody looked meanwhile) is computed while the request waits. A decision taken in this
process drops the kept values of every scope that holds the decided suggestion
(``forget_region``), so the coordinator who decided sees it counted at once; another
process's decisions show within ``fresh`` seconds and a refresh.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from cachetools import LRUCache
from sqlalchemy import Engine
from sqlmodel import Session

from schemas.regions import region_contains
from services.storage.db import session_engine
from services.storage.models import CoordinatorRow, Role

log = logging.getLogger(__name__)

# Past ``fresh``, the filter choices and the overview are served while computed again in the
# background, up to this age.
KEPT_SECONDS = 900.0

V = TypeVar("V")
# (role, scope, anything else the value depends on)
Key = tuple[str, tuple[str, ...], Hashable]

_all: list[ScopeCache[Any]] = []


class _Kept(Generic[V]):
    __slots__ = ("at", "refreshing", "value")

    def __init__(self, value: V) -> None:
        self.value = value
        self.at = time.monotonic()
        self.refreshing = False


class ScopeCache(Generic[V]):
    """Values by database (the engine: a new engine starts empty), role, scope and
    ``extra``: fresh for ``fresh`` seconds, served while refreshed up to ``stale``."""

    def __init__(
        self,
        fresh: float,
        stale: float,
        maxsize: int = 1024,
        forget_on_decision: bool = True,
    ) -> None:
        self.fresh = fresh
        self.stale = stale
        self._maxsize = maxsize
        self._by_engine: weakref.WeakKeyDictionary[Engine, LRUCache[Key, _Kept[V]]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every forget_region
        if forget_on_decision:
            _all.append(self)

    def _values(self, engine: Engine) -> LRUCache[Key, _Kept[V]]:
        values = self._by_engine.get(engine)
        if values is None:
            values = self._by_engine[engine] = LRUCache(maxsize=self._maxsize)
        return values

    def get(
        self,
        session: Session,
        coordinator: CoordinatorRow,
        compute: Callable[[Session, CoordinatorRow], V],
        extra: Hashable = None,
    ) -> V:
        """The kept value (refreshed in the background once it is no longer fresh), or
        ``compute(session, coordinator)`` kept now. Two requests that miss together both
        compute (no lock is held while computing): the second merely replaces the first."""
        engine = session_engine(session)
        key = (str(coordinator.role), tuple(coordinator.scope), extra)
        with self._lock:
            kept = self._values(engine).get(key)
            refresh = False
            if kept is not None:
                age = time.monotonic() - kept.at
                refresh = self.fresh < age <= self.stale and not kept.refreshing
                if refresh:
                    kept.refreshing = True
            generation = self._generation
        if kept is None or age > self.stale:
            value = compute(session, coordinator)
            self._keep(engine, key, value, generation)
            return value
        if refresh:
            # The thread reads through a session of its own, for a copy of the coordinator
            # (the request's object belongs to the request's session).
            alike = CoordinatorRow(
                username=coordinator.username,
                role=coordinator.role,
                scope=list(coordinator.scope),
                active=coordinator.active,
                password_hash="",
            )
            threading.Thread(
                target=self._refresh, args=(engine, key, compute, alike, generation), daemon=True
            ).start()
        return kept.value

    def _keep(self, engine: Engine, key: Key, value: V, generation: int) -> None:
        with self._lock:
            # Computed before a decision dropped what it counted: not kept.
            if generation == self._generation:
                self._values(engine)[key] = _Kept(value)

    def _refresh(
        self,
        engine: Engine,
        key: Key,
        compute: Callable[[Session, CoordinatorRow], V],
        coordinator: CoordinatorRow,
        generation: int,
    ) -> None:
        try:
            with Session(engine) as session:
                self._keep(engine, key, compute(session, coordinator), generation)
        except Exception:  # the old value stays; the next request after ``stale`` computes
            log.warning("refreshing a kept review value failed", exc_info=True)
            with self._lock:
                kept = self._values(engine).get(key)
                if kept is not None:
                    kept.refreshing = False

    def forget_region(self, engine: Engine, village_code: str) -> None:
        with self._lock:
            self._generation += 1
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
