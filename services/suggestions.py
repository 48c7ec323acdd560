"""Keeping each offer's set of pending suggestions equal to its best eligible cooperatives.

All writes happen in the caller's transaction, with the events they announce put in the
outbox. A suggestion is published when it is new, revived, or its score moved by at least
``material_score_change``; a retraction when it leaves the set. Each publish bumps the
row's version, which makes its ``Nats-Msg-Id``, so a replay never publishes twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict
from datetime import date

from sqlmodel import Session, col, select

from matcher import Match, MatchIndex
from schemas import ExplanationComponent, MatchRetracted, MatchSuggestion, RetractReason, subjects
from schemas.regions import regency_code
from services.fingerprints import cooperative_fingerprint, offer_fingerprint
from services.outbox import enqueue
from services.settings import Settings
from services.storage.models import (
    CooperativeRow,
    OfferRow,
    RejectedPairRow,
    SuggestionRow,
    SuggestionStatus,
)
from services.storage.types import utcnow

DECIDED = (SuggestionStatus.APPROVED, SuggestionStatus.REJECTED)


def suggestion_id(partner_id: str, offer_id: str, cooperative_id: str) -> str:
    """Stable for the pair: the same offer and cooperative always give the same id."""
    digest = hashlib.sha256(f"{partner_id}/{offer_id}|{cooperative_id}".encode()).hexdigest()
    return f"sg-{digest[:24]}"


def suggestion_event(row: SuggestionRow) -> MatchSuggestion:
    return MatchSuggestion(
        suggestion_id=row.suggestion_id,
        offer_id=row.offer_id,
        partner_id=row.partner_id,
        cooperative_id=row.cooperative_id,
        regency_code=row.regency_code,
        score=row.score,
        rank=row.rank,
        explanation=[ExplanationComponent(**c) for c in row.explanation],  # type: ignore[arg-type]
        created_at=row.updated_at,
        summary=row.summary or None,
    )


class SuggestionBook:
    """The suggestion rows of one offer, and the changes that keep them right."""

    def __init__(
        self, session: Session, settings: Settings, partner_id: str, offer_id: str
    ) -> None:
        self.session = session
        self.settings = settings
        self.partner_id, self.offer_id = partner_id, offer_id
        query = select(SuggestionRow).where(
            SuggestionRow.partner_id == partner_id, SuggestionRow.offer_id == offer_id
        )
        self.rows = {row.cooperative_id: row for row in session.exec(query)}
        # Rows by status, and the decided set: read again and again while a batch places
        # many cooperatives into this offer; only this book changes them (cleared when it does).
        self._cache: dict[object, object] = {}

    @property
    def key(self) -> str:
        return f"{self.partner_id}/{self.offer_id}"

    def with_status(self, *statuses: SuggestionStatus) -> list[SuggestionRow]:
        if statuses not in self._cache:
            self._cache[statuses] = [r for r in self.rows.values() if r.status in statuses]
        return self._cache[statuses]  # type: ignore[return-value]

    @property
    def pending(self) -> list[SuggestionRow]:
        return self.with_status(SuggestionStatus.PENDING)

    @property
    def decided(self) -> set[str]:
        """Cooperatives not to suggest again: approved ones, and rejected ones unless the
        profile or the offer changed materially since the rejection."""
        if "decided" in self._cache:
            return self._cache["decided"]  # type: ignore[return-value]
        blocked = {r.cooperative_id for r in self.with_status(SuggestionStatus.APPROVED)}
        rejected = self.with_status(SuggestionStatus.REJECTED)
        if rejected:
            offer = self.session.get(OfferRow, (self.partner_id, self.offer_id))
            for row in rejected:
                if not self._changed_since_rejection(row, offer):
                    blocked.add(row.cooperative_id)
        self._cache["decided"] = blocked
        return blocked

    def _changed_since_rejection(self, row: SuggestionRow, offer: OfferRow | None) -> bool:
        pair = self.session.get(RejectedPairRow, row.suggestion_id)
        coop = self.session.get(CooperativeRow, row.cooperative_id)
        if pair is None or coop is None or offer is None:
            return False  # nothing to compare with: the rejection stands
        return pair.cooperative_fingerprint != cooperative_fingerprint(
            coop
        ) or pair.offer_fingerprint != offer_fingerprint(offer)

    def slots(self, capacity: int | None) -> int:
        """How many pending suggestions the offer may hold."""
        k = self.settings.suggestions_per_offer
        if capacity is not None:
            approved = len(self.with_status(SuggestionStatus.APPROVED))
            k = min(k, max(0, capacity - approved))
        return k

    # -- changes ---------------------------------------------------------------------------

    def suggest(self, match: Match, village_code: str, rank: int) -> None:
        self._cache.clear()
        row = self.rows.get(match.cooperative_id)
        now = utcnow()
        explanation = [asdict(c) for c in match.components]
        if row is None:
            row = SuggestionRow(
                suggestion_id=suggestion_id(self.partner_id, self.offer_id, match.cooperative_id),
                partner_id=self.partner_id,
                offer_id=self.offer_id,
                cooperative_id=match.cooperative_id,
                regency_code=regency_code(village_code),
                village_code=village_code,
                score=match.score,
                rank=rank,
                explanation=explanation,
                summary=match.summary,
                created_at=now,
                updated_at=now,
                version=1,
            )
            self.session.add(row)
            self.rows[match.cooperative_id] = row
        elif row.status == SuggestionStatus.PENDING:
            if abs(row.score - match.score) < self.settings.material_score_change:
                row.rank = rank  # a quiet re-rank: not a new state worth announcing
                return
            row.score, row.rank, row.explanation, row.summary = (
                match.score,
                rank,
                explanation,
                match.summary,
            )
            row.version += 1
            row.updated_at = now
        else:  # retracted before, or rejected before a material change: eligible again
            if row.status == SuggestionStatus.REJECTED:
                pair = self.session.get(RejectedPairRow, row.suggestion_id)
                if pair is not None:
                    self.session.delete(pair)
            row.status, row.retract_reason = SuggestionStatus.PENDING, None
            row.score, row.rank, row.explanation, row.summary = (
                match.score,
                rank,
                explanation,
                match.summary,
            )
            row.village_code, row.regency_code = village_code, regency_code(village_code)
            row.version += 1
            row.updated_at = now
        msg_id = f"{row.suggestion_id}:suggested:{row.version}"
        enqueue(self.session, subjects.MATCH_SUGGESTED, suggestion_event(row), msg_id)

    def retract(self, row: SuggestionRow, reason: RetractReason) -> None:
        self._cache.clear()
        now = utcnow()
        row.status, row.retract_reason = SuggestionStatus.RETRACTED, reason.value
        row.version += 1
        row.updated_at = now
        event = MatchRetracted(suggestion_id=row.suggestion_id, reason=reason, retracted_at=now)
        enqueue(
            self.session,
            subjects.MATCH_RETRACTED,
            event,
            f"{row.suggestion_id}:retracted:{row.version}",
        )

    def retract_all(self, reason: RetractReason) -> None:
        for row in self.pending:
            self.retract(row, reason)

    def rerank(self) -> None:
        ordered = sorted(self.pending, key=lambda r: (-r.score, r.cooperative_id))
        for rank, row in enumerate(ordered, start=1):
            row.rank = rank


class Reconciler:
    """Applies the matcher's view to the stored suggestions of one or more offers."""

    def __init__(
        self, session: Session, settings: Settings, index: MatchIndex, as_of: date
    ) -> None:
        self.session, self.settings, self.index, self.as_of = session, settings, index, as_of
        # One book per offer for the whole transaction: a batch of profile changes touches
        # the same few offers again and again.
        self._books: dict[tuple[str, str], SuggestionBook] = {}
        # True scores of pending rows by cooperative, then offer: a batch places many
        # cooperatives into the same few offers, each time against the same pending rows.
        self._standings: dict[str, dict[str, tuple[float, str]]] = {}
        # Books whose pending ranks are to be renumbered, once, before the commit (each
        # renumbering updates every pending row of the offer).
        self._reranks: dict[str, SuggestionBook] = {}

    def finish(self, *_: object) -> None:
        """Renumber the ranks of the offers placed into (before the transaction commits)."""
        for book in self._reranks.values():
            book.rerank()
        self._reranks.clear()

    def forget(self, cooperative_id: str | None = None) -> None:
        """The index changed (one cooperative, or an offer: everything): drop cached scores."""
        if cooperative_id is None:
            self._standings.clear()
        else:
            self._standings.pop(cooperative_id, None)

    def book(self, partner_id: str, offer_id: str) -> SuggestionBook:
        key = (partner_id, offer_id)
        if key not in self._books:
            self._books[key] = SuggestionBook(self.session, self.settings, partner_id, offer_id)
        return self._books[key]

    def _village(self, cooperative_id: str) -> str:
        coop = self.index.cooperative(cooperative_id)
        return coop.village_code if coop else ""

    def _retract_reason(self, key: str, cooperative_id: str) -> RetractReason:
        if self.index.score(key, cooperative_id, self.as_of) is None:
            return RetractReason.NO_LONGER_ELIGIBLE
        return RetractReason.SUPERSEDED

    def offer(self, partner_id: str, offer_id: str, closed: RetractReason | None = None) -> None:
        """Recompute the offer's whole set. ``closed``: the offer is withdrawn or expired."""
        book = self.book(partner_id, offer_id)
        offer = self.index.offer(book.key)
        if closed is not None or offer is None:
            book.retract_all(closed or RetractReason.OFFER_WITHDRAWN)
            return
        slots = book.slots(offer.capacity)
        decided = book.decided
        wanted = self.index.best_cooperatives(
            book.key, slots + len(decided), self.as_of, min_score=self.settings.min_score
        )
        best = [m for m in wanted if m.cooperative_id not in decided][:slots]
        chosen = {m.cooperative_id for m in best}
        for row in book.pending:
            if row.cooperative_id not in chosen:
                book.retract(row, self._retract_reason(book.key, row.cooperative_id))
        for rank, match in enumerate(best, start=1):
            book.suggest(match, self._village(match.cooperative_id), rank)

    def cooperative(self, cooperative_id: str) -> None:
        """Place one changed cooperative in (or out of) the sets of the offers it concerns."""
        held = self.session.exec(
            select(SuggestionRow).where(
                SuggestionRow.cooperative_id == cooperative_id,
                col(SuggestionRow.status) == SuggestionStatus.PENDING,
            )
        ).all()
        matches = {
            m.offer_key: m
            for m in self.index.best_offers(
                cooperative_id,
                self.index.offer_count,
                self.as_of,
                min_score=self.settings.min_score,
            )
        }
        refill: set[tuple[str, str]] = set()
        for row in held:
            if f"{row.partner_id}/{row.offer_id}" not in matches:
                refill.add((row.partner_id, row.offer_id))
        for key in sorted(refill):
            self.offer(*key)  # retracts this cooperative and fills its place
        village = self._village(cooperative_id)
        for _key, match in sorted(matches.items()):
            self._place(match, village)

    def _place(self, match: Match, village_code: str) -> None:
        book = self.book(match.partner_id, match.offer_id)
        offer = self.index.offer(book.key)
        if offer is None or match.cooperative_id in book.decided:
            return
        slots = book.slots(offer.capacity)
        pending = book.pending
        mine = book.rows.get(match.cooperative_id)
        if mine is not None and mine.status == SuggestionStatus.PENDING:
            if match.score < mine.score:
                # It fell: a cooperative outside the set may now beat it; only the whole
                # set says, as one process computing from scratch would.
                self.offer(match.partner_id, match.offer_id)
                return
            book.suggest(match, village_code, mine.rank)
            self._reranks[book.key] = book
            return
        if len(pending) < slots:
            book.suggest(match, village_code, len(pending) + 1)
            self._reranks[book.key] = book
            return
        if not pending:
            return
        # Stored scores lag the true ones by less than material_score_change (smaller moves
        # are not published), so compare with the true scores whenever that could matter.
        lag = self.settings.material_score_change
        if match.score <= min(r.score for r in pending) - lag:
            return
        worst = max(pending, key=lambda r: self._standing(book.key, r))
        standing = self._standing(book.key, worst)
        if (-match.score, match.cooperative_id) < standing:
            if -standing[0] < worst.score:
                # The worst fell since it was placed, by a change not reconciled yet (another
                # replica's, or one still on its way): the set is no longer right apart from
                # this candidate, so a swap could pass over a better outsider. Recompute.
                self.offer(match.partner_id, match.offer_id)
                return
            book.retract(worst, RetractReason.SUPERSEDED)
            book.suggest(match, village_code, len(pending))
            self._reranks[book.key] = book

    def _standing(self, key: str, row: SuggestionRow) -> tuple[float, str]:
        """The row's rank key by its true score now (ineligible: last)."""
        cached = self._standings.setdefault(row.cooperative_id, {})
        if key not in cached:
            match = self.index.score(key, row.cooperative_id, self.as_of)
            cached[key] = (-match.score if match else float("inf"), row.cooperative_id)
        return cached[key]


def pending_offer_keys(session: Session) -> Iterable[tuple[str, str]]:
    query = (
        select(SuggestionRow.partner_id, SuggestionRow.offer_id)
        .where(SuggestionRow.status == SuggestionStatus.PENDING)
        .distinct()
    )
    return list(session.exec(query).all())  # type: ignore[arg-type]
