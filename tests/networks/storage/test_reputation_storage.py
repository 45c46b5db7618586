"""The beta reputation with forgetting: exact, bounded, and the standing it implies."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.parameters import PPM
from depinkit.networks.storage.reputation import (
    DISQUALIFIED,
    GOOD,
    SCALE,
    SUSPENDED,
    Reputation,
    below,
    initial,
    standing,
    update,
)


def test_new_providers_start_at_the_steady_state_of_success() -> None:
    rep = initial(990_000, 1)
    assert rep == Reputation(alpha=100 * SCALE, beta=0)
    assert rep.score() == 1
    assert update(rep, True, 990_000, 1) == rep  # a success changes nothing at the steady state


def test_the_update_is_the_formula() -> None:
    rep = Reputation(alpha=7 * SCALE, beta=3 * SCALE)
    lam = 900_000
    assert update(rep, True, lam, 2) == Reputation(
        alpha=7 * SCALE * lam // PPM + 2 * SCALE, beta=3 * SCALE * lam // PPM
    )
    assert update(rep, False, lam, 2) == Reputation(
        alpha=7 * SCALE * lam // PPM, beta=3 * SCALE * lam // PPM + 2 * SCALE
    )


def test_m_failures_in_a_row_from_a_perfect_record_leave_lambda_to_the_m() -> None:
    lam = 950_000
    rep = initial(lam, 1)
    for m in range(1, 30):
        rep = update(rep, False, lam, 1)
        assert abs(rep.score() - Fraction(lam, PPM) ** m) < Fraction(1, 10**9)


@given(
    st.lists(st.booleans(), max_size=200),
    st.integers(0, PPM - 1),
    st.integers(1, 1_000),
)
def test_the_score_stays_in_zero_one_and_moves_the_right_way(
    events: list[bool], lam: int, weight: int
) -> None:
    rep = initial(lam, weight)
    for passed in events:
        after = update(rep, passed, lam, weight)
        assert 0 <= after.score() <= 1
        assert after.alpha >= 0 and after.beta >= 0
        if passed:
            assert after.score() >= rep.score()
        else:
            assert after.score() <= rep.score()
        rep = after


def test_standing_thresholds_and_disqualification_is_final() -> None:
    rep = Reputation(alpha=85, beta=15)  # 0.85
    assert standing(rep, GOOD, 900_000, 600_000) == SUSPENDED
    assert standing(rep, GOOD, 850_000, 600_000) == GOOD  # at the threshold is not below it
    assert standing(Reputation(59, 41), GOOD, 900_000, 600_000) == DISQUALIFIED
    assert standing(Reputation(1, 0), DISQUALIFIED, 900_000, 600_000) == DISQUALIFIED
    assert standing(Reputation(1, 0), SUSPENDED, 900_000, 600_000) == GOOD  # recovery
    assert below(Reputation(0, 0), 1) is False  # no history counts as a perfect record


def test_parameters_out_of_range_are_errors() -> None:
    with pytest.raises(NetworkError):
        initial(PPM, 1)
    with pytest.raises(NetworkError):
        update(Reputation(1, 1), True, 0, 0)
    with pytest.raises(NetworkError):
        update(Reputation(-1, 1), True, 0, 1)
