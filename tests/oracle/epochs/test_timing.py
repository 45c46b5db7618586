"""Epoch boundaries, the start-block search and the state order (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.oracle.epochs import states
from depinkit.oracle.epochs.errors import EpochError
from depinkit.oracle.epochs.timing import EpochClock, find_start_block


def test_bounds_and_epoch_at() -> None:
    clock = EpochClock(genesis_s=1_000, length_s=60)
    assert clock.bounds_ms(0) == (1_000_000, 1_060_000)
    assert clock.bounds_ms(2) == (1_120_000, 1_180_000)
    assert clock.epoch_at(1_000) == 0
    assert clock.epoch_at(1_059) == 0
    assert clock.epoch_at(1_060) == 1
    with pytest.raises(EpochError):
        clock.epoch_at(999)
    with pytest.raises(EpochError):
        clock.start_s(-1)


def test_settleable_through_waits_for_the_grace() -> None:
    clock = EpochClock(genesis_s=1_000, length_s=60)
    assert clock.settleable_through(1_059_999, 0) == -1
    assert clock.settleable_through(1_060_000, 0) == 0
    assert clock.settleable_through(1_060_000, 5_000) == -1
    assert clock.settleable_through(1_065_000, 5_000) == 0
    assert clock.settleable_through(1_185_000, 5_000) == 2
    assert clock.settle_at_ms(0, 5_000) == 1_065_000


@pytest.mark.parametrize("genesis, length", [(-1, 60), (0, 0), (0, -5)])
def test_bad_clock_is_refused(genesis: int, length: int) -> None:
    with pytest.raises(EpochError):
        EpochClock(genesis_s=genesis, length_s=length)


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=200),
    target=st.integers(min_value=0, max_value=3_000),
)
def test_start_block_is_the_first_at_or_after(gaps: list[int], target: int) -> None:
    times = []
    now = 0
    for gap in gaps:
        now += gap
        times.append(now)
    calls: list[int] = []

    def timestamp(n: int) -> int:
        calls.append(n)
        return times[n]

    found = find_start_block(timestamp, len(times) - 1, target)
    expected = next((i for i, t in enumerate(times) if t >= target), None)
    assert found == expected
    assert len(calls) <= 2 + len(times).bit_length()


def test_no_block_yet_and_empty_chain() -> None:
    assert find_start_block(lambda n: 10, 5, 11) is None
    assert find_start_block(lambda n: 10, -1, 0) is None
    assert find_start_block(lambda n: 10 * n, 9, 0) == 0


def test_states_move_one_step_at_a_time() -> None:
    states.check_move(None, states.COLLECTED)
    for current, target in zip(states.STATES, states.STATES[1:], strict=False):
        states.check_move(current, target)
        assert states.next_state(current) == target
    with pytest.raises(EpochError):
        states.check_move(states.COLLECTED, states.SCORED)
    with pytest.raises(EpochError):
        states.check_move(states.SIGNED, states.SIGNED)
    with pytest.raises(EpochError):
        states.next_state(states.SUBMITTED)
    with pytest.raises(EpochError):
        states.rank("nonsense")
    assert states.at_least(states.SIGNED, states.SCORED)
    assert not states.at_least(None, states.COLLECTED)
    assert not states.at_least(states.RECONCILED, states.SCORED)
