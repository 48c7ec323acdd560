"""The matcher's suggestion rows, kept in memory across batches.

Reading an offer's suggestion rows for every batch that places a cooperative into it is
most of a matcher's database work: a new profile concerns dozens of offers. So one matcher
process keeps every offer's open rows (pending, approved, rejected) in one long-lived
session and writes through it. What others write (coordinators' decisions, another
replica's turn, the expiry sweep) is found through ``suggestion_set``: every writer bumps
the offers it wrote and the total in its transaction. At the start of each turn the
ledger reads the total; when it moved by more than its own writes, it compares the
per-offer versions and reads again the offers that changed. Any failed transaction drops
the whole ledger (read again at the next turn): the database stays the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event, tuple_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from services.settings import Settings
from services.storage.models import SuggestionRow, SuggestionSetRow, SuggestionStatus
from services.suggestions import TOTAL, Books, OfferKey, SuggestionBook

log = logging.getLogger(__name__)

CHUNK = 500  # offers read again per query


class SuggestionLedger(Books):
    def __init__(self, engine: Engine, settings: Settings) -> None:
        super().__init__(None, settings)  # type: ignore[arg-type]
        self.engine = engine
        # Opened by the first transaction, kept across them (see transaction).
        self.session: Session | None = None  # type: ignore[assignment]
        self._pending_by_cooperative: dict[str, set[OfferKey]] = {}
        # Offers with rejected rows, whose decided sets depend on profiles and the offer
        # (only review decisions reject, and the offers they write are read again).
        self._with_rejections: set[OfferKey] = set()
        self._versions: dict[OfferKey, int] = {}  # of the rows this ledger holds
        self._total: int | None = None  # the total when this ledger was last up to date
        self._loaded = False
        self._transient: list[object] = []  # rows other than suggestions, let go per commit

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction in the ledger's session: committed on success; on any error
        rolled back and the whole ledger dropped."""
        if self.session is None:
            self.session = Session(self.engine, expire_on_commit=False)
            event.listen(self.session, "loaded_as_persistent", self._loaded_row)
            event.listen(self.session, "pending_to_persistent", self._loaded_row)
        session = self.session
        try:
            yield session
            session.commit()
        except BaseException:
            self.reset()
            raise
        finally:
            session.info.clear()
        self._after_commit()

    def reset(self) -> None:
        """Forget everything (after a failed transaction, or to free the memory)."""
        if self.session is not None:
            try:
                self.session.rollback()
            finally:
                self.session.close()
        self.session = None
        self._books.clear()
        self._written_books.clear()
        self._pending_by_cooperative.clear()
        self._with_rejections.clear()
        self._versions.clear()
        self._total = None
        self._loaded = False
        self._transient.clear()
        self.outbox.clear()
        self.forget_stale()

    @property
    def known_fresh(self) -> bool:
        """Loaded, and no stale offer as of this ledger's last turn (nothing to release)."""
        return self._loaded and self._stale is not None and not self._stale

    def _loaded_row(self, session: Session, instance: object) -> None:
        if not isinstance(instance, SuggestionRow):
            self._transient.append(instance)

    def _after_commit(self) -> None:
        session = self.session
        assert session is not None
        # Profiles, offers, outbox rows: read again next time (ingest changes them).
        for instance in self._transient:
            if instance in session:
                session.expunge(instance)
        self._transient.clear()
        for book in self.written():
            for cooperative_id in book.written:
                row = book.rows.get(cooperative_id)
                if row is None:
                    continue
                if row.status == SuggestionStatus.RETRACTED:
                    del book.rows[cooperative_id]
                    session.expunge(row)
                    if book.retracted is not None:
                        book.retracted.add(cooperative_id)
                else:  # the explanation is kept in the database, not in memory
                    session.expire(row, ["explanation", "summary"])
            book.written.clear()
        self._written_books.clear()

    # -- staying current -----------------------------------------------------------------------

    def sync(self, session: Session) -> None:
        """At the start of a turn: make the held rows equal to the stored ones."""
        total = _total(session)
        if not self._loaded:
            self._load_all(session)
        elif total != self._total:
            self._reload_changed(session)
        self._total = total
        # Profiles or offers may have changed since: judge their rejections again.
        for key in self._with_rejections:
            self._books[key].forget_decisions()

    def _load_all(self, session: Session) -> None:
        self.forget_stale()
        self._books.clear()
        self._written_books.clear()
        self._pending_by_cooperative.clear()
        self._with_rejections.clear()
        rows = session.exec(
            select(SuggestionRow)
            .where(col(SuggestionRow.status) != SuggestionStatus.RETRACTED)
            .options(defer(SuggestionRow.explanation), defer(SuggestionRow.summary))  # type: ignore[arg-type]
        )
        grouped: dict[OfferKey, list[SuggestionRow]] = {}
        for row in rows:
            grouped.setdefault((row.partner_id, row.offer_id), []).append(row)
        retracted = _retracted(session, None)
        for key in grouped.keys() | retracted.keys():
            self._hold(session, key, grouped.get(key, []), retracted.get(key, set()))
        self._versions = _versions(session)
        self._loaded = True
        log.info("suggestion ledger loaded: %d offers", len(self._books))

    def _reload_changed(self, session: Session) -> None:
        self.forget_stale()
        stored = _versions(session)
        changed = [k for k, v in stored.items() if self._versions.get(k) != v and k != TOTAL]
        for key in changed:
            self._drop(session, key)
        for start in range(0, len(changed), CHUNK):
            chunk = changed[start : start + CHUNK]
            grouped: dict[OfferKey, list[SuggestionRow]] = {key: [] for key in chunk}
            query = (
                select(SuggestionRow)
                .where(
                    tuple_(col(SuggestionRow.partner_id), col(SuggestionRow.offer_id)).in_(chunk),
                    col(SuggestionRow.status) != SuggestionStatus.RETRACTED,
                )
                .options(defer(SuggestionRow.explanation), defer(SuggestionRow.summary))  # type: ignore[arg-type]
                .execution_options(populate_existing=True)
            )
            for row in session.exec(query):
                grouped[(row.partner_id, row.offer_id)].append(row)
            retracted = _retracted(session, chunk)
            for key, members in grouped.items():
                self._hold(session, key, members, retracted.get(key, set()))
        self._versions = stored
        if changed:
            log.debug("suggestion ledger read %d offers again", len(changed))

    def _hold(
        self, session: Session, key: OfferKey, rows: list[SuggestionRow], retracted: set[str]
    ) -> None:
        book = SuggestionBook(
            session,
            self.settings,
            *key,
            rows,
            on_pending=self._pending,
            retracted=retracted,
            outbox=self.outbox,
            written_books=self._written_books,
        )
        self._books[key] = book
        for row in rows:
            if row.status == SuggestionStatus.PENDING:
                self._pending(key, row.cooperative_id, True)
            elif row.status == SuggestionStatus.REJECTED:
                self._with_rejections.add(key)

    def _drop(self, session: Session, key: OfferKey) -> None:
        book = self._books.pop(key, None)
        self._with_rejections.discard(key)
        if book is None:
            return
        for row in book.rows.values():
            self._pending(key, row.cooperative_id, False)
            if row in session:
                session.expunge(row)

    def _pending(self, key: OfferKey, cooperative_id: str, pending: bool) -> None:
        if pending:
            self._pending_by_cooperative.setdefault(cooperative_id, set()).add(key)
            return
        offers = self._pending_by_cooperative.get(cooperative_id)
        if offers is not None:
            offers.discard(key)
            if not offers:
                del self._pending_by_cooperative[cooperative_id]

    # -- Books ---------------------------------------------------------------------------------

    def book(self, partner_id: str, offer_id: str) -> SuggestionBook:
        key = (partner_id, offer_id)
        book = self._books.get(key)
        if book is None:  # an offer without open rows yet
            assert self.session is not None
            book = SuggestionBook(
                self.session,
                self.settings,
                partner_id,
                offer_id,
                [],
                on_pending=self._pending,
                retracted=set(),
                outbox=self.outbox,
                written_books=self._written_books,
            )
            self._books[key] = book
        return book

    def held(self, cooperative_id: str) -> list[OfferKey]:
        return sorted(self._pending_by_cooperative.get(cooperative_id, ()))

    def finish(self) -> bool:
        written = [book.offer_key for book in self.written()]
        if not super().finish():
            return False
        assert self.session is not None
        after = _total(self.session)
        for key in written:
            self._versions[key] = self._versions.get(key, 0) + 1
        # Only this bump since the turn began, or another writer committed in between:
        # then its offers are found at the next turn (the total will not match).
        expected = None if self._total is None else self._total + 1
        self._total = after if after == expected else None
        self._versions[TOTAL] = after
        return True


def _total(session: Session) -> int:
    row = session.get(SuggestionSetRow, TOTAL, populate_existing=True)
    version = row.version if row is not None else 0
    if row is not None:
        session.expunge(row)
    return version


def _retracted(session: Session, offers: list[OfferKey] | None) -> dict[OfferKey, set[str]]:
    """The cooperatives with a retracted row, per offer (all offers, or these)."""
    query = select(
        SuggestionRow.partner_id, SuggestionRow.offer_id, SuggestionRow.cooperative_id
    ).where(col(SuggestionRow.status) == SuggestionStatus.RETRACTED)
    if offers is not None:
        pair = tuple_(col(SuggestionRow.partner_id), col(SuggestionRow.offer_id))
        query = query.where(pair.in_(offers))
    found: dict[OfferKey, set[str]] = {}
    for partner_id, offer_id, cooperative_id in session.exec(query):
        found.setdefault((partner_id, offer_id), set()).add(cooperative_id)
    return found


def _versions(session: Session) -> dict[OfferKey, int]:
    query = select(SuggestionSetRow.partner_id, SuggestionSetRow.offer_id, SuggestionSetRow.version)
    return {(p, o): v for p, o, v in session.exec(query)}
