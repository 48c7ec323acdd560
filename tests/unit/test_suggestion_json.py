"""The matcher writes a suggestion's announcement as JSON itself (no model per message):
byte for byte what the contract's ``MatchSuggestion`` writes, for real rows of the matcher."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from matcher.shortlist import Rule, Shortlist, Suggested
from matcher.values import cooperative_value, offer_value
from schemas import MatchSuggestion, suggestion_id
from services.demo.synthetic import kalbar_demo
from services.matching import repository
from services.matching.repository import _event, _suggestion_row
from services.storage.types import utcnow


def test_announcement_json_is_the_models() -> None:
    profiles, offers = kalbar_demo()
    as_of = date(2026, 6, 1)
    shortlist = Shortlist("61", Rule(), as_of)
    for profile in profiles[:300]:
        shortlist.upsert_cooperative(cooperative_value(profile))
    for offer in offers[:40]:
        shortlist.upsert_offer(offer_value(offer))
    events = [e for e in shortlist.settle() if isinstance(e, Suggested)]
    assert len(events) > 50
    times = [utcnow(), datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=7)))]
    for n, event in enumerate(events):
        partner_id, offer_id = repository.split_key(event.offer_key)
        sid = suggestion_id(partner_id, offer_id, event.cooperative_id)
        row = _suggestion_row(shortlist, event, sid, times[n % 2], as_of)
        if n % 3 == 0:
            row["summary"] = ""  # stored empty, announced as null
        model = MatchSuggestion.model_validate(
            {**row, "created_at": row["updated_at"], "summary": row["summary"] or None}
        )
        assert _event(row) == model.model_dump_json()
        assert MatchSuggestion.model_validate_json(_event(row)) == model
