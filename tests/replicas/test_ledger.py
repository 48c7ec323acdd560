"""The matcher keeps suggestion rows in memory across batches (services/ledger.py): what
others write in between (a coordinator's decision, another replica) is seen at its next
turn, on a real database (SQLite file, PostgreSQL where configured)."""

from __future__ import annotations

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from schemas import subjects
from services.consuming import ACK
from services.storage.models import SuggestionRow, SuggestionStatus
from services.suggestions import bump_suggestion_sets
from tests import builders
from tests.replicas.world import COOPERATIVES, World, announced, offers_subject, open_rows


def start(engine, database_url: str) -> World:
    world = World(engine, database_url)
    world.publish(offers_subject("bri"), builders.offer())
    for number, cid in enumerate(COOPERATIVES, start=1):
        village = f"61.12.01.200{number}"
        world.publish(
            subjects.COOPERATIVE_UPSERTED,
            builders.profile(cooperative_id=cid, village_code=village),
        )
    assert world.match() == [ACK] * (1 + len(COOPERATIVES))
    return world


def test_the_ledger_holds_what_is_stored(engine, database_url):
    world = start(engine, database_url)
    assert set(open_rows(world)) == set(COOPERATIVES)
    assert world.held() == open_rows(world)
    # A newer profile moves nothing material: still one row each, held as stored.
    world.publish(
        subjects.COOPERATIVE_UPSERTED,
        builders.profile(
            cooperative_id=COOPERATIVES[0],
            village_code="61.12.01.2001",
            member_count=121,
            updated_at="2026-11-02T08:00:00+07:00",
        ),
    )
    assert world.match() == [ACK]
    assert world.held() == open_rows(world)


def test_a_decision_by_another_writer_is_seen_at_the_next_turn(engine, database_url):
    world = start(engine, database_url)
    approved = COOPERATIVES[1]
    before = world.suggested(approved)
    # A coordinator approves it elsewhere (what services/review/decisions.py writes).
    with Session(engine) as session:
        row = session.exec(
            select(SuggestionRow).where(SuggestionRow.cooperative_id == approved)
        ).one()
        session.exec(  # type: ignore[call-overload]
            update(SuggestionRow)
            .where(col(SuggestionRow.suggestion_id) == row.suggestion_id)
            .values(status=SuggestionStatus.APPROVED, version=row.version + 1)
        )
        bump_suggestion_sets(session, [(row.partner_id, row.offer_id)])
        session.commit()
    # Its profile changes materially: an approved pair is not suggested again, and the
    # matcher's turn goes through at once (a stale row would fail its flush and retry).
    world.publish(
        subjects.COOPERATIVE_UPSERTED,
        builders.profile(
            cooperative_id=approved,
            village_code="61.12.01.2002",
            needs="butuh modal kerja untuk kios sembako dan unit simpan pinjam",
            updated_at="2026-11-02T08:00:00+07:00",
        ),
    )
    assert world.match() == [ACK]
    assert world.stored()[approved][0] == "approved"
    assert world.suggested(approved) == before
    assert world.held() == open_rows(world)


def test_a_write_that_skips_the_bump_is_retried_not_lost(engine, database_url):
    """The version column is the backstop: a writer that forgot to bump makes the
    matcher's flush of that row fail; the ledger is dropped, read again, and the retry
    goes through."""
    world = start(engine, database_url)
    with Session(engine) as session:
        rows = session.exec(select(SuggestionRow)).all()
        for row in rows:
            row.version += 1  # moved on by someone, unannounced
            row.rank = 99
        session.commit()
    world.publish(
        offers_subject("bri"),
        builders.offer(min_members=500, updated_at="2026-11-03T08:00:00+07:00"),
    )
    first = world.match()
    assert first != [ACK], "a stale flush must not go through"
    world.relayed -= 1  # JetStream redelivers it
    assert world.match() == [ACK]
    assert all(status == "retracted" for status, _ in world.stored().values())
    assert world.held() == {}


def test_an_entry_pushed_out_within_the_same_batch_is_never_announced(engine, database_url):
    """One slot, two cooperatives. In one batch only the better is written and announced;
    in two batches the first is suggested, then retracted when the better one arrives."""
    weaker = builders.profile(
        cooperative_id="KDMP-weaker",
        village_code="61.12.01.2001",
        business_units=["USP"],
        commodities=["karet"],
        needs="",
    )
    better = builders.profile(cooperative_id="KDMP-better", village_code="61.12.01.2002")

    together = World(engine, database_url, suggestions_per_offer=1)
    together.publish(offers_subject("bri"), builders.offer())
    together.publish(subjects.COOPERATIVE_UPSERTED, weaker)
    together.publish(subjects.COOPERATIVE_UPSERTED, better)
    assert together.match() == [ACK] * 3
    assert announced(together) == [(subjects.MATCH_SUGGESTED, "KDMP-better")]
    assert open_rows(together) == {"KDMP-better": ("pending", together.stored()["KDMP-better"][1])}
    assert "KDMP-weaker" not in together.stored()  # nothing was written for it

    # The same events, the better profile in a later batch (a fresh database).
    with Session(engine) as session:
        for table in ("outbox", "suggestion", "suggestion_set", "cooperative", "offer"):
            session.exec(text(f"DELETE FROM {table}"))  # type: ignore[call-overload]
        session.commit()
    apart = World(engine, database_url, suggestions_per_offer=1)
    apart.publish(offers_subject("bri"), builders.offer())
    apart.publish(subjects.COOPERATIVE_UPSERTED, weaker)
    assert apart.match() == [ACK] * 2
    apart.publish(subjects.COOPERATIVE_UPSERTED, better)
    assert apart.match() == [ACK]
    with Session(engine) as session:
        pushed_out = session.exec(
            select(SuggestionRow).where(SuggestionRow.cooperative_id == "KDMP-weaker")
        ).one()
    assert pushed_out.retract_reason == "superseded"
    assert announced(apart) == [
        (subjects.MATCH_SUGGESTED, "KDMP-weaker"),
        (subjects.MATCH_RETRACTED, pushed_out.suggestion_id),
        (subjects.MATCH_SUGGESTED, "KDMP-better"),
    ]


def test_the_ledger_session_keeps_one_commit_listener_and_no_written_books(engine, database_url):
    """Its session lives across transactions: what each adds must not pile up, or every
    commit gets slower (and holds on to every transaction's reconciler)."""
    world = World(engine, database_url, suggestions_per_offer=2)
    world.publish(offers_subject("bri"), builders.offer())
    world.match()
    for n in range(1, 6):
        world.publish(
            subjects.COOPERATIVE_UPSERTED,
            builders.profile(cooperative_id=f"KDMP-611201200{n}", village_code=f"61.12.01.200{n}"),
        )
        world.match()
    session = world.matcher.ledger.session
    assert session is not None
    assert len(session.dispatch.before_commit) == 1
    assert not world.matcher.ledger._written_books
    assert len(open_rows(world)) == 2
