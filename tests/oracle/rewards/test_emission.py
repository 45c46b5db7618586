"""The emission schedule against its formula and against the deployed Emission.sol."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.chain import TOKEN, Chain, DeployConfig, deploy, dev_account
from depinkit.chain.rewards import RewardsClient
from depinkit.oracle.rewards import (
    EmissionSchedule,
    RewardsError,
    emitted_through,
    epoch_budget,
    epoch_emission,
)

UINT256_MAX = 2**256 - 1


def model(epoch: int, initial: int, halving: int, cap: int) -> int:
    """The schedule by definition: one term per epoch (only for small epochs)."""
    total = sum(initial >> (i // halving) if halving else initial for i in range(epoch + 1))
    return min(total, cap)


def test_worked_example() -> None:
    # 1000 per epoch for epochs 0-2, 500 for 3-5, 250 for 6-8.
    assert [epoch_emission(i, 1000, 3) for i in range(9)] == [1000] * 3 + [500] * 3 + [250] * 3
    assert emitted_through(7, 1000, 3, 10**9) == 3000 + 1500 + 500
    # a cap of 4200 binds inside epoch 5: it gets 200, epoch 6 gets nothing
    assert emitted_through(4, 1000, 3, 4200) == 4000
    assert emitted_through(5, 1000, 3, 4200) == 4200
    assert [epoch_budget(i, 1000, 3, 4200) for i in range(7)] == [1000] * 3 + [500, 500, 200, 0]


def test_no_halving_is_constant() -> None:
    assert epoch_emission(10**12, 7, 0) == 7
    assert emitted_through(99, 7, 0, 10**9) == 700


def test_emission_reaches_zero_after_enough_halvings() -> None:
    assert epoch_emission(3 * 255, UINT256_MAX, 3) == 1
    assert epoch_emission(3 * 256, UINT256_MAX, 3) == 0
    assert epoch_emission(2**64 - 1, 1, 1) == 0


def test_far_epochs_are_cheap_and_bounded() -> None:
    # the closed form stops after the shift reaches zero, like the contract
    total = emitted_through(2**64 - 1, 2**100, 1, UINT256_MAX)
    assert total == sum((2**100 >> k) for k in range(101))


@given(
    epoch=st.integers(0, 300),
    initial=st.integers(0, 10**24) | st.sampled_from([0, 1, 3, UINT256_MAX]),
    halving=st.integers(0, 40),
    cap=st.integers(0, 10**27) | st.just(UINT256_MAX),
)
def test_closed_form_matches_the_definition(
    epoch: int, initial: int, halving: int, cap: int
) -> None:
    assert emitted_through(epoch, initial, halving, cap) == model(epoch, initial, halving, cap)


@given(
    last=st.integers(0, 200),
    initial=st.integers(0, 10**21),
    halving=st.integers(0, 20),
    cap=st.integers(0, 10**23),
)
def test_budgets_sum_to_emitted_through(last: int, initial: int, halving: int, cap: int) -> None:
    schedule = EmissionSchedule(initial=initial, halving_epochs=halving, cap=cap)
    budgets = [schedule.budget(e) for e in range(last + 1)]
    assert all(b >= 0 for b in budgets)
    assert all(b <= schedule.epoch_emission(e) for e, b in enumerate(budgets))
    assert sum(budgets) == schedule.emitted_through(last)


@pytest.mark.parametrize(
    ("call", "args"),
    [
        (epoch_emission, (-1, 1, 1)),
        (epoch_emission, (2**64, 1, 1)),
        (epoch_emission, (0, -5, 1)),
        (epoch_emission, (0, 1, True)),
        (emitted_through, (0, 1, 1, -1)),
        (emitted_through, (0, 1.5, 1, 10)),
        (emitted_through, (0, 1, 2**256, 10)),
    ],
)
def test_out_of_range_inputs_are_refused(call, args) -> None:
    with pytest.raises(RewardsError):
        call(*args)


def test_bad_schedule_is_refused() -> None:
    with pytest.raises(RewardsError):
        EmissionSchedule(initial=-1, halving_epochs=0, cap=0)


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain.tester()


@pytest.mark.parametrize(
    ("initial", "halving", "supply_cap"),
    [
        (1_000 * TOKEN, 3, 10_000 * TOKEN),  # the cap binds in the 3rd period
        (7, 0, 100),  # no halving, the cap binds at epoch 14
    ],
)
def test_matches_the_deployed_contract(
    chain: Chain, initial: int, halving: int, supply_cap: int
) -> None:
    config = DeployConfig(
        cap=supply_cap + 1,
        initial_supply=1,
        emission_initial=initial,
        halving_epochs=halving,
    )
    deployment = deploy(chain, dev_account(), config)
    rewards = RewardsClient(chain, deployment.contracts["RewardsDistributor"])
    cap = rewards.emission_cap()
    assert cap == supply_cap
    for epoch in [*range(20), 100, 10**6, 2**64 - 1]:
        assert rewards.emitted_through(epoch) == emitted_through(epoch, initial, halving, cap)
