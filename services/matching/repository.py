"""The matcher's reads and writes: provinces loaded whole, changes written set-based.

Reads build the matcher's plain values straight from the rows (no ORM objects). Writes
happen in the caller's transaction: per batch one multi-row upsert of the suggestions
announced, one UPDATE of those retracted per reason, the quiet basis updates,
and one multi-row INSERT of their outbox messages. Every write of a suggestion row checks
its status in the same statement, so a coordinator's decision committed meanwhile is
never overwritten: what the statement did not write is not announced either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Table, func, or_, select, tuple_, update
from sqlmodel import Session

from matcher import Cooperative, Offer
from matcher.shortlist import Published, Rejection, Retracted, Shortlist, Suggested
from matcher.values import cooperative_value, offer_value
from schemas import (
    MatchRetracted,
    RetractReason,
    subjects,
    suggestion_id,
)
from schemas.regions import provinces_summary
from services.platform.outbox import enqueue_many
from services.storage import bulk
from services.storage.models import (
    CooperativeRow,
    OfferRow,
    RejectedPairRow,
    SuggestionRow,
    SuggestionStatus,
    table_of,
)
from services.storage.types import utcnow

SUGGESTION: Table = table_of(SuggestionRow)
COOPERATIVE: Table = table_of(CooperativeRow)
OFFER: Table = table_of(OfferRow)
REJECTED: Table = table_of(RejectedPairRow)
# Rows a matcher may write over: never a coordinator's decision.
OPEN = (SuggestionStatus.PENDING, SuggestionStatus.RETRACTED)

_COOP_COLUMNS = (
    COOPERATIVE.c.cooperative_id,
    COOPERATIVE.c.village_code,
    COOPERATIVE.c.member_count,
    COOPERATIVE.c.business_units,
    COOPERATIVE.c.commodities,
    COOPERATIVE.c.needs,
    COOPERATIVE.c.financing_need_idr,
    COOPERATIVE.c.name,
)


def cooperative_of(row: Any) -> Cooperative:
    return cooperative_value(row)


def offer_of(row: Any) -> Offer:
    return offer_value(row, withdrawn=row.withdrawn_at is not None)


def split_key(key: str) -> tuple[str, str]:
    partner_id, _, offer_id = key.partition("/")
    return partner_id, offer_id


# -- reads -----------------------------------------------------------------------------------


def cooperatives(session: Session, ids: Iterable[str]) -> dict[str, Cooperative]:
    found: dict[str, Cooperative] = {}
    conn = session.connection()
    for chunk in bulk.chunks(conn, sorted(set(ids))):
        query = select(*_COOP_COLUMNS).where(bulk.among(conn, COOPERATIVE.c.cooperative_id, chunk))
        for row in conn.execute(query):
            found[row.cooperative_id] = cooperative_of(row)
    return found


def offers(session: Session, keys: Iterable[tuple[str, str]] | None = None) -> dict[str, Offer]:
    """Offers by key: these, or every offer not withdrawn."""
    query = select(OFFER)
    found: dict[str, Offer] = {}
    if keys is None:
        for row in session.connection().execute(query.where(OFFER.c.withdrawn_at.is_(None))):
            offer = offer_of(row)
            found[offer.key] = offer
        return found
    for chunk in bulk.chunks(session.connection(), sorted(set(keys))):
        where = tuple_(OFFER.c.partner_id, OFFER.c.offer_id).in_(chunk)
        for row in session.connection().execute(query.where(where)):
            offer = offer_of(row)
            found[offer.key] = offer
    return found


def approvals(session: Session) -> dict[str, int]:
    """Approved cooperatives per offer, nationwide."""
    query = (
        select(SUGGESTION.c.partner_id, SUGGESTION.c.offer_id, func.count())
        .where(SUGGESTION.c.status == SuggestionStatus.APPROVED)
        .group_by(SUGGESTION.c.partner_id, SUGGESTION.c.offer_id)
    )
    return {f"{p}/{o}": n for p, o, n in session.connection().execute(query)}


def load(session: Session, shortlists: Sequence[Shortlist]) -> None:
    """Fill fresh shortlists from the store: cooperatives, offers, decisions, and the
    suggestions announced before. The caller settles them (a whole recomputation)."""
    every_offer = offers(session)
    counts = approvals(session)
    for shortlist in shortlists:
        province = shortlist.province
        known = provinces_summary().get(province)
        regencies = list(known.regencies) if known else []
        for chunk in bulk.chunks(session.connection(), regencies):
            query = select(*_COOP_COLUMNS).where(COOPERATIVE.c.regency_code.in_(chunk))
            for row in session.connection().execute(query):
                shortlist.upsert_cooperative(cooperative_of(row))
        for offer in every_offer.values():
            shortlist.upsert_offer(offer)
        for key, count in counts.items():
            shortlist.set_approvals(key, count)
        query = (
            select(
                SUGGESTION.c.partner_id,
                SUGGESTION.c.offer_id,
                SUGGESTION.c.cooperative_id,
                SUGGESTION.c.status,
                SUGGESTION.c.score,
                SUGGESTION.c.rank,
                SUGGESTION.c.basis,
                REJECTED.c.offer_fingerprint,
                REJECTED.c.cooperative_fingerprint,
                REJECTED.c.score.label("rejected_score"),
            )
            .outerjoin(REJECTED, REJECTED.c.suggestion_id == SUGGESTION.c.suggestion_id)
            .where(
                SUGGESTION.c.province_code == province,
                SUGGESTION.c.status != SuggestionStatus.RETRACTED,
            )
        )
        for pair in session.connection().execute(query):
            key = f"{pair.partner_id}/{pair.offer_id}"
            if pair.status == SuggestionStatus.PENDING:
                published = Published(pair.score, pair.rank, tuple(pair.basis or ()))
                shortlist.load(key, pair.cooperative_id, published)
            elif pair.status == SuggestionStatus.APPROVED or pair.offer_fingerprint is None:
                shortlist.approved(key, pair.cooperative_id)
            else:
                rejection = Rejection(
                    pair.offer_fingerprint, pair.cooperative_fingerprint, pair.rejected_score
                )
                shortlist.load_rejection(key, pair.cooperative_id, rejection)
        shortlist.everything_changed()


# -- writes ----------------------------------------------------------------------------------


@dataclass
class Changes:
    """What one transaction writes: the events of the provinces it settled."""

    events: list[tuple[Shortlist, Suggested | Retracted]]
    rejections: list[tuple[str, Rejection]]  # suggestion id -> what it remembers
    lapsed: list[str]  # suggestion ids whose rejection no longer stands


@dataclass
class Writes:
    """The rows of one transaction's statements, built from ``Changes`` while the
    shortlists are as they announced (an explanation reads the index): executing them
    needs no shortlist, so the next unit can be matched meanwhile."""

    now: datetime
    suggested: list[dict[str, Any]]
    revived: list[dict[str, Any]]  # suggested again after a rejection that lapsed
    quiet: list[dict[str, Any]]  # basis updates (with the rank then), not announced
    retracted: dict[str, list[str]]  # reason -> suggestion ids
    rejections: list[tuple[str, Rejection]]
    lapsed: list[str]
    payloads: dict[str, str]  # suggestion id -> its MatchSuggestion as JSON


def prepare(changes: Changes, as_of: date) -> Writes:
    now = utcnow()
    writes = Writes(now, [], [], [], {}, list(changes.rejections), list(changes.lapsed), {})
    lapsed = set(changes.lapsed)
    for shortlist, event in changes.events:
        partner_id, offer_id = split_key(event.offer_key)
        sid = suggestion_id(partner_id, offer_id, event.cooperative_id)
        if isinstance(event, Retracted):
            writes.retracted.setdefault(event.reason, []).append(sid)
        elif not event.announce:
            writes.quiet.append(
                {"suggestion_id": sid, "rank": event.rank, "basis": list(event.basis)}
            )
        else:
            row = _suggestion_row(shortlist, event, sid, now, as_of)
            (writes.revived if sid in lapsed else writes.suggested).append(row)
            writes.payloads[sid] = _event(row)
    return writes


def write(session: Session, changes: Changes, as_of: date) -> int:
    """Write the changes and their announcements; returns how many were announced."""
    return execute(session, prepare(changes, as_of))


def execute(session: Session, writes: Writes) -> int:
    """Run the statements of ``prepare`` in the caller's transaction, with the outbox
    messages of what they wrote; returns how many were announced."""
    now = writes.now
    announced: list[tuple[str, Any, str]] = []
    if writes.lapsed:
        _forget_rejections(session, writes.lapsed)
    if writes.rejections:
        _remember_rejections(session, writes.rejections, now)
    for rows, statuses in (
        (writes.suggested, OPEN),
        (writes.revived, (*OPEN, SuggestionStatus.REJECTED)),
    ):
        if rows:
            for sid, version in _upsert(session, rows, statuses):
                announced.append(
                    (subjects.MATCH_SUGGESTED, writes.payloads[sid], f"{sid}:suggested:{version}")
                )
    for reason, ids in sorted(writes.retracted.items()):
        for sid, version in _retract(session, ids, reason, now):
            payload = MatchRetracted(
                suggestion_id=sid, reason=RetractReason(reason), retracted_at=now
            )
            announced.append((subjects.MATCH_RETRACTED, payload, f"{sid}:retracted:{version}"))
    if writes.quiet:
        conn = session.connection()
        statement, params = bulk.update_rows(
            conn,
            SUGGESTION,
            "suggestion_id",
            writes.quiet,
            SUGGESTION.c.status == SuggestionStatus.PENDING,
        )
        conn.execute(statement, params)
    enqueue_many(session, announced)
    return len(announced)


def _suggestion_row(
    shortlist: Shortlist, event: Suggested, sid: str, now: datetime, as_of: date
) -> dict[str, Any]:
    partner_id, offer_id = split_key(event.offer_key)
    coop = shortlist.index.cooperative(event.cooperative_id)
    match = shortlist.index.score(event.offer_key, event.cooperative_id, as_of)
    assert coop is not None and match is not None, "announcing a pair the index scores"
    village = coop.village_code
    return {
        "suggestion_id": sid,
        "partner_id": partner_id,
        "offer_id": offer_id,
        "cooperative_id": event.cooperative_id,
        "regency_code": ".".join(village.split(".")[:2]),
        "province_code": shortlist.province,
        "village_code": village,
        # As announced (the true score now): the same number on every page.
        "score": event.score,
        "rank": event.rank,
        "basis": list(event.basis),
        "explanation": [c.as_dict() for c in match.components],
        "summary": match.summary,
        "status": SuggestionStatus.PENDING,
        "retract_reason": None,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def _event(row: dict[str, Any]) -> str:
    """The ``MatchSuggestion`` of a row as JSON, byte for byte what the model would write
    (``tests/unit/test_suggestion_json.py``), without building the model: the values are
    this module's own, and building models for every announcement cost as much as writing
    the rows."""
    return to_json(
        {
            "suggestion_id": row["suggestion_id"],
            "offer_id": row["offer_id"],
            "partner_id": row["partner_id"],
            "cooperative_id": row["cooperative_id"],
            "regency_code": row["regency_code"],
            "score": float(row["score"]),
            "rank": row["rank"],
            "explanation": [
                {
                    "name": c["name"],
                    "weight": float(c["weight"]),
                    "score": float(c["score"]),
                    "detail": c["detail"],
                }
                for c in row["explanation"]
            ],
            "created_at": row["updated_at"],  # as the model writes it (UTC: "Z")
            "province_code": row["province_code"],
            "basis": list(row["basis"]),
            "summary": row["summary"] or None,
        }
    ).decode()


def _upsert(
    session: Session, rows: list[dict[str, Any]], statuses: Sequence[str]
) -> list[tuple[str, int]]:
    """Insert or revive the rows whose status allows it; (id, new version) of those written."""
    conn = session.connection()
    kept = {"suggestion_id", "partner_id", "offer_id", "cooperative_id", "created_at"}
    written: list[tuple[str, int]] = []
    for chunk in bulk.chunks(conn, sorted(rows, key=lambda r: r["suggestion_id"])):

        def finish(stmt: Any) -> Any:
            values: dict[str, Any] = {
                c.name: stmt.excluded[c.name]
                for c in SUGGESTION.c
                if c.name not in kept | {"version"}
            }
            values["version"] = SUGGESTION.c.version + 1
            return stmt.on_conflict_do_update(
                index_elements=[SUGGESTION.c.suggestion_id],
                set_=values,
                # Not IN: an executemany takes no expanding parameter.
                where=or_(*(SUGGESTION.c.status == status for status in statuses)),
            ).returning(SUGGESTION.c.suggestion_id, SUGGESTION.c.version)

        upsert, params = bulk.insert(conn, SUGGESTION, chunk, finish, tuple(statuses))
        written.extend((sid, version) for sid, version in conn.execute(upsert, params))
    return written


def _retract(session: Session, ids: list[str], reason: str, now: datetime) -> list[tuple[str, int]]:
    written: list[tuple[str, int]] = []
    conn = session.connection()
    for chunk in bulk.chunks(conn, sorted(ids)):
        statement = (
            update(SUGGESTION)
            .where(
                bulk.among(conn, SUGGESTION.c.suggestion_id, chunk),
                SUGGESTION.c.status == SuggestionStatus.PENDING,
            )
            .values(
                status=SuggestionStatus.RETRACTED,
                retract_reason=reason,
                version=SUGGESTION.c.version + 1,
                updated_at=now,
            )
            .returning(SUGGESTION.c.suggestion_id, SUGGESTION.c.version)
        )
        written.extend((sid, version) for sid, version in conn.execute(statement))
    return written


def _remember_rejections(
    session: Session, rejections: list[tuple[str, Rejection]], now: datetime
) -> None:
    rows = [
        {
            "suggestion_id": sid,
            "offer_fingerprint": rejection.offer_terms,
            "cooperative_fingerprint": rejection.cooperative_terms,
            "score": rejection.score,
            "rejected_at": now,
        }
        for sid, rejection in sorted(rejections, key=lambda item: item[0])
    ]
    conn = session.connection()
    upsert, params = bulk.insert(
        conn, REJECTED, rows, lambda stmt: bulk.overwrite(stmt, [REJECTED.c.suggestion_id])
    )
    conn.execute(upsert, params)


def _forget_rejections(session: Session, ids: list[str]) -> None:
    conn = session.connection()
    for chunk in bulk.chunks(conn, sorted(ids)):
        conn.execute(REJECTED.delete().where(bulk.among(conn, REJECTED.c.suggestion_id, chunk)))
