"""Behind a backlog the matcher holds placements back: it notes the offers that changed
cooperatives concern (stored in the same transaction) and recomputes each whole once it
has caught up. The sets come out as placing change by change gives them, with only the
final entries announced; the notes survive a restart. On a real database (SQLite file,
PostgreSQL where configured)."""

from __future__ import annotations

from sqlmodel import Session, SQLModel, select

from schemas import subjects
from services.consuming import ACK
from services.matching import HOLD_TOUCHES
from services.publishing import encode_event
from services.storage.models import StaleOfferRow, SuggestionRow
from services.synthetic import national
from tests import builders
from tests.replicas.world import TODAY, World, announced, offers_subject, open_rows

OFFER = builders.offer()
OFFER_KEY = f"{OFFER['partner_id']}/{OFFER['offer_id']}"
# Nine cooperatives typed alike (equal scores, ties by id), arriving highest id first:
# placed one batch at a time, every batch pushes the previous best out of a two-slot set.
ARRIVALS = [f"KDMP-611201200{n}" for n in range(9, 0, -1)]
# Changes waiting after each batch: more than hold_backlog=0, and enough to touch the one
# offer more than HOLD_TOUCHES times.
BACKLOG = 50


def stale_offers(world: World) -> set[tuple[str, str]]:
    with Session(world.engine) as session:
        return {(r.partner_id, r.offer_id) for r in session.exec(select(StaleOfferRow))}


def best_two(world: World) -> list[str]:
    """What one process computes from the final data."""
    best = world.matcher.index.best_cooperatives(
        OFFER_KEY, 2, TODAY, min_score=world.matcher.settings.min_score
    )
    return [m.cooperative_id for m in best]


def arrive(world: World, waiting: int) -> None:
    """The cooperatives in three batches, each followed by ``waiting`` more changes."""
    world.publish(offers_subject("bri"), OFFER)
    assert world.match() == [ACK]
    for start in range(0, len(ARRIVALS), 3):
        for cooperative_id in ARRIVALS[start : start + 3]:
            village = f"61.12.01.200{cooperative_id[-1]}"
            world.publish(
                subjects.COOPERATIVE_UPSERTED,
                builders.profile(cooperative_id=cooperative_id, village_code=village),
            )
        assert world.match(waiting=waiting) == [ACK] * 3


def test_placing_as_changes_come_announces_every_passing_best(engine, database_url):
    """The baseline the hold improves on: nothing waits, so nothing is held."""
    world = World(engine, database_url, suggestions_per_offer=2, hold_backlog=0)
    arrive(world, waiting=0)
    assert sorted(open_rows(world)) == sorted(best_two(world))
    retracted = [cid for subject, cid in announced(world) if subject == subjects.MATCH_RETRACTED]
    assert len(retracted) == 4  # two pushed out by each of the later two batches
    assert stale_offers(world) == set()


def test_a_backlog_is_held_back_then_released_as_one_process_computes_it(engine, database_url):
    world = World(engine, database_url, suggestions_per_offer=2, hold_backlog=0)
    arrive(world, waiting=BACKLOG)
    # Held: nothing announced for the cooperatives, the offer noted as stale.
    assert announced(world) == []
    assert stale_offers(world) == {("bri", OFFER["offer_id"])}

    assert world.matcher.release() == 1
    assert world.matcher.release() == 0
    best = best_two(world)
    assert sorted(open_rows(world)) == sorted(best)
    # Only the final entries were announced: no suggestion made and taken back.
    assert announced(world) == [(subjects.MATCH_SUGGESTED, cid) for cid in best]
    assert stale_offers(world) == set()
    assert world.held() == open_rows(world)


def test_offers_held_back_are_released_after_a_restart(engine, database_url):
    world = World(engine, database_url, suggestions_per_offer=2, hold_backlog=0)
    arrive(world, waiting=BACKLOG)
    assert stale_offers(world) == {("bri", OFFER["offer_id"])}

    # The process dies; a new one loads the index and finds the note in the database.
    restarted = World(engine, database_url, suggestions_per_offer=2, hold_backlog=0)
    restarted.matcher.load()
    assert restarted.matcher.release() == 1
    assert sorted(open_rows(restarted)) == sorted(best_two(restarted))
    assert stale_offers(restarted) == set()


def test_an_offer_change_is_placed_at_once_even_while_behind(engine, database_url):
    world = World(engine, database_url, suggestions_per_offer=2, hold_backlog=0)
    arrive(world, waiting=BACKLOG)
    assert stale_offers(world) != set()
    # The partner updates the offer: its set is what latency is about, computed now.
    world.publish(
        offers_subject("bri"),
        {**OFFER, "min_members": 30, "updated_at": "2026-11-02T08:00:00+07:00"},
    )
    assert world.match(waiting=BACKLOG) == [ACK]
    assert stale_offers(world) == set()
    assert sorted(open_rows(world)) == sorted(best_two(world))
    assert world.matcher.release() == 0


def test_held_and_placed_sets_are_the_same_on_a_national_sample(engine, database_url):
    """A slice of the national data set (offers first, then profiles, batches of 50): the
    pending sets and ranks with the hold equal those placed change by change, with far
    fewer messages."""
    profiles, offers = national()
    events = [encode_event(e) for e in (*offers[:60], *profiles[:600])]

    def run(backlog: int) -> tuple[set[tuple[str, str, str, int]], int]:
        with Session(engine) as session:
            for table in reversed(SQLModel.metadata.sorted_tables):
                session.exec(table.delete())  # type: ignore[call-overload]
            session.commit()
        world = World(engine, database_url, hold_backlog=backlog)
        for start in range(0, len(events), 50):
            for subject, data, _ in events[start : start + 50]:
                world.publish(subject, data)
            assert set(world.match(waiting=len(events) - start - 50)) == {ACK}
        while world.matcher.release():
            pass
        with Session(engine) as session:
            pending = {
                (r.partner_id, r.offer_id, r.cooperative_id, r.rank)
                for r in session.exec(
                    select(SuggestionRow).where(SuggestionRow.status == "pending")
                )
            }
        assert stale_offers(world) == set()
        return pending, len(announced(world))

    placed, placed_messages = run(backlog=10**9)
    held, held_messages = run(backlog=100)
    assert placed and held == placed
    assert held_messages < placed_messages / 2, (held_messages, placed_messages)


def test_a_short_backlog_is_placed_as_it_comes(engine, database_url):
    """A backlog that would touch each offer only a few times is placed as it comes:
    recomputing each whole would cost more than placing them."""
    world = World(engine, database_url, suggestions_per_offer=2, hold_backlog=0)
    arrive(world, waiting=HOLD_TOUCHES - 1)  # one offer, touched once per change
    assert stale_offers(world) == set()
    retracted = [cid for subject, cid in announced(world) if subject == subjects.MATCH_RETRACTED]
    assert len(retracted) == 4
