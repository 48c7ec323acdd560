"""Deciding on suggestions: approve, reject, bulk approve, reopen. Used by pages and API alike.

Each action is one transaction that changes the suggestion with a compare-and-set (its
id, the status and version the coordinator saw, and the coordinator's scope, all in the
UPDATE's WHERE), writes the decision and the audit row, and puts the event in the outbox.
A second submit of the same form finds the version moved on and changes nothing, so one
decision means one ``kopdes.match.decided`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from schemas import (
    Basis,
    Decision,
    ExplanationComponent,
    MatchDecision,
    MatchSuggestion,
    internal,
    subjects,
)
from schemas.internal import PairDecided
from services.platform.localtime import when
from services.platform.outbox import enqueue, enqueue_many
from services.review.cache import forget_region
from services.review.detail import approved_count
from services.review.labels import (
    APPROVE_REASONS,
    NOTE_REQUIRED,
    REJECT_REASONS,
    STATUS_LABELS,
)
from services.review.scope import scope_filter
from services.storage.db import begin_writing, session_scope
from services.storage.models import (
    AuditRow,
    CoordinatorRow,
    DecisionRow,
    OfferRow,
    RejectedPairRow,
    SuggestionRow,
    SuggestionStatus,
    stored_id,
)
from services.storage.types import utcnow

MAX_NOTE = 1000
# The reason code of a reopened decision's event (the note says why, when given).
REOPEN_REASON = "dibuka_kembali"


class DecisionError(Exception):
    """A refused action, with the HTTP status and a message for the coordinator."""

    status_code = 400

    def __init__(self, message: str, existing: DecisionRow | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.existing = existing


class NotFound(DecisionError):
    status_code = 404


class Forbidden(DecisionError):
    status_code = 403


class Conflict(DecisionError):
    status_code = 409


class Invalid(DecisionError):
    status_code = 422


NOT_FOUND = "Saran tidak ditemukan di wilayah Anda."


def _snapshot(row: SuggestionRow) -> dict[str, Any]:
    return {"status": str(row.status), "version": row.version, "score": row.score}


def check_reason(decision: Decision, reason_code: str, note: str) -> None:
    if decision == Decision.REOPENED:
        raise Invalid("Untuk membuka kembali keputusan, gunakan 'Buka kembali', bukan keputusan.")
    reasons = APPROVE_REASONS if decision == Decision.APPROVED else REJECT_REASONS
    if reason_code not in reasons:
        allowed = ", ".join(reasons)
        raise Invalid(
            f"Alasan {reason_code!r} tidak dikenal untuk keputusan ini (pilih: {allowed})."
        )
    if len(note) > MAX_NOTE:
        raise Invalid(f"Catatan terlalu panjang (paling banyak {MAX_NOTE} karakter).")
    if reason_code in NOTE_REQUIRED and not note.strip():
        raise Invalid("Alasan 'Lainnya' perlu catatan yang menjelaskannya.")


def latest_decision(session: Session, suggestion_id: str) -> DecisionRow | None:
    return session.exec(
        select(DecisionRow)
        .where(DecisionRow.suggestion_id == suggestion_id)
        .order_by(col(DecisionRow.id).desc())
    ).first()


def _refusal(
    session: Session, coordinator: CoordinatorRow, suggestion_id: str, version: int
) -> DecisionError:
    """Why the compare-and-set changed nothing, in words (out of scope reads as not found)."""
    row = session.exec(
        select(SuggestionRow).where(
            SuggestionRow.suggestion_id == suggestion_id, scope_filter(coordinator)
        )
    ).first()
    if row is None:
        return NotFound(NOT_FOUND)
    if row.status in (SuggestionStatus.APPROVED, SuggestionStatus.REJECTED):
        existing = latest_decision(session, suggestion_id)
        if existing is not None:
            session.expunge(existing)  # kept as read: the caller's rollback must not expire it
        who = (
            f" oleh {existing.coordinator_username} pada {when(existing.decided_at)}"
            if existing
            else ""
        )
        return Conflict(
            f"Saran ini sudah {STATUS_LABELS[row.status].lower()}{who}. "
            "Keputusan tidak dicatat dua kali.",
            existing,
        )
    if row.status == SuggestionStatus.RETRACTED:
        return Conflict("Saran ini sudah ditarik oleh sistem dan tidak dapat diputuskan.")
    return Conflict(
        f"Saran ini berubah sejak Anda membukanya (versi {version} → {row.version}). "
        "Periksa lagi lalu putuskan."
    )


def _check_capacity(session: Session, row: SuggestionRow) -> None:
    # Locks the offer row on PostgreSQL so that two approvals for the last place take turns;
    # SQLite already holds its one write lock since the compare-and-set.
    offer = session.exec(
        select(OfferRow)
        .where(OfferRow.partner_id == row.partner_id, OfferRow.offer_id == row.offer_id)
        .with_for_update()
    ).first()
    if offer is None or offer.withdrawn_at is not None:
        raise Conflict("Tawaran ini sudah ditarik oleh mitra; saran tidak dapat disetujui.")
    if offer.capacity is None:
        return
    if (
        approved_count(session, row.partner_id, row.offer_id) > offer.capacity
    ):  # this approval is already counted
        raise Conflict(
            f"Kuota tawaran sudah penuh: {offer.capacity} koperasi sudah disetujui "
            f"untuk '{offer.title}'."
        )


def suggestion_event(row: SuggestionRow) -> MatchSuggestion:
    return MatchSuggestion(
        suggestion_id=row.suggestion_id,
        offer_id=row.offer_id,
        partner_id=row.partner_id,
        cooperative_id=row.cooperative_id,
        regency_code=row.regency_code,
        province_code=row.province_code or None,
        score=row.score,
        rank=row.rank,
        basis=[Basis(b) for b in row.basis] or None,
        explanation=[ExplanationComponent.model_validate(c) for c in row.explanation],
        created_at=row.updated_at,
        summary=row.summary or None,
    )


def tell_matcher(session: Session, row: SuggestionRow, decision: Decision) -> None:
    """Tell the matcher of the cooperative's province, and when the offer's approvals
    changed every province the offer covers (its capacity counts nationwide)."""
    province = row.province_code or row.regency_code.split(".")[0]
    provinces = {province}
    if decision != Decision.REJECTED:  # an approval, or one taken back (perhaps)
        # Locked, so that decisions on one offer count its approvals one after another.
        offer = session.exec(
            select(OfferRow)
            .where(OfferRow.partner_id == row.partner_id, OfferRow.offer_id == row.offer_id)
            .with_for_update()
        ).first()
        if offer is not None:
            provinces |= internal.provinces_of_regions(offer.regions)
    approved = approved_count(session, row.partner_id, row.offer_id)
    change = PairDecided(
        suggestion_id=row.suggestion_id,
        partner_id=row.partner_id,
        offer_id=row.offer_id,
        cooperative_id=row.cooperative_id,
        province_code=province,
        decision=decision,
        score=row.score,
        rank=row.rank,
        approved=approved,
    )
    enqueue_many(
        session,
        [
            (internal.pair_decided(p), change, f"{row.suggestion_id}:decision:{row.version}:{p}")
            for p in sorted(provinces)
        ],
    )


def decide_in(
    session: Session,
    coordinator: CoordinatorRow,
    suggestion_id: str,
    decision: Decision,
    reason_code: str,
    note: str,
    version: int,
    *,
    bulk: bool = False,
) -> DecisionRow:
    """Decide inside the caller's transaction (rolled back by the caller on DecisionError)."""
    note = note.strip()
    check_reason(decision, reason_code, note)
    # On SQLite: queue with the other writers (the matcher takes the lock back to back).
    begin_writing(session)
    now = utcnow()
    status = SuggestionStatus(decision.value)
    changed = session.exec(
        update(SuggestionRow)
        .where(
            col(SuggestionRow.suggestion_id) == suggestion_id,
            col(SuggestionRow.status) == SuggestionStatus.PENDING,
            col(SuggestionRow.version) == version,
            scope_filter(coordinator),
        )
        .values(status=status, version=version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise _refusal(session, coordinator, suggestion_id, version)
    row = session.exec(
        select(SuggestionRow)
        .where(SuggestionRow.suggestion_id == suggestion_id)
        .execution_options(populate_existing=True)
    ).one()
    if decision == Decision.APPROVED:
        _check_capacity(session, row)
    tell_matcher(session, row, decision)
    record = DecisionRow(
        suggestion_id=suggestion_id,
        decision=decision.value,
        reason_code=reason_code,
        note=note,
        version=row.version,
        coordinator_id=stored_id(coordinator.id),
        coordinator_username=coordinator.username,
        decided_at=now,
    )
    session.add(record)
    session.add(
        AuditRow(
            at=now,
            actor=coordinator.username,
            action=decision.value,
            target=suggestion_id,
            before={"status": "pending", "version": version},
            after={
                **_snapshot(row),
                "reason_code": reason_code,
                "bulk": bulk,
            },
            note=note,
        )
    )
    event = MatchDecision(
        suggestion_id=suggestion_id,
        decision=decision,
        reason_code=reason_code,
        note=note,
        coordinator_id=coordinator.username,
        decided_at=now,
        suggestion_version=row.version,
    )
    enqueue(session, subjects.MATCH_DECIDED, event, f"{suggestion_id}:decided:{row.version}")
    return record


def decide(
    engine: Engine,
    coordinator: CoordinatorRow,
    suggestion_id: str,
    decision: Decision,
    reason_code: str,
    note: str,
    version: int,
) -> DecisionRow:
    with session_scope(engine) as session:
        record = decide_in(
            session, coordinator, suggestion_id, decision, reason_code, note, version
        )
        village = _village(session, suggestion_id)
    forget_region(engine, village)  # the overviews that count it, once committed
    return record


def _village(session: Session, suggestion_id: str) -> str:
    row = session.get(SuggestionRow, suggestion_id)  # decide_in loaded it: no query
    return row.village_code if row is not None else ""


@dataclass
class BulkResult:
    approved: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # suggestion_id -> why


def bulk_approve(
    engine: Engine,
    coordinator: CoordinatorRow,
    items: list[tuple[str, int]],
    reason_code: str,
    note: str,
) -> BulkResult:
    """Approve each (suggestion_id, version) in its own transaction: one refusal (capacity
    full, decided meanwhile) does not undo the others."""
    check_reason(Decision.APPROVED, reason_code, note.strip())
    result = BulkResult()
    for suggestion_id, version in dict(items).items():  # a repeated id counts once
        try:
            with session_scope(engine) as session:
                decide_in(
                    session,
                    coordinator,
                    suggestion_id,
                    Decision.APPROVED,
                    reason_code,
                    note,
                    version,
                    bulk=True,
                )
                village = _village(session, suggestion_id)
            forget_region(engine, village)
            result.approved.append(suggestion_id)
        except DecisionError as refused:
            result.refused[suggestion_id] = refused.message
    return result


def reopen(
    engine: Engine, coordinator: CoordinatorRow, suggestion_id: str, version: int, note: str = ""
) -> SuggestionRow:
    """Set a decided suggestion back to pending (PMO or admin) and publish it again."""
    if not coordinator.may_reopen:
        raise Forbidden("Hanya PMO atau admin yang dapat membuka kembali keputusan.")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"Catatan terlalu panjang (paling banyak {MAX_NOTE} karakter).")
    with session_scope(engine) as session:
        before = session.exec(
            select(SuggestionRow).where(
                SuggestionRow.suggestion_id == suggestion_id, scope_filter(coordinator)
            )
        ).first()
        if before is None:
            raise NotFound(NOT_FOUND)
        old_status = str(before.status)
        now = utcnow()
        changed = session.exec(
            update(SuggestionRow)
            .where(
                col(SuggestionRow.suggestion_id) == suggestion_id,
                col(SuggestionRow.status).in_(
                    [SuggestionStatus.APPROVED, SuggestionStatus.REJECTED]
                ),
                col(SuggestionRow.version) == version,
                scope_filter(coordinator),
            )
            .values(status=SuggestionStatus.PENDING, version=version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:
            if before.status == SuggestionStatus.PENDING:
                raise Conflict("Saran ini sudah menunggu keputusan; tidak ada yang dibuka kembali.")
            if before.status == SuggestionStatus.RETRACTED:
                raise Conflict(
                    "Saran ini sudah ditarik oleh sistem dan tidak dapat dibuka kembali."
                )
            raise Conflict(
                f"Saran ini berubah sejak Anda membukanya (versi {version} → {before.version}). "
                "Periksa lagi."
            )
        row = session.exec(
            select(SuggestionRow)
            .where(SuggestionRow.suggestion_id == suggestion_id)
            .execution_options(populate_existing=True)
        ).one()
        pair = session.get(RejectedPairRow, suggestion_id)
        if pair is not None:
            session.delete(pair)
        tell_matcher(session, row, Decision.REOPENED)
        session.add(
            AuditRow(
                at=now,
                actor=coordinator.username,
                action="reopened",
                target=suggestion_id,
                before={"status": old_status, "version": version},
                after=_snapshot(row),
                note=note,
            )
        )
        # The decision taken back (contract v1.1): notify tells the cooperative and the
        # partner when it was an approval they were told of.
        enqueue(
            session,
            subjects.MATCH_DECIDED,
            MatchDecision(
                suggestion_id=suggestion_id,
                decision=Decision.REOPENED,
                reason_code=REOPEN_REASON,
                note=note,
                coordinator_id=coordinator.username,
                decided_at=now,
                suggestion_version=row.version,
            ),
            f"{suggestion_id}:decided:{row.version}",
        )
        # Pending again: announced like a revived suggestion, with its own Nats-Msg-Id.
        enqueue(
            session,
            subjects.MATCH_SUGGESTED,
            suggestion_event(row),
            f"{suggestion_id}:suggested:{row.version}",
        )
    forget_region(engine, row.village_code)
    return row
