"""The matcher writes one unit of work while it matches the next. When that transaction
fails, the next unit was matched on top of changes that were never written: both are
applied again, and the pipeline ends as a run without the failure would (real nats-server,
SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from services.matching import repository
from services.matching.service import Matcher
from services.platform.outbox import Message
from services.platform.settings import Settings
from tests.support.harness import Harness
from tests.support.replicas import Workload, check_invariants


async def test_a_failed_write_while_the_next_unit_is_matched_loses_nothing(
    settings: Settings, database_url: str
) -> None:
    work = Workload(limit=600, seed=5)
    async with Harness(settings) as h:
        matcher = h.pipeline.handle("matcher")
        assert isinstance(matcher, Matcher)
        match, execute = matcher._match, matcher._execute
        failed: list[set[str]] = []
        matched_meanwhile = threading.Event()

        def watched_match(msgs: list[Any]) -> Any:
            matched = match(msgs)
            if failed:
                matched_meanwhile.set()
            return matched

        def failing_execute(matched: Any) -> list[Message]:
            """The first transaction that announces something runs its statements, waits
            for the next unit to be matched, and fails before its commit."""
            if failed or not matched.writes.suggested:
                return execute(matched)
            failed.append(matched.provinces)
            statements = repository.execute

            def then_fail(session: Session, writes: repository.Writes) -> int:
                statements(session, writes)
                matched_meanwhile.wait(10)
                raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

            repository.execute = then_fail  # this call only
            try:
                return execute(matched)
            finally:
                repository.execute = statements

        matcher._match = watched_match  # type: ignore[method-assign]  # observed
        matcher._execute = failing_execute  # type: ignore[method-assign]  # fails once

        await work.publish(h.js)
        await h.settle(timeout=120)

        assert failed, "no transaction failed: the test did not run its case"
        assert matched_meanwhile.is_set(), "no unit was matched while the failed one was written"
        assert h.dead_letters == []
        await check_invariants(h.js, database_url, work)
