"""The matcher holds the turn (on SQLite the write lock ingest waits for) in short
transactions: a batch of profile changes is split into transactions of about
``matcher_turn_seconds``, and offers published meanwhile are reconciled in between, not
after the whole batch. The sets come out as one transaction gives them. On a real database
(SQLite file, PostgreSQL where configured)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from schemas import subjects
from services.consuming import Delivery, Transient
from services.matching import Matchmaker
from tests import builders
from tests.replicas.world import TODAY, World, announced, offers_subject, open_rows

OFFER = builders.offer()
OFFER_KEY = f"{OFFER['partner_id']}/{OFFER['offer_id']}"
COOPERATIVES = [f"KDMP-611201200{n}" for n in range(1, 10)]


def arrive(world: World, cooperatives: list[str]) -> None:
    for cooperative_id in cooperatives:
        world.publish(
            subjects.COOPERATIVE_UPSERTED,
            builders.profile(
                cooperative_id=cooperative_id, village_code=f"61.12.01.200{cooperative_id[-1]}"
            ),
        )


def best_two(world: World) -> list[str]:
    """What one process computes from the final data."""
    best = world.matcher.index.best_cooperatives(
        OFFER_KEY, 2, TODAY, min_score=world.matcher.settings.min_score
    )
    return [m.cooperative_id for m in best]


def pending(world: World) -> set[str]:
    return {cid for cid, (status, _) in open_rows(world).items() if status == "pending"}


def count_commits(world: World) -> list[int]:
    commits = [0]

    def committed(_connection: Any) -> None:
        commits[0] += 1

    event.listen(world.engine, "commit", committed)
    return commits


def offer_then_cooperatives(engine, database_url: str, **settings: Any) -> World:
    """The offer placed; the nine cooperatives stored by ingest, their changes not yet
    handed to the matcher."""
    world = World(engine, database_url, suggestions_per_offer=2, **settings)
    world.publish(offers_subject("bri"), OFFER)
    assert world.consume(world.changes()) == ["ack"]
    arrive(world, COOPERATIVES)
    return world


def test_a_batch_of_profile_changes_is_reconciled_in_short_transactions(engine, database_url):
    world = offer_then_cooperatives(engine, database_url, matcher_turn_seconds=0.0)
    commits = count_commits(world)
    assert world.consume(world.changes()) == ["ack"] * len(COOPERATIVES)
    # A turn of no time: each change in its own transaction.
    assert commits[0] == len(COOPERATIVES)
    assert pending(world) == set(best_two(world))


def test_a_long_turn_takes_the_batch_in_one_transaction(engine, database_url):
    world = offer_then_cooperatives(engine, database_url, matcher_turn_seconds=10.0)
    commits = count_commits(world)
    assert world.consume(world.changes()) == ["ack"] * len(COOPERATIVES)
    assert commits[0] == 1
    assert pending(world) == set(best_two(world))


def test_when_a_turn_cannot_be_taken_the_rest_of_the_batch_is_retried_later(
    engine, database_url, monkeypatch
):
    world = offer_then_cooperatives(engine, database_url, matcher_turn_seconds=0.0)
    begin = Matchmaker.begin
    turns = [0]

    def begin_unless_third(self: Matchmaker, session: Any) -> None:
        turns[0] += 1
        if turns[0] == 3:
            raise Transient("stream end unknown")  # NATS away, say
        begin(self, session)

    monkeypatch.setattr(Matchmaker, "begin", begin_unless_third)
    msgs = world.changes()
    settled = world.consume(msgs)
    # Two changes applied; the third failed, and the rest were not tried after it.
    assert settled == ["ack", "ack"] + ["nak"] * (len(COOPERATIVES) - 2)
    assert turns[0] == 3
    monkeypatch.setattr(Matchmaker, "begin", begin)
    redelivered = [m for m in msgs if m.settled == "nak"]
    for m in redelivered:
        m.settled = ""
    assert world.consume(redelivered) == ["ack"] * len(redelivered)
    assert pending(world) == set(best_two(world))


def test_an_offer_published_during_a_batch_is_reconciled_before_the_rest_of_it(
    engine, database_url, monkeypatch
):
    """The follower sees the offer change while the matcher works through profile changes:
    its suggestions go out after the transaction in progress, not after the batch; its own
    delivery later finds it reconciled already."""
    world = World(engine, database_url, suggestions_per_offer=2, matcher_turn_seconds=0.0)
    newest_first = COOPERATIVES[::-1]  # each arrival beats the ones before (ties by id)
    arrive(world, newest_first[:1])
    world.consume(world.changes())
    arrive(world, newest_first[1:])
    batch = world.changes()  # the other eight cooperatives
    world.publish(offers_subject("bri"), OFFER)
    (offer_change,) = world.changes()
    process = Matchmaker.process
    seen: list[int] = []

    def process_and_see_the_offer(
        self: Matchmaker, deliveries: list[Delivery], waiting: int | None = None
    ) -> list[Any]:
        done = process(self, deliveries, waiting)
        if not seen:  # published while the first transaction ran
            asyncio.run(self.follower._received(offer_change))  # type: ignore[arg-type]
            seen.append(len(announced(world)))
        return done

    monkeypatch.setattr(Matchmaker, "process", process_and_see_the_offer)
    assert world.consume(batch) == ["ack"] * len(batch)
    messages = announced(world)
    # Placed after the first transaction, with the two cooperatives reconciled by then;
    # had it waited for the batch, only the final best two would have been announced.
    assert seen == [0]
    assert messages[:2] == [(subjects.MATCH_SUGGESTED, cid) for cid in sorted(newest_first[:2])]
    assert pending(world) == set(best_two(world)) == set(COOPERATIVES[:2])
    assert world.matcher._early == {offer_change.sequence}
    # Its delivery: reconciled already, nothing announced again.
    monkeypatch.setattr(Matchmaker, "process", process)
    assert world.consume([offer_change]) == ["ack"]
    assert announced(world) == messages
    assert not world.matcher._early


def test_a_failing_change_does_not_hold_back_the_rest_of_the_batch(
    engine, database_url, monkeypatch
):
    """Not the database away but the message at fault: the turns after it go on."""
    world = offer_then_cooperatives(engine, database_url, matcher_turn_seconds=0.0)
    apply = Matchmaker.apply

    def apply_failing_on_the_third(self: Matchmaker, session: Any, delivery: Delivery) -> None:
        if COOPERATIVES[2].encode() in delivery.data:
            raise ValueError("a handler bug this message triggers")
        apply(self, session, delivery)

    monkeypatch.setattr(Matchmaker, "apply", apply_failing_on_the_third)
    settled = world.consume(world.changes())
    assert settled == ["ack", "ack", "nak"] + ["ack"] * (len(COOPERATIVES) - 3)


def test_an_offer_is_reconciled_as_soon_as_the_follower_sees_it(engine, database_url):
    """No batch is running: the offer does not wait for the durable's next pull."""
    world = World(engine, database_url, suggestions_per_offer=2)
    arrive(world, COOPERATIVES)
    world.consume(world.changes())
    world.publish(offers_subject("bri"), OFFER)
    (offer_change,) = world.changes()

    async def seen_by_the_follower() -> None:
        lane = asyncio.create_task(world.matcher.run_offers())
        try:
            await world.matcher.follower._received(offer_change)  # type: ignore[arg-type]
            for _ in range(200):
                if announced(world):
                    return
                await asyncio.sleep(0.05)
        finally:
            lane.cancel()

    asyncio.run(seen_by_the_follower())
    messages = announced(world)
    assert messages == [(subjects.MATCH_SUGGESTED, cid) for cid in best_two(world)]
    assert world.consume([offer_change]) == ["ack"]  # its delivery: reconciled already
    assert announced(world) == messages and not world.matcher._early


def test_behind_a_backlog_the_batch_is_one_transaction(engine, database_url):
    """A bulk load: one transaction places each offer's candidates once, where short ones
    would write and announce every passing best."""
    world = offer_then_cooperatives(engine, database_url, matcher_turn_seconds=0.0, hold_backlog=3)
    commits = count_commits(world)
    assert world.consume(world.changes(waiting=5)) == ["ack"] * len(COOPERATIVES)
    assert commits[0] == 1
    assert pending(world) == set(best_two(world))
