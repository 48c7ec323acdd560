"""Finding cooperatives and villages by name or id for the queue's search box.

Names are compared without case or accents, word by word; a word that is not in the
vocabulary is matched to its nearest words (rapidfuzz), so a typo or two still finds
"Sungai Raya". Village names come from the region table (loaded once); cooperative names
from the database, rebuilt when the cooperative table changes. The answer is a set of
cooperative ids and village codes the queue filters on, which keeps the search out of SQL
(SQLite and PostgreSQL disagree about accents and fuzzy matching).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

from cachetools import LRUCache
from rapidfuzz import fuzz, process
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from schemas.regions import region_table
from services.storage.models import CooperativeRow

log = logging.getLogger(__name__)

# At most this many cooperatives and villages narrow the queue (the SQL IN list).
MAX_HITS = 1000
# How often the cooperative names are checked for changes.
RECHECK_SECONDS = 30.0
WORD = re.compile(r"[a-z0-9]+")
REGION_CODE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")


def normalize(text: str) -> str:
    """Lower case, accents removed: "Désa  Sungai-Raya" -> "desa sungai raya"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(WORD.findall(plain.lower()))


def _similar(word: str, vocabulary: list[str]) -> list[str]:
    """The vocabulary's words close to ``word``: a prefix of it, or a typo or two away."""
    found = [word]
    if len(word) >= 3:  # words it begins (the vocabulary is sorted: one range)
        start = bisect_left(vocabulary, word)
        found += vocabulary[start : bisect_left(vocabulary, word + "\uffff", start)]
    if len(word) >= 4:
        cutoff = 85 if len(word) < 7 else 80
        found += [
            w
            for w, _, _ in process.extract(
                word, vocabulary, scorer=fuzz.ratio, score_cutoff=cutoff, limit=20
            )
        ]
    return found


@dataclass
class _WordIndex:
    """Entries (keys) found by the words of their names."""

    keys: list[str] = field(default_factory=list)
    postings: dict[str, tuple[int, ...]] = field(default_factory=dict)  # set by ``freeze``
    vocabulary: list[str] = field(default_factory=list)
    _adding: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    def add(self, key: str, name: str) -> None:
        index = len(self.keys)
        self.keys.append(key)
        for word in normalize(name).split():
            self._adding[word].add(index)

    def freeze(self) -> _WordIndex:
        """Ready to search. Each word's entries become a tuple of numbers, which the
        garbage collector stops looking at: as sets, the national names' 98,000 objects
        made every full collection of the process 60 ms longer (a request waits for it)."""
        self.postings = {word: tuple(entries) for word, entries in self._adding.items()}
        self._adding = defaultdict(set)
        self.vocabulary = sorted(self.postings)
        return self

    def find(self, words: list[str]) -> list[str]:
        hits: set[int] | None = None
        for word in words:
            matched: set[int] = set()
            similar_words = [word] if word in self.postings else _similar(word, self.vocabulary)
            for similar in similar_words:
                matched.update(self.postings.get(similar, ()))
            hits = matched if hits is None else hits & matched
            if not hits:
                return []
        return [self.keys[i] for i in sorted(hits or ())[:MAX_HITS]]


@lru_cache(maxsize=1)
def _villages() -> _WordIndex:
    index = _WordIndex()
    for village in region_table().villages():
        index.add(village.code, village.name)
    return index.freeze()


class _Cooperatives:
    """The cooperative names of one database, rebuilt when the table changes: the first
    time while the search waits, later in the background (1.5 s for 83,762 names), the
    searches meanwhile using the names as they were."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.index = _WordIndex().freeze()
        self.ids: dict[str, str] = {}  # lower-case id -> id
        self.signature: tuple[object, ...] | None = None
        self.checked = 0.0
        self.rebuilding = False
        self.hits: LRUCache[str, Hits] = LRUCache(maxsize=256)  # of this index

    def current(self, engine: Engine) -> _Cooperatives:
        with self.lock:
            if self.rebuilding or time.monotonic() - self.checked < RECHECK_SECONDS:
                return self
            with Session(engine) as session:
                signature = tuple(
                    session.exec(select(func.count(), func.max(CooperativeRow.updated_at))).one()
                )
            self.checked = time.monotonic()
            if signature == self.signature:
                return self
            if self.signature is None:
                self._rebuild(engine, signature)  # nothing to search yet: wait for it
                return self
            self.rebuilding = True
        threading.Thread(target=self._rebuild, args=(engine, signature), daemon=True).start()
        return self

    def found(self, words: list[str]) -> Hits:
        """A search's hits, kept while the names are current: paging through the results,
        or coming back to them, does not match the words again (20-50 ms nationally)."""
        key = " ".join(words)
        with self.lock:
            index, kept = self.index, self.hits
            hits = kept.get(key)
        if hits is None:
            hits = Hits(index.find(words), _villages().find(words))
            with self.lock:
                kept[key] = hits
        return hits

    def _rebuild(self, engine: Engine, signature: tuple[object, ...]) -> None:
        try:
            index = _WordIndex()
            ids = {}
            with Session(engine) as session:
                for cooperative_id, name in session.exec(
                    select(CooperativeRow.cooperative_id, CooperativeRow.name)
                ):
                    index.add(cooperative_id, name)
                    ids[cooperative_id.lower()] = cooperative_id
            with self.lock:
                self.index, self.ids, self.signature = index.freeze(), ids, signature
                self.hits = LRUCache(maxsize=256)
        except Exception:  # the names as they were stay; tried again at the next check
            if self.signature is None:
                raise
            log.warning("rebuilding the cooperative names for search failed", exc_info=True)
        finally:
            with self.lock:
                self.rebuilding = False


_by_engine: dict[int, _Cooperatives] = {}
_by_engine_lock = threading.Lock()


def _cooperatives(engine: Engine) -> _Cooperatives:
    with _by_engine_lock:
        found = _by_engine.setdefault(id(engine), _Cooperatives())
    return found.current(engine)


@dataclass
class Hits:
    cooperative_ids: list[str]
    village_codes: list[str]
    region_prefix: str | None = None  # a typed region code: everything inside it


def search(engine: Engine, query: str) -> Hits:
    """Cooperatives and villages whose name or id matches ``query``."""
    text = query.strip()
    if REGION_CODE.match(text):
        return Hits([], [], region_prefix=text)
    cooperatives = _cooperatives(engine)
    exact = cooperatives.ids.get(text.lower())
    if exact:
        return Hits([exact], [])
    words = normalize(text).split()
    if not words:
        return Hits([], [])
    return cooperatives.found(words)
