"""Allocation: hand-computed examples, money invariants as properties, refused input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.chain import params as chain_params
from depinkit.oracle.rewards import (
    BPS,
    AllocationError,
    allocate,
    parameters_from_network_values,
)
from depinkit.oracle.rewards.allocate import SPLIT_PREFIX, WEIGHT_PARAM

from .strategies import amounts, worlds

A, B, C = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20


def test_worked_example() -> None:
    """The example of docs/rewards.md, computed by hand."""
    result = allocate(
        emission=1_000_000,
        carry_in=7,
        weights={"storage": 6_000, "uptime": 3_000},  # 1,000 bps unassigned
        splits={"storage": {"capacity": 7_000, "retrieval": 3_000}, "uptime": {"online": 10_000}},
        scores={
            "storage": {"capacity": {A: 1, B: 2}},  # nobody in retrieval
            "uptime": {"online": {A: 0, C: 5}},
        },
    )
    assert result.pool == 1_000_007
    storage, uptime = result.networks["storage"], result.networks["uptime"]
    assert storage.share == 600_004  # 1,000,007 * 0.6 = 600,004.2
    assert uptime.share == 300_002  # 300,002.1
    assert storage.buckets["capacity"].share == 420_002  # 600,004 * 0.7 = 420,002.8
    assert storage.buckets["retrieval"].share == 180_001  # 180,001.2
    assert storage.buckets["capacity"].rewards == {A: 140_000, B: 280_001}  # 140,000.67, .33
    assert storage.buckets["retrieval"].paid == 0
    assert uptime.buckets["online"].rewards == {A: 0, C: 300_002}
    assert result.rewards == {A: 140_000, B: 280_001, C: 300_002}
    assert result.paid == 720_003
    # carried: 100,001 unassigned weight + 1 unsplit + 180,001 empty bucket + 1 rounding
    assert result.carry_out == 280_004 == 100_001 + 1 + 180_001 + 1
    assert result.weights == {"storage": 6_000, "uptime": 3_000}


def test_nothing_scored_carries_everything() -> None:
    result = allocate(emission=500, carry_in=3, weights={"u": BPS}, splits={}, scores={})
    assert result.paid == 0
    assert result.carry_out == 503
    assert result.rewards == {}
    assert result.networks["u"].share == 503


def test_one_device_takes_the_whole_bucket() -> None:
    result = allocate(
        emission=10**21,
        carry_in=0,
        weights={"u": BPS},
        splits={"u": {"x": BPS}},
        scores={"u": {"x": {A: 3}}},
    )
    assert result.rewards == {A: 10**21}
    assert result.carry_out == 0


def test_a_device_sums_over_buckets_and_networks() -> None:
    result = allocate(
        emission=1_000,
        carry_in=0,
        weights={"n1": 5_000, "n2": 5_000},
        splits={"n1": {"x": 5_000, "y": 5_000}, "n2": {"z": BPS}},
        scores={"n1": {"x": {A: 1}, "y": {A: 1, B: 1}}, "n2": {"z": {A: 1, B: 3}}},
    )
    assert result.rewards == {A: 250 + 125 + 125, B: 125 + 375}
    assert result.carry_out == 0


def test_addresses_come_out_lowercase_and_sorted() -> None:
    upper = "0x" + "AB" * 20
    result = allocate(
        emission=10,
        carry_in=0,
        weights={"u": BPS},
        splits={"u": {"x": BPS}},
        scores={"u": {"x": {C: 1, upper: 1}}},
    )
    assert list(result.rewards) == ["0x" + "ab" * 20, C]
    assert result.reward_of(upper) == 5
    assert result.reward_of(A) == 0


@settings(max_examples=60)
@given(world=worlds(), emission=amounts, carry_in=amounts)
def test_conservation_is_exact(world: dict, emission: int, carry_in: int) -> None:
    result = allocate(emission=emission, carry_in=carry_in, **world)
    assert sum(result.rewards.values()) + result.carry_out == emission + carry_in
    assert result.paid == sum(result.rewards.values())
    assert result.carry_out >= 0
    assert sum(n.paid for n in result.networks.values()) == result.paid
    assert sum(n.share for n in result.networks.values()) <= result.pool
    for net in result.networks.values():
        assert sum(b.share for b in net.buckets.values()) <= net.share
        assert sum(b.paid for b in net.buckets.values()) == net.paid


@settings(max_examples=60)
@given(world=worlds(), emission=amounts)
def test_no_device_negative_or_above_its_bucket(world: dict, emission: int) -> None:
    result = allocate(emission=emission, carry_in=0, **world)
    for net in result.networks.values():
        for bucket in net.buckets.values():
            assert sum(bucket.rewards.values()) == bucket.paid <= bucket.share
            for device, reward in bucket.rewards.items():
                assert 0 <= reward <= bucket.share
                if bucket.points[device] == 0:
                    assert reward == 0
            # floor: what the bucket keeps is less than one unit per device
            if bucket.total_points:
                assert bucket.share - bucket.paid < max(len(bucket.points), 1)
    for reward in result.rewards.values():
        assert reward >= 0


@settings(max_examples=60)
@given(world=worlds(), emission=amounts, seed=st.integers(0, 2**32))
def test_independent_of_input_order_and_address_case(world: dict, emission: int, seed: int) -> None:
    rng = random.Random(seed)

    def shuffled(mapping: dict, depth: int) -> dict:
        items = list(mapping.items())
        rng.shuffle(items)
        if depth == 0:
            return {k.upper().replace("0X", "0x"): v for k, v in items}
        return {k: shuffled(v, depth - 1) for k, v in items}

    first = allocate(emission=emission, carry_in=1, **world)
    second = allocate(
        emission=emission,
        carry_in=1,
        weights=dict(reversed(list(world["weights"].items()))),
        splits={n: dict(reversed(list(t.items()))) for n, t in reversed(world["splits"].items())},
        scores=shuffled(world["scores"], 2),
    )
    assert first == second
    assert list(first.rewards) == sorted(first.rewards)


@settings(max_examples=60)
@given(world=worlds(), emission=amounts)
def test_zero_points_earn_zero(world: dict, emission: int) -> None:
    result = allocate(emission=emission, carry_in=0, **world)
    scored = {
        d
        for buckets in world["scores"].values()
        for devices in buckets.values()
        for d, p in devices.items()
        if p > 0
    }
    for device, reward in result.rewards.items():
        if device not in scored:
            assert reward == 0


GOOD = {"weights": {"u": BPS}, "splits": {"u": {"x": BPS}}, "scores": {"u": {"x": {A: 1}}}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"emission": -1}, "emission"),
        ({"emission": 1.0}, "emission"),
        ({"carry_in": 2**256}, "carry_in"),
        ({"weights": {"u": 10_001}}, "basis points"),
        ({"weights": {"u": 6_000, "v": 5_000}}, "sum"),
        ({"weights": {"u": -1}}, "basis points"),
        ({"weights": {"": 1}}, "name"),
        ({"splits": {"u": {"x": 5_000, "y": 5_001}}}, "sum"),
        ({"splits": {"u": {"x": True}}}, "basis points"),
        ({"scores": {"u": {"x": {A: -1}}}}, "points"),
        ({"scores": {"u": {"x": {A: 2**63}}}}, "points"),
        ({"scores": {"u": {"x": {A: 1.5}}}}, "points"),
        ({"scores": {"u": {"x": {"0x1234": 1}}}}, "address"),
        ({"scores": {"u": {"x": {"not an address at all, really not one": 1}}}}, "address"),
        ({"scores": {"u": {"x": {A: 1, A.upper().replace("0X", "0x"): 1}}}}, "twice"),
        ({"scores": {"u": {"": {A: 1}}}}, "name"),
    ],
)
def test_bad_input_is_refused(change: dict, message: str) -> None:
    kwargs = {"emission": 100, "carry_in": 0, **GOOD, **change}
    with pytest.raises(AllocationError, match=message):
        allocate(**kwargs)


def test_parameter_names_match_the_chain_layer() -> None:
    assert WEIGHT_PARAM == chain_params.NET_WEIGHT
    assert SPLIT_PREFIX == chain_params.SPLIT_PREFIX
    assert BPS == chain_params.BPS


def test_parameters_from_network_values() -> None:
    weights, splits = parameters_from_network_values(
        {
            "uptime": {"stake": 5, "requireMaker": 0, "weight": 7_000, "split.uptime": BPS},
            "sensing": {"weight": 3_000, "split.usage": 4_000, "split.data": 6_000},
        }
    )
    assert weights == {"sensing": 3_000, "uptime": 7_000}
    assert splits == {"sensing": {"data": 6_000, "usage": 4_000}, "uptime": {"uptime": BPS}}
