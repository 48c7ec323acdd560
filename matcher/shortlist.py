"""The matching rule for one province, kept incrementally: plain values in, events out.

A pair (offer, cooperative) is suggested when it is eligible, scores at least the minimum,
is not blocked by a coordinator's decision, its offer is not full, and

- the cooperative is among the offer's best ``per_province`` in this province (basis
  ``offer``), or
- the offer is among the cooperative's best ``per_cooperative`` offers (basis
  ``cooperative``).

A province's suggestions depend only on its cooperatives and the offers that cover it, so
each province is a ``Shortlist`` of its own, with its own candidate index.

``Shortlist`` keeps, exactly, each offer's best cooperatives (and a reserve of the next
ones, so that one falling out rarely means scoring the province again) and each
cooperative's best offers, updates them for what changed, and compares the resulting
selection with what was announced before: ``settle`` returns the events (``Suggested``,
``Retracted``). ``select`` computes the same selection from scratch; the tests hold the
two equal.

Announced scores lag the true ones by less than ``material_change``: a suggestion is
announced again only when its score moved that much. Its basis is kept current quietly
(``Suggested(announce=False)``): the store shows it, nobody is notified. Its rank is its
place among the offer's suggestions in the province when it was announced (or its basis
last changed); a reader wanting the place now counts it from the stored scores, as the
review service does.

Decisions: an approved pair is never suggested again and counts toward the offer's
capacity; when approvals reach it, the offer's suggestions are retracted
(``capacity_reached``) until an approval is reopened. A rejected pair stays blocked until
something that matters to the match changes: either side's canonical terms, the pair's
eligibility, or its score by at least ``material_change``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date

from matcher.eligibility import offer_ineligibility
from matcher.index import MatchIndex
from matcher.model import Cooperative, Offer

Pair = tuple[str, str]  # (offer key, cooperative id)

OFFER = "offer"
COOPERATIVE = "cooperative"

# Entries kept beyond each offer's selection in a province (``_Top``): when a selected
# cooperative's score falls (a profile edit), the next one is known without scoring the
# province again. Ten more per offer cost a few megabytes nationally; without them nearly
# every edit that lowers a selected cooperative's score rescored its province.
RESERVE = 10

# Why a suggestion is retracted (the contract's MatchRetracted reasons).
OFFER_WITHDRAWN = "offer_withdrawn"
OFFER_EXPIRED = "offer_expired"
NO_LONGER_ELIGIBLE = "no_longer_eligible"
SUPERSEDED = "superseded"
CAPACITY_REACHED = "capacity_reached"


def province_of(code: str) -> str:
    """The province of a Kemendagri code of any level (``61.12.01.2004`` -> ``61``)."""
    return code.split(".", 1)[0]


def covers(offer: Offer, province: str) -> bool:
    return not offer.regions or any(province_of(r) == province for r in offer.regions)


@dataclass(frozen=True)
class Rule:
    per_province: int = 20
    per_cooperative: int = 3
    min_score: float = 50.0
    material_change: float = 5.0


@dataclass(frozen=True)
class Rejection:
    """What the pair looked like when a coordinator rejected it."""

    offer_terms: str
    cooperative_terms: str
    score: float


@dataclass(frozen=True)
class Suggested:
    offer_key: str
    cooperative_id: str
    score: float
    rank: int
    basis: tuple[str, ...]
    # False: only the basis changed; the store is updated, nobody is told.
    announce: bool = True


@dataclass(frozen=True)
class Retracted:
    offer_key: str
    cooperative_id: str
    reason: str


Event = Suggested | Retracted


@dataclass(slots=True)
class Published:
    score: float  # as announced
    rank: int
    basis: tuple[str, ...]


@dataclass(slots=True)  # one per offer and province, and per cooperative: 100,000 nationally
class _Top:
    """The best entries of one offer or cooperative: (score, other id), best first.

    ``entries`` are exactly the best ``len(entries)`` candidates, at most ``depth``: the
    first ``limit`` are the selection, the others a reserve. When an entry's score falls,
    the reserve says who takes its place; only when it runs dry is the whole province
    scored again. ``complete``: every candidate scoring at least the minimum is here (then
    fewer than ``depth`` are; a full list is taken as holding outsiders back).
    """

    limit: int
    entries: list[tuple[float, str]] = field(default_factory=list)
    depth: int = 0  # 0: no reserve
    complete: bool = True

    def __post_init__(self) -> None:
        self.depth = max(self.depth, self.limit)

    def ids(self) -> Iterator[str]:
        """The selection."""
        return (other for _, other in self.entries[: self.limit])

    def score(self, other: str) -> float | None:
        """``other``'s score if it is in the selection."""
        return self.held(other, self.limit)

    def held(self, other: str, within: int | None = None) -> float | None:
        """``other``'s score if it is among the first ``within`` entries (default: any,
        selected or in reserve)."""
        for score, known in self.entries[:within]:
            if known == other:
                return score
        return None

    def bar(self, min_score: float) -> float:
        """What an outsider must score to be worth comparing with the weakest entry."""
        if self.complete:
            return min_score
        return max(min_score, self.entries[-1][0])

    def admits(self, score: float, other: str) -> bool:
        """Whether an outsider at ``score`` belongs among the entries: it beats the weakest,
        below which an outsider may be beaten by others nobody has scored."""
        if self.complete or not self.entries:
            return self.complete
        return _beats(score, other, self.entries[-1])

    def full(self) -> None:
        """After an entry came in: a full list may be holding an outsider back."""
        if len(self.entries) >= self.depth:
            self.complete = False


class Shortlist:
    """The suggestions of one province."""

    def __init__(self, province: str, rule: Rule, as_of: date, reserve: int | None = None) -> None:
        self.province = province
        self.rule = rule
        # Entries of each offer's best kept beyond its selection (``_Top``); None: the default.
        self.depth = rule.per_province + (RESERVE if reserve is None else reserve)
        self.as_of = as_of
        self.index = MatchIndex()
        self.published: dict[Pair, Published] = {}
        self._offer_top: dict[str, _Top] = {}
        self._coop_top: dict[str, _Top] = {}
        # Reverse maps: which tops hold a cooperative, an offer.
        self._in_offer_tops: dict[str, set[str]] = {}
        self._in_coop_tops: dict[str, set[str]] = {}
        self._published_by_offer: dict[str, set[str]] = {}
        self._published_by_coop: dict[str, set[str]] = {}
        # Decisions.
        self._rejected: dict[Pair, Rejection] = {}
        self._blocked_by_offer: dict[str, set[str]] = {}
        self._blocked_by_coop: dict[str, set[str]] = {}
        self._approvals: dict[str, int] = {}  # approved cooperatives per offer, nationwide
        # Why an offer left this province (withdrawn, or no longer covering it).
        self._gone: dict[str, str] = {}
        # What changed since the last settle.
        self._dirty_offers: set[str] = set()
        self._dirty_coops: set[str] = set()
        self._touched: set[Pair] = set()  # pairs whose state a decision changed
        self._lapsed: list[Pair] = []
        # Each offer's suggested pairs, best first, as (-score, cooperative id): ranks.
        self._ranked: dict[str, list[tuple[float, str]]] = {}
        self._selected: dict[Pair, float] = {}  # the score each pair is ranked at

    # -- inputs ------------------------------------------------------------------------------

    def upsert_cooperative(self, coop: Cooperative) -> None:
        if province_of(coop.village_code) != self.province:
            self.remove_cooperative(coop.cooperative_id)
            return
        if not self.index.upsert_cooperative(coop):
            return  # no score or eligibility moved: the selection stands as it is
        self._dirty_coops.add(coop.cooperative_id)
        cid = coop.cooperative_id
        self._recheck_rejections((key, cid) for key in self._blocked_by_coop.get(cid, ()))

    def remove_cooperative(self, cooperative_id: str) -> None:
        if self.index.cooperative(cooperative_id) is None:
            return
        self.index.remove_cooperative(cooperative_id)
        self._dirty_coops.add(cooperative_id)

    def upsert_offer(self, offer: Offer) -> None:
        if offer.withdrawn:
            self.remove_offer(offer.key, OFFER_WITHDRAWN)
            return
        if not covers(offer, self.province):
            self.remove_offer(offer.key, NO_LONGER_ELIGIBLE)
            return
        self._gone.pop(offer.key, None)
        self.index.upsert_offer(offer)
        self._dirty_offers.add(offer.key)
        key = offer.key
        self._recheck_rejections((key, cid) for cid in self._blocked_by_offer.get(key, ()))

    def remove_offer(self, key: str, reason: str = OFFER_WITHDRAWN) -> None:
        if self.index.offer(key) is None:
            return
        self.index.remove_offer(key)
        self._gone[key] = reason
        self._dirty_offers.add(key)

    def approved(self, key: str, cooperative_id: str) -> None:
        """A coordinator approved the pair: it leaves the suggestions (it is decided, not
        retracted) and is never suggested again."""
        self._block((key, cooperative_id))

    def rejected(self, key: str, cooperative_id: str, score: float) -> Rejection | None:
        """A coordinator rejected the pair; returns what the rejection remembers."""
        pair = (key, cooperative_id)
        terms = self.index.terms_fingerprint(key, cooperative_id)
        self._block(pair)
        if terms is None:  # one side is unknown here: blocked until reopened
            return None
        rejection = Rejection(terms[0], terms[1], score)
        self._rejected[pair] = rejection
        return rejection

    def reopened(self, key: str, cooperative_id: str, score: float, rank: int) -> None:
        """A decision was taken back: the pair is pending again, as stored."""
        pair = (key, cooperative_id)
        self._unblock(pair)
        self._publish(pair, Published(score, rank, ()))
        self._dirty_offers.add(key)
        self._dirty_coops.add(cooperative_id)

    def set_approvals(self, key: str, count: int) -> None:
        """Approved cooperatives of the offer, in every province."""
        if self._approvals.get(key, 0) != count:
            self._approvals[key] = count
            self._dirty_offers.add(key)

    def set_date(self, as_of: date) -> None:
        """A new day: offers may have expired."""
        if as_of == self.as_of:
            return
        before = self.as_of
        self.as_of = as_of
        for key in self.index.offer_keys():
            offer = self.index.offer(key)
            assert offer is not None
            if offer_ineligibility(offer, before) != offer_ineligibility(offer, as_of):
                self._dirty_offers.add(key)

    def load(self, key: str, cooperative_id: str, published: Published) -> None:
        """A pending suggestion as stored (at start or takeover)."""
        self._publish((key, cooperative_id), published)

    def load_rejection(self, key: str, cooperative_id: str, rejection: Rejection) -> None:
        self._block((key, cooperative_id))
        self._rejected[(key, cooperative_id)] = rejection

    def everything_changed(self) -> None:
        """Recompute the whole province at the next settle (after loading it)."""
        self._offer_top.clear()
        self._coop_top.clear()
        self._in_offer_tops.clear()
        self._in_coop_tops.clear()
        self._dirty_offers.update(self.index.offer_keys())
        self._dirty_offers.update(self._published_by_offer)
        self._dirty_coops.update(self.index.cooperative_ids())
        self._dirty_coops.update(self._published_by_coop)

    # -- the rule ----------------------------------------------------------------------------

    def is_full(self, key: str) -> bool:
        offer = self.index.offer(key)
        return (
            offer is not None
            and offer.capacity is not None
            and self._approvals.get(key, 0) >= offer.capacity
        )

    def settle(self) -> list[Event]:
        """Bring the selection up to date with what changed; the events that announce it."""
        offers, coops = self._dirty_offers, self._dirty_coops
        self._dirty_offers, self._dirty_coops = set(), set()
        pairs, self._touched = self._touched, set()
        # Offers first: their tops are recomputed whole, from an index that holds every
        # change of this batch; the cooperatives' side then sees them as they are now.
        for key in sorted(offers):
            pairs.update((key, cid) for cid in self._recompute_offer(key))
            pairs.update((key, cid) for cid in self._published_by_offer.get(key, ()))
        refresh: set[str] = set(coops)
        for key in sorted(offers):
            refresh |= self._place_offer(key, skip=coops)
        for cid in sorted(refresh):
            pairs.update((key, cid) for key in self._recompute_coop(cid))
            pairs.update((key, cid) for key in self._published_by_coop.get(cid, ()))
        for cid in sorted(coops):
            pairs |= self._place_cooperative(cid, skip=offers)
        return self._announce(pairs)

    def target(self, key: str, cooperative_id: str) -> tuple[float, tuple[str, ...]] | None:
        """The pair's true score and basis if it is suggested now."""
        by_offer = self._offer_top.get(key)
        by_coop = self._coop_top.get(cooperative_id)
        return _target(
            by_offer.score(cooperative_id) if by_offer else None,
            by_coop.score(key) if by_coop else None,
        )

    def selection(self) -> dict[Pair, tuple[float, tuple[str, ...]]]:
        """The pairs suggested now, with their true scores and bases."""
        pairs = {(key, cid) for key, top in self._offer_top.items() for cid in top.ids()}
        pairs |= {(key, cid) for cid, top in self._coop_top.items() for key in top.ids()}
        chosen: dict[Pair, tuple[float, tuple[str, ...]]] = {}
        for pair in pairs:
            target = self.target(*pair)
            assert target is not None, pair  # every pair comes from a top list
            chosen[pair] = target
        return chosen

    def _blocked(self, key: str, cooperative_id: str) -> bool:
        return cooperative_id in self._blocked_by_offer.get(key, ())

    def _recompute_offer(self, key: str) -> set[str]:
        """The offer's best cooperatives, from scratch; those selected before or now."""
        old = self._offer_top.pop(key, None)
        if old is not None:
            for _, cid in old.entries:
                self._in_offer_tops[cid].discard(key)
        dropped = set(old.ids()) if old else set()
        if self.index.offer(key) is None or self.is_full(key):
            return dropped
        blocked = self._blocked_by_offer.get(key, set())
        limit, depth = self.rule.per_province, self.depth
        best = self.index.best_cooperatives(
            key,
            depth + len(blocked),
            self.as_of,
            min_score=self.rule.min_score,
            explained=False,
        )
        kept = [(m.score, m.cooperative_id) for m in best if m.cooperative_id not in blocked]
        complete = len(best) < depth + len(blocked) and len(kept) < depth
        top = _Top(limit, kept[:depth], depth, complete)
        if top.entries:
            self._offer_top[key] = top
            for _, cid in top.entries:
                self._in_offer_tops.setdefault(cid, set()).add(key)
        return dropped | set(top.ids())

    def _recompute_coop(self, cooperative_id: str) -> set[str]:
        """The cooperative's best offers, from scratch; the offers concerned."""
        old = self._coop_top.pop(cooperative_id, None)
        dropped = set(old.ids()) if old else set()
        for key in dropped:
            self._in_coop_tops[key].discard(cooperative_id)
        if self.index.cooperative(cooperative_id) is None:
            return dropped
        limit = self.rule.per_cooperative
        best = self.index.best_offers(
            cooperative_id,
            limit,
            self.as_of,
            min_score=self.rule.min_score,
            exclude=_Excluded(self, cooperative_id),
            explained=False,
        )
        top = _Top(limit, [(m.score, m.offer_key) for m in best], complete=len(best) < limit)
        if top.entries:
            self._coop_top[cooperative_id] = top
            for key in top.ids():
                self._in_coop_tops.setdefault(key, set()).add(cooperative_id)
        return dropped | set(top.ids())

    def _place_offer(self, key: str, skip: set[str]) -> set[str]:
        """After an offer changed: the cooperatives whose own best offers it may enter or
        leave (their tops are recomputed); those in ``skip`` are recomputed anyway."""
        concerned = set(self._in_coop_tops.get(key, ()))
        if self.index.offer(key) is None or self.is_full(key):
            return concerned
        blocked = self._blocked_by_offer.get(key, set())

        def bar(cid: str) -> float:
            if cid in blocked or cid in concerned or cid in skip:
                return math.inf
            top = self._coop_top.get(cid)
            return top.bar(self.rule.min_score) if top else self.rule.min_score

        scores = self.index.cooperatives_to_place(
            key, self.as_of, min_score=self.rule.min_score, bar=bar
        )
        for cid, score in scores.items():
            top = self._coop_top.get(cid)
            if top is None or len(top.entries) < top.limit or _beats(score, key, top.entries[-1]):
                concerned.add(cid)
        return concerned

    def _place_cooperative(self, cooperative_id: str, skip: set[str]) -> set[Pair]:
        """After a cooperative changed: place it in (or out of) the best of the offers it
        concerns; offers in ``skip`` were recomputed whole already. The pairs touched."""
        touched: set[Pair] = set()
        rule = self.rule
        holding = self._in_offer_tops.get(cooperative_id, set()) - skip
        for key in sorted(holding):
            top = self._offer_top[key]
            old = top.held(cooperative_id)
            new = self.index.pair_score(key, cooperative_id, self.as_of)
            touched.add((key, cooperative_id))
            if new == old:
                continue
            # Only the cooperative's own score moved: the pairs concerned besides its own are
            # those that enter or leave the selection (their basis may change); the others
            # keep their scores, and so what ranks are announced from.
            before = set(top.ids())
            top.entries[:] = [e for e in top.entries if e[1] != cooperative_id]
            # Risen, it is still ahead of every outsider; fallen, only while it still beats
            # the weakest entry (an outsider may beat it otherwise).
            if (
                old is not None
                and new is not None
                and new >= rule.min_score
                and (new > old or top.admits(new, cooperative_id))
            ):
                _put(top.entries, cooperative_id, new)
                touched.update((key, cid) for cid in before.symmetric_difference(top.ids()))
                continue
            self._in_offer_tops[cooperative_id].discard(key)
            if not top.complete and len(top.entries) < top.limit:
                # The reserve ran dry: only the whole province says who comes next (what it
                # returns holds the selection before, too).
                touched.update((key, cid) for cid in self._recompute_offer(key))
            elif not top.entries:
                del self._offer_top[key]
            else:  # one may come up from the reserve
                touched.update((key, cid) for cid in before.symmetric_difference(top.ids()))
        if self.index.cooperative(cooperative_id) is None:
            return touched

        def bar(key: str) -> float:
            if key in skip or key in holding or self._blocked(key, cooperative_id):
                return math.inf
            if self.is_full(key):
                return math.inf
            top = self._offer_top.get(key)
            return top.bar(rule.min_score) if top else rule.min_score

        scores = self.index.offers_to_place(
            cooperative_id, self.as_of, min_score=rule.min_score, bar=bar
        )
        for key, score in scores.items():
            top = self._offer_top.get(key) or _Top(rule.per_province, [], self.depth)
            self._offer_top[key] = top  # new: no cooperative of the province scored enough
            if not top.admits(score, cooperative_id):
                top.complete = False  # an eligible outsider, below the weakest entry
                continue
            entries = top.entries
            _put(entries, cooperative_id, score)
            self._in_offer_tops.setdefault(cooperative_id, set()).add(key)
            touched.add((key, cooperative_id))
            if len(entries) > top.limit and _beats(score, cooperative_id, entries[top.limit]):
                # It entered the selection: the one it pushed to the reserve leaves it.
                touched.add((key, entries[top.limit][1]))
            if len(entries) > top.depth:
                _, evicted = entries.pop()
                self._in_offer_tops[evicted].discard(key)
            top.full()
        return touched

    # -- decisions ---------------------------------------------------------------------------

    def _block(self, pair: Pair) -> None:
        key, cid = pair
        self._blocked_by_offer.setdefault(key, set()).add(cid)
        self._blocked_by_coop.setdefault(cid, set()).add(key)
        self._unpublish(pair)  # decided, not retracted: no event
        self._touched.add(pair)
        self._dirty_offers.add(key)
        self._dirty_coops.add(cid)

    def _unblock(self, pair: Pair) -> None:
        key, cid = pair
        self._rejected.pop(pair, None)
        self._blocked_by_offer.get(key, set()).discard(cid)
        self._blocked_by_coop.get(cid, set()).discard(key)
        self._touched.add(pair)
        self._dirty_offers.add(key)
        self._dirty_coops.add(cid)

    def lapsed_rejections(self) -> list[Pair]:
        """Rejections that no longer stand (for the store to forget), since last asked."""
        lapsed, self._lapsed = self._lapsed, []
        return lapsed

    def _recheck_rejections(self, pairs: Iterable[Pair]) -> None:
        for pair in list(pairs):
            rejection = self._rejected.get(pair)
            if rejection is not None and self._rejection_lapsed(pair, rejection):
                self._unblock(pair)
                self._lapsed.append(pair)

    def _rejection_lapsed(self, pair: Pair, rejection: Rejection) -> bool:
        key, cid = pair
        terms = self.index.terms_fingerprint(key, cid)
        if terms is None:
            return False  # one side is unknown here: nothing to compare with
        if terms != (rejection.offer_terms, rejection.cooperative_terms):
            return True
        score = self.index.pair_score(key, cid, self.as_of)
        return score is None or abs(score - rejection.score) >= self.rule.material_change

    # -- announcing --------------------------------------------------------------------------

    def _announce(self, pairs: set[Pair]) -> list[Event]:
        """Compare the touched pairs with what was announced: the events, in pair order."""
        # What ``target`` says of each pair, reading each top once (not once per pair).
        by_offer = {key: _selected(self._offer_top.get(key)) for key in {key for key, _ in pairs}}
        by_coop: dict[str, dict[str, float]] = {}
        targets: dict[Pair, tuple[float, tuple[str, ...]] | None] = {}
        for pair in pairs:
            key, cid = pair
            mine = by_coop.get(cid)
            if mine is None:
                mine = by_coop[cid] = _selected(self._coop_top.get(cid))
            targets[pair] = _target(by_offer[key].get(cid), mine.get(key))
        for pair, target in targets.items():
            self._rank(pair, target[0] if target else None)
        events: list[Event] = []
        for pair in sorted(pairs):
            key, cid = pair
            target = targets[pair]
            known = self.published.get(pair)
            if target is None:
                if known is not None:
                    events.append(Retracted(key, cid, self._reason(key, cid)))
                    self._unpublish(pair)
                continue
            score, basis = target
            rank = bisect.bisect_left(self._ranked[key], (-score, cid)) + 1
            if known is None or abs(score - known.score) >= self.rule.material_change:
                events.append(Suggested(key, cid, score, rank, basis))
                self._publish(pair, Published(score, rank, basis))
            elif known.basis != basis:
                # Stored, not announced. A rank is the pair's place when it was written:
                # the ranks of pairs that others overtake are not kept current (readers
                # count them from the stored scores), which was a write to four rows of
                # five an offer's best moved, for nobody.
                events.append(Suggested(key, cid, known.score, rank, basis, announce=False))
                known.rank, known.basis = rank, basis
        return events

    def _rank(self, pair: Pair, score: float | None) -> None:
        key, cid = pair
        old = self._selected.get(pair)
        if old == score:
            return
        ranked = self._ranked.setdefault(key, [])
        if old is not None:
            del ranked[bisect.bisect_left(ranked, (-old, cid))]
            del self._selected[pair]
        if score is not None:
            bisect.insort(ranked, (-score, cid))
            self._selected[pair] = score
        if not ranked:
            del self._ranked[key]

    def _reason(self, key: str, cooperative_id: str) -> str:
        offer = self.index.offer(key)
        if offer is None:
            return self._gone.get(key, OFFER_WITHDRAWN)
        if offer_ineligibility(offer, self.as_of):
            return OFFER_EXPIRED
        if self.is_full(key):
            return CAPACITY_REACHED
        if self.index.pair_score(key, cooperative_id, self.as_of) is None:
            return NO_LONGER_ELIGIBLE
        return SUPERSEDED

    def _publish(self, pair: Pair, published: Published) -> None:
        self.published[pair] = published
        self._published_by_offer.setdefault(pair[0], set()).add(pair[1])
        self._published_by_coop.setdefault(pair[1], set()).add(pair[0])

    def _unpublish(self, pair: Pair) -> None:
        if self.published.pop(pair, None) is not None:
            self._published_by_offer[pair[0]].discard(pair[1])
            self._published_by_coop[pair[1]].discard(pair[0])


class _Excluded:
    """The offers a cooperative may not be suggested: decided pairs and full offers."""

    def __init__(self, shortlist: Shortlist, cooperative_id: str) -> None:
        self.shortlist = shortlist
        self.blocked = shortlist._blocked_by_coop.get(cooperative_id, set())

    def __contains__(self, key: object) -> bool:
        return key in self.blocked or self.shortlist.is_full(str(key))


def _selected(top: _Top | None) -> dict[str, float]:
    """The selection of a top (other id -> score); empty for none."""
    return {other: score for score, other in top.entries[: top.limit]} if top else {}


def _target(by_offer: float | None, by_coop: float | None) -> tuple[float, tuple[str, ...]] | None:
    """A pair's score and basis from its scores in the offer's and the cooperative's
    selections (None: not in that selection)."""
    if by_offer is not None:
        return by_offer, ((OFFER, COOPERATIVE) if by_coop is not None else (OFFER,))
    if by_coop is not None:
        return by_coop, (COOPERATIVE,)
    return None


def _beats(score: float, other: str, weakest: tuple[float, str]) -> bool:
    """Whether (score, other) ranks before the weakest entry (higher score, then lower id)."""
    return (-score, other) < (-weakest[0], weakest[1])


def _put(entries: list[tuple[float, str]], other: str, score: float) -> None:
    """Put ``other`` at ``score`` into the best-first list (replacing its old entry)."""
    entries[:] = [e for e in entries if e[1] != other]
    entries.append((score, other))
    entries.sort(key=lambda e: (-e[0], e[1]))


def select(
    index: MatchIndex,
    rule: Rule,
    as_of: date,
    *,
    blocked: AbstractSet[Pair] = frozenset(),
    full: AbstractSet[str] = frozenset(),
) -> dict[Pair, tuple[float, tuple[str, ...]]]:
    """The rule computed from scratch over one province's index (the reference)."""
    chosen: dict[Pair, tuple[float, tuple[str, ...]]] = {}
    for key in index.offer_keys():
        if key in full:
            continue
        best = index.best_cooperatives(
            key, rule.per_province + len(blocked), as_of, min_score=rule.min_score, explained=False
        )
        kept = [m for m in best if (key, m.cooperative_id) not in blocked][: rule.per_province]
        for m in kept:
            chosen[(key, m.cooperative_id)] = (m.score, (OFFER,))
    for cid in index.cooperative_ids():
        excluded = {k for k, c in blocked if c == cid} | set(full)
        for m in index.best_offers(
            cid,
            rule.per_cooperative,
            as_of,
            min_score=rule.min_score,
            exclude=excluded,
            explained=False,
        ):
            known = chosen.get((m.offer_key, cid))
            chosen[(m.offer_key, cid)] = (
                m.score,
                (*known[1], COOPERATIVE) if known else (COOPERATIVE,),
            )
    return chosen
