"""Scoring: usage is credits for verified fuel; availability decays across one owner's nodes."""

from __future__ import annotations

from compute_module_kit import OTHER_OWNER, OWNER, PROVIDERS, context, devices
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks import MAX_POINTS, Verdict
from depinkit.networks.compute.score import (
    AVAILABILITY,
    FACT_CAPACITY,
    FACT_SLASHED,
    FACT_SLOT,
    USAGE,
    score_compute,
)
from depinkit.networks.receipts import FACT_CREDITS


def offer_verdict(i: int, slot: int, capacity: int) -> Verdict:
    return Verdict(
        bytes([i, slot]) * 16,
        PROVIDERS[i].address,
        True,
        facts={FACT_SLOT: slot, FACT_CAPACITY: capacity},
    )


def test_usage_sums_credits_of_accepted_verdicts_only() -> None:
    a, b = PROVIDERS[0].address, PROVIDERS[1].address
    verdicts = [
        Verdict(b"\x01" * 32, a, True, facts={FACT_CREDITS: 10}),
        Verdict(b"\x02" * 32, a, True, facts={FACT_CREDITS: 5}),
        Verdict(b"\x03" * 32, b, False, "wrong_output", facts={FACT_CREDITS: 99}),
        Verdict(b"\x04" * 32, b, True, facts={FACT_CREDITS: 0}),
    ]
    assert score_compute(context(), verdicts)[USAGE] == {a: 15}


def test_availability_decays_within_an_owner_only() -> None:
    owners = {PROVIDERS[3].address: OTHER_OWNER}
    ctx = context(device_map=devices(owners), availability_decay_ppm=500_000)
    verdicts = [
        offer_verdict(0, 0, 100),
        offer_verdict(1, 0, 300),
        offer_verdict(2, 0, 200),
        offer_verdict(3, 0, 100),
    ]
    got = score_compute(ctx, verdicts)[AVAILABILITY]
    p = [a.address for a in PROVIDERS]
    assert got == {p[1]: 300, p[2]: 100, p[0]: 25, p[3]: 100}


def test_slashed_providers_get_no_availability() -> None:
    a = PROVIDERS[0]
    slash = Verdict(
        b"\x09" * 32, PROVIDERS[1].address, True, facts={FACT_SLASHED: int(a.address, 16)}
    )
    got = score_compute(context(), [offer_verdict(0, 0, 100), slash])
    assert got[AVAILABILITY] == {}


@given(
    offers=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(0, 64_000)), max_size=30
    ),
    decay=st.integers(0, 1_000_000),
    split=st.booleans(),
)
def test_one_owner_never_beats_the_same_nodes_spread_over_owners(
    offers: list[tuple[int, int, int]], decay: int, split: bool
) -> None:
    """Diminishing returns: moving nodes under one owner can only lower their points, and
    points stay within [0, raw capacity]."""
    verdicts = [offer_verdict(i, s, c) for i, s, c in offers]
    one = score_compute(context(availability_decay_ppm=decay), verdicts)[AVAILABILITY]
    spread_map = devices({a.address: f"0x{i + 1:040x}" for i, a in enumerate(PROVIDERS)})
    spread = score_compute(context(device_map=spread_map, availability_decay_ppm=decay), verdicts)[
        AVAILABILITY
    ]
    assert sum(one.values()) <= sum(spread.values())
    for device, points in one.items():
        assert 0 < points <= spread[device] <= MAX_POINTS
    assert OWNER
