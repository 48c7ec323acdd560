"""Term resolution: free text to canonical vocabulary terms.

Each window of words is resolved once and cached: exact variant first (longest window
wins, so "kelapa sawit" is oil palm, not coconut plus something), then a light Indonesian
affix fallback ("menjual" -> "jual"), then rapidfuzz ``ratio`` against variants with the
same number of words, above ``FUZZY_CUTOFF``. ``ratio`` (not ``WRatio``) on equal word
counts is what keeps look-alikes apart: "kopi"/"kopra" score 67, "kelapa"/"kelapa sawit"
are never compared, "sapi"/"sawi" 75, "kakao"/"kakap" 80.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from matcher.normalise import STOPWORDS, tokens
from matcher.vocabulary import vocabulary

# Chosen on tests/unit/matcher/test_matcher_resolve.py: every listed typo resolves at 86, and no
# look-alike pair scores above 83 ("kelapa sawah"/"kelapa sawit", "kepala"/"kelapa").
FUZZY_CUTOFF = 86.0
# Shorter words are abbreviations or exact words ("usp", "kur", "tbs", "lada", "kopi"):
# one wrong letter changes the meaning, so they are never fuzzy-matched.
FUZZY_MIN_CHARS = 5

_PREFIXES = (
    "meng",
    "meny",
    "mem",
    "men",
    "me",
    "peng",
    "peny",
    "pem",
    "pen",
    "per",
    "pe",
    "ber",
    "di",
    "ter",
)
_SUFFIXES = ("nya", "kan", "an")


@dataclass(frozen=True, slots=True)
class Hit:
    """One canonical term found in a text: which words, which term, how sure (0-100)."""

    term: str
    phrase: str
    score: float


def _exact(phrase: str) -> tuple[str, ...]:
    return vocabulary().variants.get(phrase, ())


@lru_cache(maxsize=65536)
def _stem(word: str) -> tuple[str, ...]:
    """Strip common Indonesian affixes until a vocabulary variant appears, or give up."""
    candidates = [word]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            candidates.append(word[: -len(suffix)])
    for stem in list(candidates):
        for prefix in _PREFIXES:
            if stem.startswith(prefix) and len(stem) - len(prefix) >= 3:
                candidates.append(stem[len(prefix) :])
    for stem in candidates[1:]:
        found = _exact(stem)
        if found:
            return found
    return ()


@lru_cache(maxsize=65536)
def _fuzzy(phrase: str, words: int) -> tuple[tuple[str, ...], str, float] | None:
    """Best variant with the same word count above the cut-off: (terms, variant, score)."""
    if len(phrase.replace(" ", "")) < FUZZY_MIN_CHARS:
        return None
    choices = _fuzzy_choices(words)
    if not choices:
        return None
    found = process.extractOne(
        phrase, choices, scorer=fuzz.ratio, processor=None, score_cutoff=FUZZY_CUTOFF
    )
    if found is None:
        return None
    variant, score, _ = found
    return _exact(variant), variant, float(score)


@lru_cache(maxsize=16)
def _fuzzy_choices(words: int) -> tuple[str, ...]:
    return tuple(
        c for c in vocabulary().choices_by_words.get(words, ()) if len(c) >= FUZZY_MIN_CHARS - 1
    )


@lru_cache(maxsize=1 << 14)  # small: see profile._match_text
def resolve(text: str) -> tuple[Hit, ...]:
    """All canonical terms in ``text``, in order, each once (its best hit).

    At each word, the longest variant starting there is found by extending the phrase
    word by word while it still starts a variant. What follows depends on that variant
    and the word after it (or, when no variant starts there, on the word and the next):
    those are the cache keys, as texts are made of the same few phrases. (Keyed on the
    whole window of ``max_words`` + 1 words, the cache missed on most windows of free
    text.) The loop is inlined: it runs once per word of every profile.
    """
    toks = tokens(text)
    vocab = vocabulary()
    prefixes, variants, max_words = vocab.prefixes, vocab.variants, vocab.max_words
    hits: list[Hit] = []
    i, count = 0, len(toks)
    while i < count:
        word = phrase = toks[i]
        longest = 0
        if phrase in prefixes:
            words, limit = 1, min(max_words, count - i)
            while True:
                if phrase in variants:
                    longest = words
                if words == limit:
                    break
                phrase = f"{phrase} {toks[i + words]}"
                if phrase not in prefixes:
                    break
                words += 1
        if longest:
            step, found = _resolve_variant_at(toks[i : i + longest + 1], longest)
        elif word in STOPWORDS or word.isdigit():
            i += 1  # as _resolve_word_at has it, without the call: half of all words
            continue
        else:
            step, found = _resolve_word_at(toks[i : i + 2])
        if found:
            hits.extend(found)
        i += step
    best: dict[str, Hit] = {}
    for hit in hits:
        if hit.term not in best or hit.score > best[hit.term].score:
            best[hit.term] = hit
    return tuple(best.values())


@lru_cache(maxsize=1 << 16)
def _resolve_variant_at(window: tuple[str, ...], n: int) -> tuple[int, tuple[Hit, ...]]:
    """The window starts with an n-word variant and holds at most the word after it."""
    phrase = " ".join(window[:n])
    terms = _exact(phrase)
    # A typo in the word after an exact match may make a longer variant
    # ("kelapa sawet" is oil palm, not coconut): try the longer window fuzzily.
    if n < len(window) and window[n] not in STOPWORDS:
        longer = " ".join(window[: n + 1])
        fuzzy = _fuzzy(longer, n + 1)
        if fuzzy is not None and fuzzy[1].startswith(phrase + " "):
            return n + 1, tuple(Hit(t, longer, fuzzy[2]) for t in fuzzy[0])
    return n, tuple(Hit(t, phrase, 100.0) for t in terms)


@lru_cache(maxsize=1 << 16)
def _resolve_word_at(window: tuple[str, ...]) -> tuple[int, tuple[Hit, ...]]:
    """No variant starts at the window's first word; the window holds at most two words."""
    word = window[0]
    if word in STOPWORDS or word.isdigit():
        return 1, ()
    stemmed = _stem(word)
    if stemmed:
        return 1, tuple(Hit(t, word, 100.0) for t in stemmed)
    if len(window) > 1 and window[1] not in STOPWORDS:
        pair = f"{word} {window[1]}"
        fuzzy = _fuzzy(pair, 2)
        if fuzzy is not None:
            return 2, tuple(Hit(t, pair, fuzzy[2]) for t in fuzzy[0])
    fuzzy = _fuzzy(word, 1)
    if fuzzy is not None:
        return 1, tuple(Hit(t, word, fuzzy[2]) for t in fuzzy[0])
    return 1, ()


def resolve_all(texts: tuple[str, ...] | list[str]) -> tuple[Hit, ...]:
    """Terms of several phrases (a list field), best hit per term."""
    best: dict[str, Hit] = {}
    for text in texts:
        for hit in resolve(text):
            if hit.term not in best or hit.score > best[hit.term].score:
                best[hit.term] = hit
    return tuple(best.values())
