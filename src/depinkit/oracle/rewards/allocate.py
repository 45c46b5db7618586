"""Allocation: an epoch's pool split across networks, buckets and devices, in base units.

The spec is docs/rewards.md ("Allocation"). In short, with ``BPS = 10_000``::

    pool          = emission + carry_in
    network_share = pool * weight[n] // BPS
    bucket_share  = network_share * split[n][b] // BPS
    reward[d]     = bucket_share * points[d] // Σ points            (per bucket, summed)
    carry_out     = pool - Σ reward

Rounding rule: floor at every level, the remainders carried. Flooring was chosen over
largest-remainder because a device's reward then depends only on its own points, the
bucket's total and the bucket's share: no sort by fractional part, no tie-break, nothing an
operator gains by grinding device addresses, and an O(n) pass for a million devices. What
flooring leaves (at most one base unit per rewarded device and level, 1e-18 DPK each) is not
lost: it is in ``carry_out`` and enters the next epoch's pool. The same goes for the share a
governance vote left unassigned (weights or splits summing below 10,000) and for the share of
a network or bucket in which nobody scored. So, exactly::

    Σ reward + carry_out == emission + carry_in

Pure: no I/O, no clock, no floats. Every mapping is read in sorted key order and every
result is built in that order, so two oracles build equal results from equal inputs
whatever order their dicts happen to be in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from depinkit.oracle.rewards.accounts import (
    canonical_address,
    canonical_addresses,
    sorted_by_key,
)
from depinkit.oracle.rewards.emission import UINT256_MAX
from depinkit.oracle.rewards.errors import AllocationError

BPS: Final[int] = 10_000  # basis points in a whole: weights and splits are out of this
MAX_POINTS: Final[int] = 2**63 - 1  # points fit a signed 64-bit int: msgspec, SQL BIGINT

# Names of the per-network governed parameters, as depinkit.chain.params spells them
# (repeated here so pure reward code need not import the web3 client; a test holds them equal).
WEIGHT_PARAM: Final[str] = "weight"  # basis points of the pool for the network
SPLIT_PREFIX: Final[str] = "split."  # "split.<bucket>": basis points of the network's share

Scores = Mapping[str, Mapping[str, Mapping[str, int]]]  # network -> bucket -> device -> points


class BucketAllocation(msgspec.Struct, frozen=True, kw_only=True):
    """One bucket of one network: what it was given and how it was divided.

    ``points`` and ``rewards`` are keyed by lowercase device address, in address order;
    ``share - paid`` went to the carry.
    """

    split_bps: int
    share: int
    total_points: int
    paid: int
    points: dict[str, int]
    rewards: dict[str, int]


class NetworkAllocation(msgspec.Struct, frozen=True, kw_only=True):
    """One network: its weight, its share of the pool, what its buckets paid out."""

    weight_bps: int
    share: int
    paid: int
    buckets: dict[str, BucketAllocation]


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    """The whole epoch: ``paid + carry_out == pool == emission + carry_in``.

    ``rewards`` is each device's total over every bucket it scored in (zero included), keyed
    by lowercase address in address order. ``weights`` and ``splits`` are the parameters as
    used (every network and bucket that had a parameter or a score, missing ones as 0).
    """

    emission: int
    carry_in: int
    pool: int
    paid: int
    carry_out: int
    weights: dict[str, int]
    splits: dict[str, dict[str, int]]
    networks: dict[str, NetworkAllocation]
    rewards: dict[str, int]

    def reward_of(self, device: str) -> int:
        """A device's reward, 0 when it did not score; any spelling of the address."""
        return self.rewards.get(canonical_address(device, AllocationError), 0)


def _check_amount(name: str, value: object) -> int:
    if type(value) is not int or not 0 <= value <= UINT256_MAX:
        raise AllocationError(f"{name} must be an int in [0, 2**256 - 1], got {value!r}")
    return value


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise AllocationError(f"a {kind} name must be a non-empty string, got {name!r}")
    return name


def _check_bps_table(kind: str, table: Mapping[str, int]) -> dict[str, int]:
    """Names sorted, each value in [0, BPS], the sum at most BPS (the rest is carried)."""
    out: dict[str, int] = {}
    for name in sorted(table, key=lambda n: _check_name(kind, n)):
        bps = table[name]
        if type(bps) is not int or not 0 <= bps <= BPS:
            raise AllocationError(f"{kind} {name!r}: basis points must be in [0, {BPS}]: {bps!r}")
        out[name] = bps
    if sum(out.values()) > BPS:
        raise AllocationError(f"{kind} basis points sum to {sum(out.values())} > {BPS}")
    return out


def parameters_from_network_values(
    values: Mapping[str, Mapping[str, int]],
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Weights and splits from per-network parameter values keyed by parameter name.

    ``values[network]`` is what ``ParametersClient.network`` returns (``weight``,
    ``split.<bucket>``, and others, which are ignored).
    """
    weights: dict[str, int] = {}
    splits: dict[str, dict[str, int]] = {}
    for network in sorted(values, key=lambda n: _check_name("network", n)):
        named = values[network]
        weights[network] = named.get(WEIGHT_PARAM, 0)
        splits[network] = {
            key[len(SPLIT_PREFIX) :]: value
            for key, value in sorted(named.items())
            if key.startswith(SPLIT_PREFIX)
        }
    return weights, splits


def _bucket_points(network: str, bucket: str, points: Mapping[str, int]) -> dict[str, int]:
    """Points keyed by lowercase address in address order; refuses bad or doubled devices."""
    devices = list(points)
    values = list(points.values())
    if not all(type(v) is int for v in values) or (
        values and not 0 <= min(values) <= max(values) <= MAX_POINTS
    ):
        bad = next(
            (d, v)
            for d, v in zip(devices, values, strict=True)
            if type(v) is not int or not 0 <= v <= MAX_POINTS
        )
        raise AllocationError(
            f"{network}/{bucket} {bad[0]!r}: points must be an int in [0, 2**63 - 1], "
            f"got {bad[1]!r}"
        )
    lowered = canonical_addresses(devices, AllocationError)
    order = sorted(range(len(lowered)), key=lowered.__getitem__)  # O(n) when already sorted
    out = dict(zip(map(lowered.__getitem__, order), map(values.__getitem__, order), strict=True))
    if len(out) != len(values):
        raise AllocationError(f"{network}/{bucket}: a device is listed twice (address case)")
    return out


def _divide(share: int, points: dict[str, int]) -> tuple[int, int, dict[str, int]]:
    """Floor pro-rata: ``share * p // total`` each; returns (total points, paid, rewards)."""
    total = sum(points.values())
    if total == 0:
        return 0, 0, dict.fromkeys(points, 0)
    # map over int methods: the same arithmetic, without a Python frame per device
    amounts = list(map(total.__rfloordiv__, map(share.__mul__, points.values())))
    return total, sum(amounts), dict(zip(points, amounts, strict=True))


def allocate(
    *,
    emission: int,
    carry_in: int,
    weights: Mapping[str, int],
    splits: Mapping[str, Mapping[str, int]],
    scores: Scores,
) -> Allocation:
    """Divide ``emission + carry_in`` by ``weights``, ``splits`` and ``scores`` (see module).

    ``weights``: network -> basis points of the pool, summing to at most 10,000.
    ``splits``: network -> bucket -> basis points of the network's share, each network's
    summing to at most 10,000. Missing entries count as 0.
    ``scores``: network -> bucket -> device address -> points (ints in [0, 2**63 - 1]).

    Raises AllocationError, and computes nothing, on any input outside those rules.
    """
    emission = _check_amount("emission", emission)
    carry_in = _check_amount("carry_in", carry_in)
    pool = emission + carry_in
    used_weights = _check_bps_table("network weight", weights)
    network_names = sorted(
        set(used_weights)
        | {_check_name("network", n) for n in splits}
        | {_check_name("network", n) for n in scores}
    )
    used_splits: dict[str, dict[str, int]] = {}
    points: dict[str, dict[str, dict[str, int]]] = {}
    for network in network_names:
        used_weights.setdefault(network, 0)
        table = _check_bps_table(f"{network} bucket split", splits.get(network, {}))
        scored = scores.get(network, {})
        for bucket in sorted(set(table) | {_check_name("bucket", b) for b in scored}):
            table.setdefault(bucket, 0)
        used_splits[network] = dict(sorted(table.items()))
        points[network] = {
            bucket: _bucket_points(network, bucket, scored.get(bucket, {}))
            for bucket in used_splits[network]
        }
    used_weights = dict(sorted(used_weights.items()))

    networks: dict[str, NetworkAllocation] = {}
    totals: dict[str, int] = {}
    merged = False  # a later bucket added devices to totals: they need sorting again
    paid = 0
    for network in network_names:
        weight = used_weights[network]
        network_share = pool * weight // BPS
        buckets: dict[str, BucketAllocation] = {}
        network_paid = 0
        for bucket, split in used_splits[network].items():
            bucket_points = points[network][bucket]
            bucket_share = network_share * split // BPS
            total_points, bucket_paid, rewards = _divide(bucket_share, bucket_points)
            if not totals:
                totals.update(rewards)
            elif rewards:
                known = len(totals)
                get = totals.get
                for device, reward in rewards.items():
                    totals[device] = get(device, 0) + reward
                # only devices new to ``totals`` land out of address order
                merged = merged or len(totals) != known
            buckets[bucket] = BucketAllocation(
                split_bps=split,
                share=bucket_share,
                total_points=total_points,
                paid=bucket_paid,
                points=bucket_points,
                rewards=rewards,
            )
            network_paid += bucket_paid
        networks[network] = NetworkAllocation(
            weight_bps=weight, share=network_share, paid=network_paid, buckets=buckets
        )
        paid += network_paid
    return Allocation(
        emission=emission,
        carry_in=carry_in,
        pool=pool,
        paid=paid,
        carry_out=pool - paid,
        weights=used_weights,
        splits=used_splits,
        networks=networks,
        rewards=sorted_by_key(totals) if merged else totals,
    )
