"""Many epochs in a row: nothing minted twice, nothing lost, never above the schedule."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core import merkle
from depinkit.oracle.rewards import EmissionSchedule, check_manifest, compute_epoch_rewards

from .strategies import owners_of, worlds


@settings(max_examples=40, deadline=None)
@given(
    epochs=st.lists(worlds(), min_size=1, max_size=6),
    owners=owners_of,
    initial=st.integers(0, 10**22),
    halving=st.integers(0, 3),
    cap=st.integers(0, 10**23),
)
def test_paid_plus_carry_is_the_schedule(epochs, owners, initial, halving, cap) -> None:
    schedule = EmissionSchedule(initial=initial, halving_epochs=halving, cap=cap)
    carry, last_total = 0, 0
    previous: dict[str, int] = {}
    for epoch, world in enumerate(epochs):
        result = compute_epoch_rewards(
            epoch=epoch,
            schedule=schedule,
            carry_in=carry,
            owners=owners,
            previous=previous,
            **world,
        )
        ledger, allocation = result.ledger, result.allocation
        emitted = schedule.emitted_through(epoch)
        # exactly what the schedule emitted is either paid (in the tree) or carried
        assert ledger.total + allocation.carry_out == emitted
        assert ledger.total <= emitted  # RewardsDistributor.submitRoot accepts this total
        assert ledger.total >= last_total  # TotalDecreased never fires
        for account, total in ledger.totals.items():
            assert merkle.verify(ledger.root, account, total, ledger.proof(account))
        check_manifest(result.manifest)
        carry, previous, last_total = allocation.carry_out, ledger.totals, ledger.total


def test_carry_is_paid_out_in_a_later_epoch() -> None:
    a, owner = "0x" + "aa" * 20, "0x" + "11" * 20
    schedule = EmissionSchedule(initial=1_000, halving_epochs=0, cap=10**9)
    common: dict[str, Any] = {
        "weights": {"u": 10_000},
        "splits": {"u": {"x": 10_000}},
        "owners": {a: owner},
    }
    empty = compute_epoch_rewards(
        epoch=0, schedule=schedule, carry_in=0, scores={}, previous={}, **common
    )
    assert empty.allocation.carry_out == 1_000 and empty.ledger.total == 0
    full = compute_epoch_rewards(
        epoch=1,
        schedule=schedule,
        carry_in=empty.allocation.carry_out,
        scores={"u": {"x": {a: 1}}},
        previous=empty.ledger.totals,
        **common,
    )
    assert full.allocation.rewards == {a: 2_000}
    assert full.ledger.totals == {owner: 2_000} and full.allocation.carry_out == 0


def test_a_root_hashed_in_a_worker_process_is_the_same_root() -> None:
    """Large epochs hash the root in another process; the result must not change at all."""
    schedule = EmissionSchedule(initial=10**21, halving_epochs=0, cap=10**30)
    devices = [f"0x{i:040x}" for i in range(1, 301)]
    common: dict[str, Any] = {
        "epoch": 2,
        "schedule": schedule,
        "carry_in": 7,
        "weights": {"u": 10_000},
        "splits": {"u": {"x": 10_000}},
        "scores": {"u": {"x": {d: i + 1 for i, d in enumerate(devices)}}},
        "owners": {d: f"0x{i + 10_000:040x}" for i, d in enumerate(devices)},
        "previous": {f"0x{i + 10_000:040x}": 5 for i in range(50)},
    }
    here = compute_epoch_rewards(**common)
    there = compute_epoch_rewards(**common, parallel_root_leaves=1)
    assert there.ledger.root == here.ledger.root != bytes(32)
    assert there.manifest == here.manifest
    assert len(there.ledger) == 300
