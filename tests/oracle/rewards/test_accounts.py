"""Address spelling: one lowercase form, bad addresses named, not merged."""

from __future__ import annotations

import pytest

from depinkit.oracle.rewards import RewardsError, canonical_address
from depinkit.oracle.rewards.accounts import canonical_addresses, canonical_owners, sorted_by_key

A, B = "0x" + "aa" * 20, "0x" + "bb" * 20


def test_one_address_any_case() -> None:
    assert canonical_address("0X" + "AA" * 20) == A
    assert canonical_address("0x" + "aA" * 20) == A


@pytest.mark.parametrize(
    "bad", ["", "0x", "aa" * 21, "0x" + "aa" * 19, "0x" + "gg" * 20, 5, None, b"\xaa" * 20]
)
def test_bad_single_addresses(bad: object) -> None:
    with pytest.raises(RewardsError):
        canonical_address(bad)


def test_many_at_once() -> None:
    assert canonical_addresses([]) == []
    assert canonical_addresses(["0x" + "BB" * 20, A]) == [B, A]


@pytest.mark.parametrize(
    "bad",
    [
        [A, 5],  # not a string: the join fails
        [A, "0x12"],
        [A + "\n" + B],  # two addresses smuggled in one
        [A, ""],
        ["0x" + "aa" * 20 + "\u0130"],  # lowercases to more characters
    ],
)
def test_many_with_a_bad_one(bad: list[object]) -> None:
    with pytest.raises(RewardsError, match="address"):
        canonical_addresses(bad)


def test_owner_views() -> None:
    assert canonical_owners({A.upper().replace("0X", "0x"): B, A: B}) == {A: B}
    with pytest.raises(RewardsError, match="different owners"):
        canonical_owners({A.upper().replace("0X", "0x"): B, A: A})


def test_sorted_by_key() -> None:
    assert list(sorted_by_key({B: 1, A: 2})) == [A, B]
