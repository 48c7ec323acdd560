"""How matcher processes split the provinces: by work, the same in every process."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from schemas import internal
from services.matching.ownership import province_weights, split


def test_two_processes_take_about_half_the_villages_each() -> None:
    weights = province_weights(tuple(internal.provinces()))
    assert sum(weights.values()) == 83_762
    for members in (2, 3, 4):
        groups = split(weights, members)
        villages = [sum(weights[p] for p in group) for group in groups]
        assert min(villages) / max(villages) > 0.9, (members, villages)
        # A count split would put Sumatra and Java in one process.
        assert max(villages) < 0.55 * sum(weights.values())


@given(
    st.dictionaries(
        st.from_regex(r"[1-9][0-9]", fullmatch=True), st.integers(1, 10_000), min_size=1
    ),
    st.integers(1, 6),
)
def test_every_province_in_exactly_one_group_whatever_the_order(
    weights: dict[str, int], members: int
) -> None:
    groups = split(weights, members)
    assert len(groups) == members
    assert sorted(p for group in groups for p in group) == sorted(weights)
    shuffled = list(weights.items())
    random.Random(members).shuffle(shuffled)
    assert split(dict(shuffled), members) == groups  # every process computes the same
