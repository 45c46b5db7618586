"""Cumulative totals per owner and their Merkle tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core import merkle
from depinkit.oracle.rewards import EMPTY_ROOT, Ledger, LedgerError, credit_epoch

from .strategies import DEVICES, OWNERS, owners_of

A, B, C = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
X, Y, Z = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20


def test_worked_example() -> None:
    """Continues the allocation example of docs/rewards.md."""
    ledger = credit_epoch(
        previous={X: 500, Z: 42},
        rewards={A: 140_000, B: 280_001, C: 300_002},
        owners={A: X, B: X, C: Y, "0x" + "dd" * 20: Z},
    )
    assert ledger.credited == {X: 420_001, Y: 300_002}
    assert ledger.totals == {X: 420_501, Y: 300_002, Z: 42}
    assert ledger.previous_total == 542
    assert ledger.total == 720_545
    assert ledger.root == merkle.root([(X, 420_501), (Y, 300_002), (Z, 42)])
    claim = ledger.claim(X.upper().replace("0X", "0x"))
    assert claim.account == X and claim.cumulative == "420501"
    proof = [bytes.fromhex(p[2:]) for p in claim.proof]
    assert merkle.verify(ledger.root, X, 420_501, proof)


def test_owner_spelling_does_not_split_an_account() -> None:
    checksummed_like = "0x" + "Ab" * 20
    ledger = credit_epoch(
        previous={"0x" + "ab" * 20: 10}, rewards={A: 5}, owners={A: checksummed_like}
    )
    assert ledger.totals == {"0x" + "ab" * 20: 15}


def test_empty_ledger_has_the_zero_root() -> None:
    ledger = credit_epoch(previous={}, rewards={A: 0}, owners={})
    assert ledger.root == EMPTY_ROOT
    assert ledger.total == 0
    assert ledger.tree is None
    with pytest.raises(LedgerError):
        ledger.proof(X)


def test_zero_totals_get_no_leaf() -> None:
    ledger = credit_epoch(previous={X: 0, Y: 3}, rewards={}, owners={})
    assert ledger.totals == {Y: 3}
    assert ledger.cumulative(X) == 0
    with pytest.raises(LedgerError, match="no cumulative"):
        ledger.proof(X)


@pytest.mark.parametrize(
    ("previous", "rewards", "owners", "message"),
    [
        ({}, {A: 1}, {}, "no owner"),
        ({}, {A: 1}, {B: X}, "no owner"),
        ({X: -1}, {}, {}, "amounts"),
        ({X: 2**256}, {}, {}, "amounts"),
        ({"0x12": 1}, {}, {}, "address"),
        ({A: 1, "0x" + "AA" * 20: 1}, {}, {}, "twice"),
        ({}, {A: 1.0}, {A: X}, "amounts"),
        ({}, {A: 1}, {A: "nobody"}, "address"),
        ({}, {A: 1}, {A: X, "0x" + "AA" * 20: Y}, "different owners"),
        ({X: 2**256 - 1}, {A: 1}, {A: X}, "overflows"),
    ],
)
def test_bad_input_is_refused(previous, rewards, owners, message) -> None:
    with pytest.raises(LedgerError, match=message):
        credit_epoch(previous, rewards, owners)


rewards_maps = st.dictionaries(st.sampled_from(DEVICES), st.integers(0, 10**24), max_size=8)


@settings(max_examples=50)
@given(epochs=st.lists(rewards_maps, min_size=1, max_size=6), owners=owners_of)
def test_totals_never_decrease_and_proofs_verify(epochs, owners) -> None:
    previous: dict[str, int] = {}
    paid = 0
    for rewards in epochs:
        ledger = credit_epoch(previous, rewards, owners)
        paid += sum(rewards.values())
        assert ledger.total == paid == sum(ledger.totals.values())
        for account, before in previous.items():
            assert ledger.cumulative(account) >= before
        for account, total in ledger.totals.items():
            assert total > 0
            assert merkle.verify(ledger.root, account, total, ledger.proof(account))
        assert set(ledger.totals) <= set(OWNERS)
        previous = ledger.totals


def test_the_ledger_keeps_the_owner_view_it_credited_with() -> None:
    ledger = credit_epoch(previous={}, rewards={A: 1}, owners={A.upper().replace("0X", "0x"): X})
    assert ledger.owner_of(A) == X
    assert ledger.owner_of(B) is None
    assert dict(ledger.owners) == {A: X}
    assert list(ledger.iter_totals()) == [(X, 1)]


def test_a_ledger_rebuilt_from_stored_totals_proves_the_same() -> None:
    """An API serving proofs rebuilds the ledger from the totals alone."""
    ledger = credit_epoch(previous={Z: 42}, rewards={A: 5, C: 7}, owners={A: X, C: Y})
    rebuilt = Ledger(ledger.totals, {}, 0)
    assert rebuilt.root == ledger.root
    assert rebuilt.total == ledger.total == 54
    assert rebuilt.proof(Y) == ledger.proof(Y)


def test_crediting_an_allocation_equals_crediting_its_rewards() -> None:
    from depinkit.oracle.rewards import allocate

    allocation = allocate(
        emission=1_000,
        carry_in=0,
        weights={"u": 10_000},
        splits={"u": {"x": 10_000}},
        scores={"u": {"x": {A: 1, B: 2, C: 0}}},
    )
    owners = {A: X, B: Y, C: Z}
    by_allocation = credit_epoch({Z: 1}, allocation, owners)
    by_mapping = credit_epoch({Z: 1}, allocation.rewards, owners)
    assert by_allocation.totals == by_mapping.totals == {X: 333, Y: 666, Z: 1}
    assert by_allocation.root == by_mapping.root
