"""How ingest applies input events to the database.

``apply_events`` applies a batch of them with a few statements; a change also puts a
``kopdes.internal.*.changed`` message in the outbox for the matcher. The newest
``updated_at`` wins: an older event is ignored and an identical replay changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, tuple_
from sqlalchemy import select as select_core
from sqlmodel import Session

from matcher.shortlist import province_of
from schemas import CooperativeProfile, OfferWithdrawn, PartnerOffer, internal
from schemas.internal import CooperativeChanged, OfferChanged
from services.ingest.convert import cooperative_values, offer_values
from services.ingest.intake import InputEvent
from services.platform.outbox import enqueue_many
from services.storage import bulk
from services.storage.db import lock_entities
from services.storage.models import CooperativeRow, OfferRow, OfferWithdrawalRow, table_of


def apply_event(session: Session, event: InputEvent) -> bool:
    return apply_events(session, [event])[0]


def apply_events(session: Session, events: Sequence[InputEvent]) -> list[bool]:
    """Apply events with the effect of applying them one at a time, in order.

    Returns, per event, whether it was stored. Set-based: a few statements for the whole
    list rather than ORM round trips per event, which were most of ingest's time. One
    difference from one at a time: of several versions of a cooperative in the list only
    the newest is stored and announced (the matcher reads the stored row anyway).
    """
    applied = [False] * len(events)
    announced: list[tuple[int, str, BaseModel, str]] = []  # (event position, message)
    profiles = [(i, e) for i, e in enumerate(events) if isinstance(e, CooperativeProfile)]
    offer_events = [
        (i, e) for i, e in enumerate(events) if isinstance(e, PartnerOffer | OfferWithdrawn)
    ]
    if profiles:
        _upsert_cooperatives(session, profiles, applied, announced)
    if offer_events:
        _apply_offer_events(session, offer_events, applied, announced)
    # In the order of the events, as when they were applied one at a time.
    announced.sort(key=lambda item: item[0])
    enqueue_many(session, [(subject, payload, msg_id) for _, subject, payload, msg_id in announced])
    return applied


def _upsert_cooperatives(
    session: Session,
    profiles: list[tuple[int, CooperativeProfile]],
    applied: list[bool],
    announced: list[tuple[int, str, BaseModel, str]],
) -> None:
    # The newest version per cooperative; of equal ones the first, which one at a time
    # would have stored (the next is not newer). One row per key also keeps PostgreSQL
    # from refusing a statement that would update the same row twice.
    newest: dict[str, tuple[int, CooperativeProfile]] = {}
    for i, profile in profiles:
        kept = newest.get(profile.cooperative_id)
        if kept is None or profile.updated_at > kept[1].updated_at:
            newest[profile.cooperative_id] = (i, profile)
    table: Table = table_of(CooperativeRow)
    # Where each cooperative was: one that moved to another province leaves its old one.
    before = _villages(session, table, sorted(newest))
    # Sorted by key, so that two replicas lock the rows they share in the same order.
    rows = [cooperative_values(newest[key][1]) for key in sorted(newest)]
    conn = session.connection()
    # Atomic on PostgreSQL without a lock of ours: ON CONFLICT waits for a replica that
    # writes the same row and compares with what it committed, so the newest wins and only
    # the statement that stored a version returns it (and so announces it).
    upsert, params = bulk.insert(
        conn,
        table,
        rows,
        lambda stmt: bulk.overwrite(
            stmt, [table.c.cooperative_id], stmt.excluded.updated_at > table.c.updated_at
        ).returning(table.c.cooperative_id),
    )
    stored = conn.execute(upsert, params).scalars().all()
    for cooperative_id in stored:
        i, profile = newest[cooperative_id]
        applied[i] = True
        changed = CooperativeChanged(cooperative_id=cooperative_id, updated_at=profile.updated_at)
        # The publisher's updated_at (its offset too), not the stored UTC value: the id
        # stays the one a version was always announced with.
        msg_id = f"cooperative:{cooperative_id}:{profile.updated_at.isoformat()}"
        province = province_of(profile.village_code)
        announced.append((i, internal.cooperative_changed(province), changed, msg_id))
        old = before.get(cooperative_id)
        if old is not None and province_of(old) != province:
            moved = f"{msg_id}:left:{province_of(old)}"
            announced.append((i, internal.cooperative_changed(province_of(old)), changed, moved))


def _villages(session: Session, table: Table, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    conn = session.connection()
    for chunk in bulk.chunks(conn, ids):
        query = select_core(table.c.cooperative_id, table.c.village_code).where(
            bulk.among(conn, table.c.cooperative_id, chunk)
        )
        found.update((cid, village) for cid, village in conn.execute(query))
    return found


OfferKey = tuple[str, str]


def _load(session: Session, table: Table, keys: list[OfferKey]) -> dict[OfferKey, dict[str, Any]]:
    """The rows of ``offer`` or ``offer_withdrawal`` with these keys, as column dicts."""
    found: dict[OfferKey, dict[str, Any]] = {}
    key_columns = tuple_(table.c.partner_id, table.c.offer_id)
    for chunk in bulk.chunks(session.connection(), keys):
        query = select_core(table).where(key_columns.in_(chunk))
        for row in session.connection().execute(query).mappings():
            found[(row["partner_id"], row["offer_id"])] = dict(row)
    return found


def _store(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite the rows (their keys are locked by this transaction)."""
    if not rows:
        return
    conn = session.connection()
    upsert, params = bulk.insert(
        conn, table, rows, lambda stmt: bulk.overwrite(stmt, [table.c.partner_id, table.c.offer_id])
    )
    conn.execute(upsert, params)


def _offer_changed(
    row: dict[str, Any], what: str, at: datetime, before: dict[str, Any] | None
) -> list[tuple[str, BaseModel, str]]:
    """The change, for every province the offer covers now or covered before."""
    updated_at: datetime = row["updated_at"]
    if what == "withdrawn":
        # As stored (in UTC), as withdrawals were always announced: the offer's row was
        # read back from the database, even when written earlier in the same transaction.
        updated_at = updated_at.astimezone(UTC)
    changed = OfferChanged(
        partner_id=row["partner_id"],
        offer_id=row["offer_id"],
        updated_at=updated_at,
        withdrawn=row["withdrawn_at"] is not None,
    )
    key = f"{row['partner_id']}/{row['offer_id']}"
    msg_id = f"offer:{key}:{what}:{at.isoformat()}"
    provinces = internal.provinces_of_regions(row["regions"])
    if before is not None:
        provinces |= internal.provinces_of_regions(before["regions"])
    return [
        (internal.offer_changed(province), changed, f"{msg_id}:{province}")
        for province in sorted(provinces)
    ]


def _apply_offer_events(
    session: Session,
    events: list[tuple[int, PartnerOffer | OfferWithdrawn]],
    applied: list[bool],
    announced: list[tuple[int, str, BaseModel, str]],
) -> None:
    """Offers and withdrawals, in order, on the stored rows read once and written once.

    An offer and its withdrawal are two rows, perhaps not there yet: replicas applying
    them at once take turns on one lock per offer, all taken before the rows are read.
    """
    keys = sorted({(event.partner_id, event.offer_id) for _, event in events})
    lock_entities(session, "offer", [f"{partner_id}/{offer_id}" for partner_id, offer_id in keys])
    offer_table: Table = table_of(OfferRow)
    withdrawal_table: Table = table_of(OfferWithdrawalRow)
    offers = _load(session, offer_table, keys)
    withdrawals = _load(session, withdrawal_table, keys)
    offers_changed: set[OfferKey] = set()
    withdrawals_changed: set[OfferKey] = set()
    for i, event in events:
        key = (event.partner_id, event.offer_id)
        stored = offers.get(key)
        withdrawal = withdrawals.get(key)
        if isinstance(event, PartnerOffer):
            if stored is not None and stored["updated_at"] >= event.updated_at:
                continue
            # A withdrawal newer than this version (perhaps received before it) still holds.
            if withdrawal is not None and withdrawal["withdrawn_at"] >= event.updated_at:
                row = offer_values(event, withdrawal["withdrawn_at"], withdrawal["reason"])
            else:
                row = offer_values(event, None, "")
            offers[key] = row
            offers_changed.add(key)
            applied[i] = True
            for message in _offer_changed(row, "upserted", event.updated_at, stored):
                announced.append((i, *message))
            continue
        if withdrawal is not None and withdrawal["withdrawn_at"] >= event.withdrawn_at:
            continue
        withdrawals[key] = {
            "partner_id": event.partner_id,
            "offer_id": event.offer_id,
            "withdrawn_at": event.withdrawn_at,
            "reason": event.reason,
        }
        withdrawals_changed.add(key)
        applied[i] = True
        if stored is None or stored["updated_at"] > event.withdrawn_at:
            # Unknown yet, or re-published after this withdrawal: the withdrawal is kept
            # and applies if an older version of the offer arrives later.
            continue
        row = {**stored, "withdrawn_at": event.withdrawn_at, "withdraw_reason": event.reason}
        offers[key] = row
        offers_changed.add(key)
        for message in _offer_changed(row, "withdrawn", event.withdrawn_at, stored):
            announced.append((i, *message))
    _store(session, offer_table, [offers[key] for key in sorted(offers_changed)])
    _store(session, withdrawal_table, [withdrawals[key] for key in sorted(withdrawals_changed)])
