"""A suggestion's rank as coordinators see it: its place now among the offer's pending
suggestions in its province, counted from the stored scores (the matcher does not rewrite
the rank of every suggestion another overtakes); a decided one keeps its stored rank."""

from __future__ import annotations

from sqlmodel import Session

from services.review.ranks import current_ranks
from services.storage.models import SuggestionRow, SuggestionStatus
from tests.integration.review.test_queue_and_cli import listed
from tests.support.review import (
    KOTAWARINGIN,
    KUALA_MANDOR,
    SAMBAS,
    SUNGAI_RAYA_A,
    SUNGAI_RAYA_B,
    bearer,
    logged_in,
)


def _set(seeded, village: str, partner: str = "bri", **values) -> None:
    with Session(seeded.engine) as session:
        row = session.get(SuggestionRow, seeded.sid(village, partner))
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()


def test_api_shows_each_suggestions_place_now_within_its_offer_and_province(client, seeded, tokens):
    # Seeded best first in Kalimantan Barat (61): Sungai Raya A, B, Kuala Mandor, Sambas;
    # Kotawaringin is alone in 62 for each offer. Sambas overtakes the three without its
    # stored rank (4) or theirs changing, as the matcher leaves them.
    _set(seeded, SAMBAS, score=95.0)
    items = {
        (i["village_code"], i["partner_id"]): i
        for i in listed(client, tokens["admin"], per_page=100)["items"]
    }
    expected = {
        "bri": {SAMBAS: 1, SUNGAI_RAYA_A: 2, SUNGAI_RAYA_B: 3, KUALA_MANDOR: 4, KOTAWARINGIN: 1},
        # Bulog's Sambas kept its score: still behind the other three.
        "bulog": {SUNGAI_RAYA_A: 1, SUNGAI_RAYA_B: 2, KUALA_MANDOR: 3, SAMBAS: 4, KOTAWARINGIN: 1},
    }
    shown = {
        partner: {village: items[(village, partner)]["rank"] for village in ranks}
        for partner, ranks in expected.items()
    }
    assert shown == expected
    detail = client.get(
        f"/api/v1/suggestions/{seeded.sid(SUNGAI_RAYA_A)}", headers=bearer(tokens["admin"])
    ).json()
    assert detail["suggestion"]["rank"] == 2
    same_offer = {s["village_code"]: s["rank"] for s in detail["same_offer"]}
    assert same_offer[SAMBAS] == 1 and same_offer[KUALA_MANDOR] == 4
    assert same_offer[KOTAWARINGIN] == 1  # first in its own province


def test_equal_scores_rank_by_cooperative_id_and_decided_ones_step_aside(seeded):
    _set(seeded, SUNGAI_RAYA_B, score=90.0)  # level with Sungai Raya A
    _set(seeded, SUNGAI_RAYA_A, status=SuggestionStatus.APPROVED, rank=7)
    with Session(seeded.engine) as session:
        rows = [session.get(SuggestionRow, seeded.sid(v)) for v in (SUNGAI_RAYA_A, SUNGAI_RAYA_B)]
        rows.append(session.get(SuggestionRow, seeded.sid(KUALA_MANDOR)))
        ranks = current_ranks(session, [r for r in rows if r is not None])
    # The approved one is not pending: not counted, and not ranked (its stored rank stands).
    assert seeded.sid(SUNGAI_RAYA_A) not in ranks
    assert ranks[seeded.sid(SUNGAI_RAYA_B)] == 1
    assert ranks[seeded.sid(KUALA_MANDOR)] == 2
    _set(seeded, SUNGAI_RAYA_A, status=SuggestionStatus.PENDING)
    with Session(seeded.engine) as session:
        a, b = (session.get(SuggestionRow, seeded.sid(v)) for v in (SUNGAI_RAYA_A, SUNGAI_RAYA_B))
        assert a is not None and b is not None
        ranks = current_ranks(session, [a, b])
    # Level at 90: the lower cooperative id first.
    first, second = sorted([a, b], key=lambda r: r.cooperative_id)
    assert (ranks[first.suggestion_id], ranks[second.suggestion_id]) == (1, 2)


def test_detail_page_shows_the_place_now(app, seeded):
    _set(seeded, KUALA_MANDOR, score=99.0)  # stored rank 3, first now
    page = logged_in(app, "admin").get(f"/suggestions/{seeded.sid(KUALA_MANDOR)}").text
    assert "peringkat 1 untuk tawaran ini di provinsinya" in page
    page = logged_in(app, "admin").get(f"/suggestions/{seeded.sid(SUNGAI_RAYA_A)}").text
    assert "peringkat 2 untuk tawaran ini di provinsinya" in page
