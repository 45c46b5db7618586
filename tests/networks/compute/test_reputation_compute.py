"""Reputation: tiers from thresholds, gains, capped growth, the fall on a fault."""

from __future__ import annotations

from compute_module_kit import PROVIDERS, parameters
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks.compute.reputation import (
    TIER_NEW,
    TIER_PREMIUM,
    TIER_TRUSTED,
    next_reputations,
    reputations,
    tier,
    updated,
)

A, B, *_ = PROVIDERS


def test_tiers() -> None:
    p = parameters()
    assert tier(p, 0) == TIER_NEW
    assert tier(p, 19) == TIER_NEW
    assert tier(p, 20) == TIER_TRUSTED
    assert tier(p, 200) == TIER_PREMIUM
    low_bar = parameters(tier2_reputation=5)  # tier 2 is never easier than tier 1
    assert tier(low_bar, 10) == TIER_NEW
    assert tier(low_bar, 20) == TIER_PREMIUM


def test_updates() -> None:
    p = parameters()
    assert updated(p, 10, paid=3, confirmed=1, faults=0) == 10 + 3 + 5
    assert updated(p, 9_999, paid=10, confirmed=10, faults=0) == 10_000
    assert updated(p, 500, paid=10, confirmed=10, faults=1) == 0
    assert (
        updated(parameters(reputation_loss_ppm=250_000), 400, paid=0, confirmed=0, faults=1) == 300
    )


def test_tables() -> None:
    p = parameters()
    table = next_reputations(p, {A.address: 30}, {B.address: 2}, {}, {A.address: 1})
    assert table == {B.address: 2}
    assert reputations({"reputation": {A.address: 5, "nope": 3, B.address: -1}}) == {A.address: 5}
    assert reputations({"reputation": [1]}) == {}


@given(
    start=st.integers(0, 10_000),
    paid=st.integers(0, 1_000),
    confirmed=st.integers(0, 1_000),
    faults=st.integers(0, 3),
)
def test_reputation_is_bounded_and_faults_never_pay(
    start: int, paid: int, confirmed: int, faults: int
) -> None:
    p = parameters()
    after = updated(p, start, paid=paid, confirmed=confirmed, faults=faults)
    assert 0 <= after <= max(start, p["reputation_max"])
    if faults:
        assert after <= start
    else:
        assert after >= min(start, p["reputation_max"])
