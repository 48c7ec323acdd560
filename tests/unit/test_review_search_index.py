"""The word index behind the queue's search: what it finds, and what it costs the process."""

from __future__ import annotations

import gc

from services.review.search import _WordIndex


def test_a_frozen_word_index_finds_by_words_and_gives_the_collector_nothing_to_walk():
    index = _WordIndex()
    index.add("KDMP-1", "Koperasi Désa Sungai Raya")
    index.add("KDMP-2", "Koperasi Desa Kuala Dua")
    index.add("KDMP-3", "Koperasi Sungai Kakap")
    index.freeze()
    assert index.find(["sungai"]) == ["KDMP-1", "KDMP-3"]
    assert index.find(["koperasi", "desa"]) == ["KDMP-1", "KDMP-2"]
    assert index.find(["kual"]) == ["KDMP-2"]  # a word it begins
    assert index.find(["kakap", "dua"]) == []
    # Each word's entries are plain numbers in tuples: untracked by the garbage collector
    # once it has seen them, so a full collection does not walk 100,000 of them.
    gc.collect()
    assert index.postings and not any(gc.is_tracked(p) for p in index.postings.values())
