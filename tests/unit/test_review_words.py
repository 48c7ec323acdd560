"""Words and numbers the dashboard shows: plain explanations, the score, local times, and
which paths a form may return to."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.platform.localtime import viewer_zone, when
from services.platform.redirects import local_path
from services.review.explanation import plain_explanation
from services.review.labels import score_text

MATCHED = [
    {
        "name": "business_unit",
        "weight": 0.3,
        "score": 100,
        "detail": '"pengolahan" → pengolahan hasil (100)',
    },
    {"name": "commodity", "weight": 0.3, "score": 100, "detail": '"merica" → lada (100)'},
    {
        "name": "needs",
        "weight": 0.2,
        "score": 100,
        "detail": '"offtaker" → penyerapan hasil (offtake) (100); "merica" → lada (100)',
    },
    {
        "name": "offer_type",
        "weight": 0.1,
        "score": 100,
        "detail": "offtake sesuai kebutuhan yang dinyatakan",
    },
    {"name": "text", "weight": 0.1, "score": 56, "detail": "kemiripan teks bebas"},
]
MISSING = [
    {
        "name": "business_unit",
        "weight": 0.4,
        "score": 0,
        "detail": "tidak ada unit usaha yang sesuai (dicari: gerai sembako dan simpan pinjam)",
    },
    {
        "name": "commodity",
        "weight": 0.0,
        "score": 0,
        "detail": "penawaran tidak menyebut komoditas",
    },
    {
        "name": "needs",
        "weight": 0.3,
        "score": 20,
        "detail": "kebutuhan koperasi tidak sesuai: pelatihan dan pendampingan",
    },
    {
        "name": "offer_type",
        "weight": 0.2,
        "score": 30,
        "detail": "supply kurang sesuai dengan profil koperasi",
    },
]


@pytest.mark.parametrize("components", [MATCHED, MISSING])
def test_explanations_read_as_plain_sentences(components):
    text = plain_explanation(components)
    for debug in ("→", '"', "_", "offtake", "supply", "kemiripan teks", "bobot", "dari 100"):
        assert debug not in text
    assert 1 <= text.count(".") <= 2


def test_explanation_says_what_matches_and_what_is_missing():
    assert plain_explanation(MATCHED) == (
        "Koperasi memiliki unit usaha pengolahan hasil dan komoditas lada yang dicari tawaran "
        "ini; kebutuhan yang disebut koperasi (penyerapan hasil dan lada) juga sesuai."
    )
    text = plain_explanation(MISSING)
    assert "Yang kurang: unit usaha gerai sembako dan simpan pinjam belum ada" in text
    assert "komoditas" not in text, "a component of weight 0 is left out"


def test_one_rounding_for_the_score_everywhere():
    assert [score_text(s) for s in (99.6, 99.5, 99.4, 62.45, 100.0)] == [
        "100",
        "100",
        "99",
        "62",
        "100",
    ]


def test_times_in_the_viewers_zone_by_province():
    at = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    zones = {
        scope: when(at, viewer_zone(SimpleNamespace(scope=[scope])))
        for scope in ("61.12", "64", "73.71.01", "91")
    }
    assert zones == {
        "61.12": "01-12-2026 08:00 WIB",
        "64": "01-12-2026 09:00 WITA",
        "73.71.01": "01-12-2026 09:00 WITA",
        "91": "01-12-2026 10:00 WIT",
    }
    assert when(at, viewer_zone(SimpleNamespace(scope=[]))).endswith("WIB")  # an admin


@pytest.mark.parametrize(
    "value",
    ["//evil.example", "/\\evil.example", "https://evil.example/", "/\t/evil.example", "evil", ""],
)
def test_only_local_paths_are_followed(value):
    assert local_path(value, "/x") == "/x"


def test_local_paths_keep_their_query():
    assert local_path("/?regency=61.12&page=2") == "/?regency=61.12&page=2"
