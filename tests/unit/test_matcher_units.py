"""The matcher's batches as units of work, and its inbox: an offer or a decision that comes
while profiles are applied waits for one unit of profiles, not for the whole batch."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from schemas import internal
from services.matching.service import BULK_UNIT, in_turn, units_of_work
from services.platform.inbox import Inbox


def msg(subject: str) -> Any:
    return SimpleNamespace(subject=subject)


def test_offers_go_first_each_province_its_own_unit_and_profiles_in_small_units() -> None:
    profiles = [msg(internal.cooperative_changed(p)) for p in ("31", "32") * BULK_UNIT]
    offer_32 = msg(internal.offer_changed("32"))
    decision_33 = msg(internal.pair_decided("33"))

    units = units_of_work([*profiles[:3], offer_32, *profiles[3:], decision_33])

    # Province 32's profiles go with its offer (one transaction sees the province whole).
    in_32 = [p for p in profiles if p.subject.split(".")[2] == "32"]
    assert units[0] == [in_32[0], offer_32, *in_32[1:]]
    assert units[1] == [decision_33]
    rest = [m for unit in units[2:] for m in unit]
    assert rest == [p for p in profiles if p.subject.split(".")[2] == "31"]
    assert all(len(unit) <= BULK_UNIT for unit in units[2:])


def test_each_unit_of_profiles_holds_one_province_in_the_order_delivered() -> None:
    # Delivered interleaved, as the provinces' consumers deliver them side by side.
    each = BULK_UNIT * 3 // 5  # together more than a unit, each less
    profiles = [msg(internal.cooperative_changed(p)) for p in ("31", "32", "33") * each]

    units = units_of_work(profiles)

    assert len(units) == 3
    for unit in units:
        province = unit[0].subject.split(".")[2]
        assert unit == [p for p in profiles if p.subject.split(".")[2] == province]


def urgent(inbox: Inbox) -> bool:
    return inbox.urgent_waiting  # read afresh each time (mypy narrows a property)


async def test_the_inbox_knows_when_an_urgent_message_waits() -> None:
    inbox = Inbox()
    profile, offer = msg("p"), msg("o")
    inbox.put(profile)
    assert not urgent(inbox)
    inbox.put(offer, urgent=True)
    assert urgent(inbox)
    assert await inbox.take(1) == [offer]  # urgent first
    assert not urgent(inbox)
    inbox.put(offer, urgent=True)
    assert await inbox.take(10) == [offer, profile]
    assert not urgent(inbox)


async def test_an_offer_arriving_between_units_goes_before_the_profiles_left() -> None:
    inbox = Inbox()
    profiles = [msg(internal.cooperative_changed("31")) for _ in range(2 * BULK_UNIT)]
    offer_32 = msg(internal.offer_changed("32"))
    units = units_of_work([offer_32, *profiles])
    assert len(units) == 3  # the offer's province, then two units of profiles

    applied = []
    for unit in in_turn(units, inbox):
        applied.append(unit)
        if len(applied) == 2:  # an offer arrives while the first profiles are applied
            late = msg(internal.offer_changed("33"))
            inbox.put(late, urgent=True)

    assert applied == units[:2]
    assert await inbox.take(10 * BULK_UNIT) == [late, *units[2]]


def test_without_an_urgent_message_every_unit_is_applied_in_turn() -> None:
    units = units_of_work([msg(internal.cooperative_changed("31")) for _ in range(3 * BULK_UNIT)])
    assert list(in_turn(units, Inbox())) == units


async def test_a_new_offer_goes_before_the_provinces_left_of_an_earlier_one() -> None:
    """A national offer is a unit per province: an offer published while its first
    provinces are applied waits for one of them, not for all 38."""
    inbox = Inbox()
    national = [msg(internal.offer_changed(p)) for p in ("31", "32", "33", "34")]
    units = units_of_work(national)

    applied = []
    for unit in in_turn(units, inbox):
        applied.append(unit)
        if len(applied) == 2:
            late = msg(internal.offer_changed("35"))
            inbox.put(late, urgent=True)

    assert applied == units[:2]
    assert inbox.urgent_waiting  # the provinces left are still urgent, behind the new offer
    assert await inbox.take(10) == [late, *national[2:]]


async def test_units_holding_a_decision_are_never_sent_back() -> None:
    """A decision's order matters (a rejection, then its reopening): what remains of a
    batch holding one is applied in turn even when an offer arrives."""
    inbox = Inbox()
    units = units_of_work(
        [msg(internal.offer_changed(p)) for p in ("31", "33")] + [msg(internal.pair_decided("32"))]
    )
    applied = []
    for unit in in_turn(units, inbox):
        applied.append(unit)
        inbox.put(msg(internal.offer_changed("35")), urgent=True)
    assert applied == units
