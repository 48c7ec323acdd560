"""Keeping each offer's set of pending suggestions equal to its best eligible cooperatives.

All writes happen in the caller's transaction, with the events they announce put in the
outbox. A suggestion is published when it is new, revived, or its score moved by at least
``material_score_change``; a retraction when it leaves the set. Each publish bumps the
row's version, which makes its ``Nats-Msg-Id``, so a replay never publishes twice.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable
from datetime import date

from pydantic import BaseModel
from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from matcher import Match, MatchIndex
from schemas import ExplanationComponent, MatchRetracted, MatchSuggestion, RetractReason, subjects
from schemas.regions import regency_code
from services.fingerprints import cooperative_fingerprint, offer_fingerprint
from services.outbox import enqueue, enqueue_many
from services.settings import Settings
from services.storage.db import dialect_insert
from services.storage.models import (
    CooperativeRow,
    OfferRow,
    RejectedPairRow,
    StaleOfferRow,
    SuggestionRow,
    SuggestionSetRow,
    SuggestionStatus,
    construct,
)
from services.storage.types import utcnow

DECIDED = (SuggestionStatus.APPROVED, SuggestionStatus.REJECTED)
OfferKey = tuple[str, str]  # (partner id, offer id)
TOTAL: OfferKey = ("", "")  # the suggestion_set row counting every write


def bump_suggestion_sets(session: Session, keys: Iterable[OfferKey]) -> None:
    """Record that these offers' suggestion rows were written (see ``SuggestionSetRow``).

    Every writer of suggestion rows calls it in the same transaction. The total row comes
    first and the rest in order, so writers lock them in one order (no deadlock).
    """
    ordered = [TOTAL, *sorted(set(keys) - {TOTAL})]
    table = SuggestionSetRow.__table__  # type: ignore[attr-defined]
    statement = dialect_insert(session, table).on_conflict_do_update(
        index_elements=["partner_id", "offer_id"], set_={"version": table.c.version + 1}
    )
    session.connection().execute(
        statement, [{"partner_id": p, "offer_id": o, "version": 1} for p, o in ordered]
    )


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
        self,
        session: Session,
        settings: Settings,
        partner_id: str,
        offer_id: str,
        rows: Iterable[SuggestionRow] | None = None,
        on_pending: Callable[[OfferKey, str, bool], None] | None = None,
        retracted: set[str] | None = None,
        outbox: list[tuple[str, BaseModel, str]] | None = None,
        written_books: set[OfferKey] | None = None,
    ) -> None:
        """``rows``: the offer's rows that are not retracted, when the caller read them
        already; retracted rows are read only to be revived (``suggest``). ``retracted``:
        the cooperatives that have one, when known (else each newcomer is looked up).
        ``written_books``: where the book notes its offer when it writes a row, so that a
        commit need not look through every book."""
        self.session = session
        self.settings = settings
        self.partner_id, self.offer_id = partner_id, offer_id
        if rows is None:
            rows = session.exec(
                select(SuggestionRow).where(
                    SuggestionRow.partner_id == partner_id,
                    SuggestionRow.offer_id == offer_id,
                    col(SuggestionRow.status) != SuggestionStatus.RETRACTED,
                )
            )
        self.rows = {row.cooperative_id: row for row in rows}
        self.retracted = retracted
        # Messages to announce, written by the caller in one statement before the commit
        # (None: each is put in the outbox at once).
        self.outbox = outbox
        # Told when a cooperative enters or leaves the pending set (the ledger's index).
        self.on_pending = on_pending
        # Rows written since the last commit (the ledger trims them after it).
        self.written: set[str] = set()
        self.written_books = written_books
        # Rows by status, and the decided set: read again and again while a batch places
        # many cooperatives into this offer; only this book changes them (cleared when it does).
        self._cache: dict[object, object] = {}

    @property
    def offer_key(self) -> OfferKey:
        return (self.partner_id, self.offer_id)

    def _changed(self, row: SuggestionRow, was_pending: bool) -> None:
        self._cache.clear()
        self.written.add(row.cooperative_id)
        if self.written_books is not None:
            self.written_books.add(self.offer_key)
        now_pending = row.status == SuggestionStatus.PENDING
        if self.on_pending is not None and now_pending != was_pending:
            self.on_pending(self.offer_key, row.cooperative_id, now_pending)

    def forget_decisions(self) -> None:
        """Profiles or the offer may have changed: judge the rejections again when asked."""
        self._cache.pop("decided", None)

    def bar(self, capacity: int | None, lag: float) -> float:
        """A score a cooperative outside the set must beat to enter it (-inf: room left)."""
        key = ("bar", capacity)
        if key not in self._cache:
            pending = self.pending
            if len(pending) < self.slots(capacity):
                self._cache[key] = -math.inf
            else:
                self._cache[key] = min((r.score for r in pending), default=math.inf) - lag
        return self._cache[key]  # type: ignore[return-value]

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

    def suggest(
        self,
        cooperative_id: str,
        score: float,
        village_code: str,
        rank: int,
        explain: Callable[[], Match],
    ) -> None:
        """Put the cooperative in the set at ``score``; ``explain`` is called only when
        the row is written with a new state (a quiet re-rank needs no explanation)."""
        row = self.rows.get(cooperative_id)
        if row is None and (self.retracted is None or cooperative_id in self.retracted):
            # Retracted before: revive that row, with its versions.
            sid = suggestion_id(self.partner_id, self.offer_id, cooperative_id)
            with self.session.no_autoflush:
                row = self.session.get(SuggestionRow, sid)
            if row is not None:
                self.rows[cooperative_id] = row
                if self.retracted is not None:
                    self.retracted.discard(cooperative_id)
        was_pending = row is not None and row.status == SuggestionStatus.PENDING
        if was_pending and abs(row.score - score) < self.settings.material_score_change:  # type: ignore[union-attr]
            if row.rank != rank:  # type: ignore[union-attr]
                row.rank = rank  # type: ignore[union-attr]  # a quiet re-rank: not worth announcing
                self._changed(row, was_pending)  # type: ignore[arg-type]
            return
        match = explain()
        now = utcnow()
        explanation = [c.as_dict() for c in match.components]
        if row is None:
            row = construct(
                SuggestionRow,
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
                status=SuggestionStatus.PENDING,
                retract_reason=None,
                created_at=now,
                updated_at=now,
                version=1,
            )
            self.session.add(row)
            self.rows[match.cooperative_id] = row
        elif row.status == SuggestionStatus.PENDING:
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
        self._announce(subjects.MATCH_SUGGESTED, suggestion_event(row), msg_id)
        self._changed(row, was_pending)

    def _announce(self, subject: str, payload: BaseModel, msg_id: str) -> None:
        if self.outbox is None:
            enqueue(self.session, subject, payload, msg_id)
        else:
            self.outbox.append((subject, payload, msg_id))

    def retract(self, row: SuggestionRow, reason: RetractReason) -> None:
        was_pending = row.status == SuggestionStatus.PENDING
        now = utcnow()
        row.status, row.retract_reason = SuggestionStatus.RETRACTED, reason.value
        row.version += 1
        row.updated_at = now
        event = MatchRetracted(suggestion_id=row.suggestion_id, reason=reason, retracted_at=now)
        self._announce(
            subjects.MATCH_RETRACTED, event, f"{row.suggestion_id}:retracted:{row.version}"
        )
        self._changed(row, was_pending)

    def retract_all(self, reason: RetractReason) -> None:
        for row in self.pending:
            self.retract(row, reason)


class Books:
    """Where a reconciler gets its offers' books: read for one transaction (this class) or
    kept in memory across transactions (``services.ledger.SuggestionLedger``)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session, self.settings = session, settings
        self._books: dict[OfferKey, SuggestionBook] = {}
        self.outbox: list[tuple[str, BaseModel, str]] = []  # what the books announce
        self._written_books: set[OfferKey] = set()  # offers whose books wrote since the commit
        self.forget_stale()

    def book(self, partner_id: str, offer_id: str) -> SuggestionBook:
        key = (partner_id, offer_id)
        if key not in self._books:
            self._books[key] = SuggestionBook(
                self.session,
                self.settings,
                partner_id,
                offer_id,
                outbox=self.outbox,
                written_books=self._written_books,
            )
        return self._books[key]

    def held(self, cooperative_id: str) -> list[OfferKey]:
        """The offers in whose pending sets the cooperative is."""
        rows = self.session.exec(
            select(SuggestionRow.partner_id, SuggestionRow.offer_id).where(
                SuggestionRow.cooperative_id == cooperative_id,
                col(SuggestionRow.status) == SuggestionStatus.PENDING,
            )
        ).all()
        return [(p, o) for p, o in rows]

    def bar(self, key: OfferKey, capacity: int | None) -> float:
        """What a newcomer must beat to enter the offer's set, if known without reading."""
        book = self._books.get(key)
        if book is None:
            return -math.inf
        return book.bar(capacity, self.settings.material_score_change)

    def written(self) -> list[SuggestionBook]:
        """The books that wrote rows since the last commit, in offer order."""
        books = (self._books.get(key) for key in sorted(self._written_books))
        return [book for book in books if book is not None and book.written]

    # -- offers held back (see Reconciler.hold) -------------------------------------------

    def forget_stale(self) -> None:
        """Read the stale offers again when next asked (others may have changed them)."""
        self._stale: set[OfferKey] | None = None
        self._stale_marked: set[OfferKey] = set()
        self._stale_cleared: set[OfferKey] = set()

    @property
    def stale(self) -> set[OfferKey]:
        """Offers whose sets are recomputed whole once the matcher has caught up."""
        if self._stale is None:
            rows = self.session.exec(select(StaleOfferRow.partner_id, StaleOfferRow.offer_id))
            self._stale = {(p, o) for p, o in rows}
        return self._stale

    def mark_stale(self, key: OfferKey) -> None:
        if key not in self.stale:
            self.stale.add(key)
            self._stale_marked.add(key)
            self._stale_cleared.discard(key)

    def clear_stale(self, key: OfferKey) -> None:
        if key in self.stale:
            self.stale.discard(key)
            self._stale_cleared.add(key)
            self._stale_marked.discard(key)

    def _store_stale(self) -> bool:
        """Write this transaction's marks; True if there were any."""
        marked, cleared = sorted(self._stale_marked), sorted(self._stale_cleared)
        self._stale_marked, self._stale_cleared = set(), set()
        table = StaleOfferRow.__table__  # type: ignore[attr-defined]
        connection = self.session.connection()
        if marked:
            connection.execute(
                dialect_insert(self.session, table).on_conflict_do_nothing(),
                [{"partner_id": p, "offer_id": o} for p, o in marked],
            )
        for start in range(0, len(cleared), 500):
            chunk = cleared[start : start + 500]
            connection.execute(
                table.delete().where(tuple_(table.c.partner_id, table.c.offer_id).in_(chunk))
            )
        return bool(marked or cleared)

    def finish(self) -> bool:
        """Before the commit: put the announcements in the outbox, in order, and record
        which offers' rows this transaction wrote. True if it bumped the versions."""
        # Rows first, then their set versions: the order a review decision locks them in.
        self.session.flush()
        if self.outbox:
            enqueue_many(self.session, self.outbox)
            self.outbox.clear()
        written = [book.offer_key for book in self.written()]
        # Marks change no row but what the next turn of any replica must do: they count
        # in the total, so another replica reads the stale offers again.
        if self._store_stale() or written:
            bump_suggestion_sets(self.session, written)
            return True
        return False


class Reconciler:
    """Applies the matcher's view to the stored suggestions of one or more offers."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        index: MatchIndex,
        as_of: date,
        books: Books | None = None,
        *,
        hold: bool = False,
    ) -> None:
        self.session, self.settings, self.index, self.as_of = session, settings, index, as_of
        # Behind a backlog (a bulk load): instead of re-placing an offer's set for every
        # cooperative that concerns it, note the offer as stale; it is recomputed whole once,
        # when the matcher has caught up (release). Each entry published then stays,
        # where placing as the profiles arrive would publish and retract most of them.
        self.hold = hold
        # One book per offer for the whole transaction (or longer, see Books): a batch of
        # profile changes touches the same few offers again and again.
        self.books = books if books is not None else Books(session, settings)
        # Cooperatives that may enter each offer's set, placed once per offer when the
        # transaction ends: in a batch of many profiles, an entry a later one would push
        # out again is never written nor announced.
        self._candidates: dict[str, dict[str, tuple[float, str]]] = {}
        # Offers whose whole set was recomputed in this transaction (exact already).
        self._recomputed: set[str] = set()

    def finish(self, *_: object) -> None:
        """Before the transaction commits: place the candidates, and record which offers'
        rows were written."""
        self.place_candidates()
        self.books.finish()

    def release(self, deadline: float) -> int:
        """Recompute stale offers (see ``hold``) until the monotonic ``deadline``, at least
        one; returns how many. Short turns let batches of changes in between."""
        released = 0
        for partner_id, offer_id in sorted(self.books.stale):
            if released and time.monotonic() >= deadline:
                break
            self.offer(partner_id, offer_id)
            released += 1
        return released

    def _is_stale(self, key: str) -> bool:
        offer = self.index.offer(key)
        return offer is not None and (offer.partner_id, offer.offer_id) in self.books.stale

    def book(self, partner_id: str, offer_id: str) -> SuggestionBook:
        return self.books.book(partner_id, offer_id)

    def _village(self, cooperative_id: str) -> str:
        coop = self.index.cooperative(cooperative_id)
        return coop.village_code if coop else ""

    def _explainer(self, key: str, cooperative_id: str) -> Callable[[], Match]:
        def explain() -> Match:
            match = self.index.score(key, cooperative_id, self.as_of)
            assert match is not None, "explaining a pair that was just scored eligible"
            return match

        return explain

    def _retract_reason(self, key: str, cooperative_id: str) -> RetractReason:
        if self.index.pair_score(key, cooperative_id, self.as_of) is None:
            return RetractReason.NO_LONGER_ELIGIBLE
        return RetractReason.SUPERSEDED

    def offer(self, partner_id: str, offer_id: str, closed: RetractReason | None = None) -> None:
        """Recompute the offer's whole set. ``closed``: the offer is withdrawn or expired."""
        book = self.book(partner_id, offer_id)
        self._recomputed.add(book.key)
        self.books.clear_stale(book.offer_key)
        offer = self.index.offer(book.key)
        if closed is not None or offer is None:
            book.retract_all(closed or RetractReason.OFFER_WITHDRAWN)
            return
        slots = book.slots(offer.capacity)
        decided = book.decided
        wanted = self.index.best_cooperatives(
            book.key,
            slots + len(decided),
            self.as_of,
            min_score=self.settings.min_score,
            explained=False,
        )
        best = [m for m in wanted if m.cooperative_id not in decided][:slots]
        chosen = {m.cooperative_id for m in best}
        for row in book.pending:
            if row.cooperative_id not in chosen:
                book.retract(row, self._retract_reason(book.key, row.cooperative_id))
        for rank, match in enumerate(best, start=1):
            cid = match.cooperative_id
            book.suggest(cid, match.score, self._village(cid), rank, self._explainer(book.key, cid))

    def cooperative(self, cooperative_id: str) -> int:
        """Place one changed cooperative in (or out of) the sets of the offers it concerns;
        returns how many offers that is (when placing; 0 when holding back)."""
        held = self.books.held(cooperative_id)
        stale = self.books.stale
        index = self.index

        def bar(key: str) -> float:
            offer = index.offer(key)
            if offer is None:
                return math.inf
            offer_key = (offer.partner_id, offer.offer_id)
            if offer_key in stale:
                return math.inf  # recomputed whole later: no need to score it now
            return self.books.bar(offer_key, offer.capacity)

        scores = index.offers_to_place(
            cooperative_id, self.as_of, min_score=self.settings.min_score, bar=bar
        )
        if self.hold:
            for offer_key in held:
                self.books.mark_stale(offer_key)
            for key in scores:
                offer = index.offer(key)
                assert offer is not None, "offers_to_place returns known offers"
                self.books.mark_stale((offer.partner_id, offer.offer_id))
            return 0
        touched = len(scores) + sum(f"{p}/{o}" not in scores for p, o in held)
        refill: set[OfferKey] = set()
        for partner_id, offer_id in held:
            key = f"{partner_id}/{offer_id}"
            if key in scores or (partner_id, offer_id) in stale:
                continue
            # Skipped by its bar, or no longer eligible: only the exact score says which.
            score = index.pair_score(key, cooperative_id, self.as_of)
            if score is None or score < self.settings.min_score:
                refill.add((partner_id, offer_id))
            else:
                scores[key] = score
        for partner_id, offer_id in sorted(refill):
            self.offer(partner_id, offer_id)  # retracts this cooperative and fills its place
        village = self._village(cooperative_id)
        for key, score in sorted(scores.items()):
            self._place(key, cooperative_id, score, village)
        return touched

    def _place(self, key: str, cooperative_id: str, score: float, village_code: str) -> None:
        """Note the cooperative as a candidate for the offer's set (see place_candidates)."""
        offer = self.index.offer(key)
        if offer is None or key in self._recomputed or self._is_stale(key):
            return  # gone, recomputed from an index that already holds this change, or later
        book = self.book(offer.partner_id, offer.offer_id)
        if cooperative_id in book.decided:
            return
        mine = book.rows.get(cooperative_id)
        if mine is not None and mine.status == SuggestionStatus.PENDING:
            if score < mine.score:
                # It fell: a cooperative outside the set may now beat it; only the whole
                # set says, as one process computing from scratch would.
                self.offer(offer.partner_id, offer.offer_id)
                return
            if score == mine.score:
                return  # a member whose score is as stored (a new member count, say): as is
        elif score <= book.bar(offer.capacity, self.settings.material_score_change):
            # Stored scores lag the true ones by less than material_score_change (smaller
            # moves are not published), so the bar is the weakest stored score minus that:
            # a score at or below it cannot beat any member's true score.
            return
        self._candidates.setdefault(key, {})[cooperative_id] = (score, village_code)

    def place_candidates(self) -> None:
        """Each offer's set becomes the best of its members and its candidates (by their
        true scores now, ties by id), written once."""
        candidates, self._candidates = self._candidates, {}
        for key, found in sorted(candidates.items()):
            offer = self.index.offer(key)
            if offer is None or key in self._recomputed or self._is_stale(key):
                continue
            book = self.book(offer.partner_id, offer.offer_id)
            pool: dict[str, float] = {}
            for row in book.pending:
                true_score, _ = self._standing(key, row)
                if -true_score < row.score:
                    # A member fell since it was placed, by a change not reconciled yet
                    # (another replica's, or one on its way): a better outsider may exist
                    # that is no candidate here. Recompute the whole set.
                    self.offer(offer.partner_id, offer.offer_id)
                    break
                pool[row.cooperative_id] = -true_score
            else:
                for cooperative_id, (score, _village) in found.items():
                    pool[cooperative_id] = score
                self._settle(key, book, offer.capacity, pool, found)

    def _settle(
        self,
        key: str,
        book: SuggestionBook,
        capacity: int | None,
        pool: dict[str, float],
        found: dict[str, tuple[float, str]],
    ) -> None:
        ranked = sorted(pool.items(), key=lambda item: (-item[1], item[0]))
        best = ranked[: book.slots(capacity)]
        chosen = {cooperative_id for cooperative_id, _ in best}
        for row in list(book.pending):
            if row.cooperative_id not in chosen:
                book.retract(row, self._retract_reason(key, row.cooperative_id))
        for rank, (cooperative_id, score) in enumerate(best, start=1):
            village = found[cooperative_id][1] if cooperative_id in found else None
            book.suggest(
                cooperative_id,
                score,
                village or self._village(cooperative_id),
                rank,
                self._explainer(key, cooperative_id),
            )

    def _standing(self, key: str, row: SuggestionRow) -> tuple[float, str]:
        """The row's rank key by its true score now (ineligible: last)."""
        score = self.index.pair_score(key, row.cooperative_id, self.as_of)
        return (-score if score is not None else float("inf"), row.cooperative_id)


def pending_offer_keys(session: Session) -> Iterable[tuple[str, str]]:
    query = (
        select(SuggestionRow.partner_id, SuggestionRow.offer_id)
        .where(SuggestionRow.status == SuggestionStatus.PENDING)
        .distinct()
    )
    return list(session.exec(query).all())  # type: ignore[arg-type]
