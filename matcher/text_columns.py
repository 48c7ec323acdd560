"""Free-text similarity of one offer against many cooperatives, with a cheap upper bound.

The free-text component is rapidfuzz's ``token_set_ratio``, which depends on the two
texts' sets of words only: it splits both, and compares the words they share (``sect``)
and the words each has alone (``ab`` for the offer, ``ba`` for the cooperative), each
group sorted and joined with spaces. Its value is the best of

- ``ratio(sect + ab, sect + ba)``: an Indel distance between the joined ``ab`` and ``ba``
  over the sum of both lengths,
- ``ratio(sect, sect + ab)`` and ``ratio(sect, sect + ba)``: lengths only,

or 100 when one set holds the other, 0 when either is empty.

So each cooperative's text is kept as its sorted distinct words (``token_set_ratio`` on it
is the same number as on the text, and rapidfuzz spends half its time sorting words),
and beside them, in numpy columns, the numbers a bound needs: how many words, how many
characters, and how many of each character. For an offer, the shared words of every
cooperative come from the offer's words' postings; the lengths follow, and the longest
common subsequence of ``ab`` and ``ba`` is at most, character by character, the fewer
occurrences on either side. That bounds the Indel ratio from above, and the two length
ratios are exact: ``bounds`` is at least ``token_set_ratio`` for every cooperative, and
equal to it where the shortcut values (0, 100) apply. A caller looking for the best few
computes the exact value only where the bound can still compete.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

# Character columns of the histograms: digits and ASCII letters (all that normalised text
# holds), then one column for any other character. Lumping characters together only
# loosens the bound.
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_COLUMN = {ch: i for i, ch in enumerate(_ALPHABET)}
_OTHER = len(_ALPHABET)
# Added to every bound: rapidfuzz's float arithmetic may differ from numpy's in the last
# bits, never by this much.
_BOUND_EPSILON = 1e-9


def _histogram(word: str) -> list[int]:
    counts = [0] * (_OTHER + 1)
    for ch in word:
        counts[_COLUMN.get(ch, _OTHER)] += 1
    return counts


class TextColumns:
    """The free-text words of each row (a cooperative), as rapidfuzz and the bound use
    them."""

    def __init__(self, rows: Iterable[Iterable[str]]) -> None:
        numbers: dict[str, int] = {}
        texts: list[str] = []
        flat: list[int] = []
        ends: list[int] = []
        for words in rows:
            distinct = sorted(set(words))
            texts.append(" ".join(distinct))
            flat.extend([numbers.setdefault(w, len(numbers)) for w in distinct])
            ends.append(len(flat))
        self._texts = np.array(texts, dtype=object)  # gathered many at a time
        self._numbers = numbers
        vocabulary = list(numbers)  # in number order
        word_chars = np.array([len(w) for w in vocabulary], dtype=np.int64)
        word_counts = np.array([_histogram(w) for w in vocabulary], dtype=np.int32).reshape(
            len(vocabulary), _OTHER + 1
        )
        words = np.array(flat, dtype=np.intp)
        sizes = np.diff([0, *ends])
        row_of = np.repeat(np.arange(len(texts), dtype=np.intp), sizes)
        self._words = np.bincount(row_of, minlength=len(texts)).astype(np.int64)
        self._chars = np.bincount(row_of, weights=word_chars[words], minlength=len(texts))
        self._counts = np.zeros((len(texts), _OTHER + 1), dtype=np.int32)
        for column in range(_OTHER + 1):  # column by column: a row per word would be large
            self._counts[:, column] = np.bincount(
                row_of, weights=word_counts[words, column], minlength=len(texts)
            )
        # Postings: the rows of each word, for the words an offer names.
        order = np.argsort(words, kind="stable")
        self._posting_rows = row_of[order]
        self._posting_ends = np.cumsum(np.bincount(words, minlength=len(vocabulary)))

    def __len__(self) -> int:
        return len(self._texts)

    def similarities(self, offer_text: str, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        """``text_similarity(offer_text, text)`` of each row, in one call."""
        if not offer_text or not len(rows):
            return np.zeros(len(rows))
        texts = self._texts[rows].tolist()
        scores: NDArray[np.float64] = process.cdist(
            [offer_text], texts, scorer=fuzz.token_set_ratio, dtype=np.float64
        )[0]
        scores[self._words[rows] == 0] = 0.0  # text_similarity: nothing to compare
        return scores

    def bounds(
        self, offer_text: str, rows: NDArray[np.intp]
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """An upper bound of ``text_similarity(offer_text, text)`` for each row, and
        whether it is the exact value."""
        offer_words = sorted(set(offer_text.split()))
        if not offer_words or not len(rows):
            return np.zeros(len(rows)), np.ones(len(rows), dtype=bool)
        offer_chars = sum(len(w) for w in offer_words)
        offer_counts = np.sum([_histogram(w) for w in offer_words], axis=0)
        # Shared words and their characters, for every row, from the postings.
        shared = np.zeros(len(self._texts), dtype=np.int64)
        shared_chars = np.zeros(len(self._texts), dtype=np.int64)
        for word in offer_words:
            number = self._numbers.get(word)
            if number is None:
                continue
            start = self._posting_ends[number - 1] if number else 0
            posting = self._posting_rows[start : self._posting_ends[number]]
            shared[posting] += 1
            shared_chars[posting] += len(word)
        sect_words, sect_chars = shared[rows], shared_chars[rows]
        row_words = self._words[rows]
        ab_words = len(offer_words) - sect_words
        ba_words = row_words - sect_words
        # Joined with spaces: n words take n - 1 of them.
        ab_len = offer_chars - sect_chars + np.maximum(ab_words - 1, 0)
        ba_len = self._chars[rows].astype(np.int64) - sect_chars + np.maximum(ba_words - 1, 0)
        sect_len = sect_chars + np.maximum(sect_words - 1, 0)
        joint = (sect_len != 0).astype(np.int64)
        sect_ab_len = sect_len + joint + ab_len
        sect_ba_len = sect_len + joint + ba_len
        # The shared words' characters are on both sides: min(a - s, b - s) = min(a, b) - s.
        common = np.minimum(self._counts[rows], offer_counts).sum(axis=1) - sect_chars
        common += np.maximum(np.minimum(ab_words, ba_words) - 1, 0)  # spaces
        distance = ab_len + ba_len - 2 * common
        lensum = sect_ab_len + sect_ba_len
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = np.where(lensum > 0, 100 - 100 * distance / lensum, 100.0)
            with_sect = sect_len != 0
            ab_ratio = 100 - 100 * (joint + ab_len) / (sect_len + sect_ab_len)
            ba_ratio = 100 - 100 * (joint + ba_len) / (sect_len + sect_ba_len)
        bound = np.where(with_sect, np.maximum(bound, np.maximum(ab_ratio, ba_ratio)), bound)
        bound = np.minimum(bound + _BOUND_EPSILON, 100.0)
        # The shortcuts: exact values.
        empty = row_words == 0
        within = (sect_words > 0) & ((ab_words == 0) | (ba_words == 0))
        bound[within] = 100.0
        bound[empty] = 0.0
        return bound, empty | within
