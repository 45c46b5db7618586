"""Reward units, hex density, boosts and location trust (docs/networks/coverage.md, "Formulas").

All exact: :class:`fractions.Fraction` over integers, never floats.

* HIP-15 reward units for a beacon with ``n`` selected witnesses (R = witness_redundancy,
  d = decay_rate): the beaconer earns n/R for n <= R, else min(2, 2 - d^(n-R)); each witness
  earns 1 for n <= R, else (R - (1 - d^(n-R))) / n.
* HIP-17 hex density: a hotspot's units are scaled by the product, over resolutions 4..10, of
  clipped/unclipped hotspot counts of the hexes that contain it (:func:`hex_scales`).
* Boosts: hexes funded by consumers or governance multiply the units of hotspots inside them.
* Location trust: ramps from 1/ramp to 1 over ``trust_ramp_epochs`` at one asserted location.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any, Final

import h3.api.basic_int as h3

from depinkit.networks.coverage.geo import DISTANCE_RES
from depinkit.networks.coverage.parameters import BPS, HIP17_RESOLUTIONS

BEACON_UNITS_CAP: Final[Fraction] = Fraction(2)  # HIP-15: a beacon is worth at most 2 units
BOOSTS_KEY: Final[str] = "boosts"  # ctx.prior: [[h3 cell, multiplier, until epoch], ...]
LOCATIONS_KEY: Final[str] = "locations"  # ctx.prior: {address: [cell, first epoch, last epoch]}

Hip17Table = Mapping[int, tuple[int, int, int]]  # resolution -> (neighbours, target, max)


def decay(decay_rate_bps: int) -> Fraction:
    return Fraction(decay_rate_bps, BPS)


def beacon_units(n: int, redundancy: int = 4, rate: Fraction = Fraction(4, 5)) -> Fraction:
    """HIP-15 units of a beacon with n selected witnesses."""
    if n <= 0:
        return Fraction(0)
    if n <= redundancy:
        return Fraction(n, redundancy)
    return min(BEACON_UNITS_CAP, BEACON_UNITS_CAP - rate ** (n - redundancy))


def witness_units(n: int, redundancy: int = 4, rate: Fraction = Fraction(4, 5)) -> Fraction:
    """HIP-15 units of each of the n selected witnesses of one beacon."""
    if n <= 0:
        return Fraction(0)
    if n <= redundancy:
        return Fraction(1)
    return (redundancy - (1 - rate ** (n - redundancy))) / n


def hex_limit(occupied: int, neighbors: int, target: int, maximum: int) -> int:
    """HIP-17: hotspots a hex is rewarded for, given its occupied k-ring-1 hexes (itself too)."""
    return min(maximum, target * (max(occupied - neighbors, 0) + 1))


def hex_scales(cells: Iterable[int], table: Hip17Table) -> dict[int, Fraction]:
    """HIP-17 scale of every res-11 cell in ``cells`` (one entry per hotspot, repeats count).

    Bottom up from resolution 10 to 4: a hex's *unclipped* count is the sum of its children's
    clipped counts (res-11 cells: their hotspot count); it is *occupied* when that reaches the
    resolution's target; its clipped count is min(unclipped, hex_limit(occupied hexes in its
    k-ring 1)). A cell's scale is the product of clipped/unclipped over its ancestors.
    Occupancy reads unclipped counts, so the result does not depend on processing order.
    """
    unclipped: dict[int, int] = {}
    for cell in cells:
        unclipped[cell] = unclipped.get(cell, 0) + 1
    clipped = dict(unclipped)
    level = sorted(unclipped)
    leaves = list(level)
    for res in sorted(HIP17_RESOLUTIONS, reverse=True):
        parents: dict[int, int] = {}
        for child in level:
            parent = h3.cell_to_parent(child, res)
            parents[parent] = parents.get(parent, 0) + clipped[child]
        unclipped.update(parents)
        neighbors, target, maximum = table[res]
        for parent in sorted(parents):
            occupied = sum(1 for c in h3.grid_disk(parent, 1) if unclipped.get(c, 0) >= target)
            clipped[parent] = min(parents[parent], hex_limit(occupied, neighbors, target, maximum))
        level = sorted(parents)
    scales = {}
    for cell in leaves:
        # the product as one fraction: integer products, a single reduction at the end
        numerator = denominator = 1
        for res in HIP17_RESOLUTIONS:
            parent = h3.cell_to_parent(cell, res)
            numerator *= clipped[parent]
            denominator *= unclipped[parent]
        scales[cell] = Fraction(numerator, denominator)
    return scales


def boost_of(cell: int, boosts: Any, epoch: int, max_boost: int) -> int:
    """Largest unexpired boost multiplier of a hex containing ``cell`` (1 when none).

    ``boosts``: [[h3 cell of resolution <= 11, multiplier >= 1, last epoch], ...]; malformed
    entries are ignored, multipliers are clipped to ``max_boost``.
    """
    best = 1
    if not isinstance(boosts, list | tuple):
        return best
    for entry in boosts:
        if not (
            isinstance(entry, list | tuple)
            and len(entry) == 3
            and all(type(x) is int for x in entry)
            and 0 < entry[0] < 2**64
            and h3.is_valid_cell(entry[0])
        ):
            continue
        hexagon, multiplier, until = entry
        res = h3.get_resolution(hexagon)
        if until >= epoch and res <= DISTANCE_RES and h3.cell_to_parent(cell, res) == hexagon:
            best = max(best, min(multiplier, max_boost))
    return best


def location_trust(asserted: int, entry: Any, epoch: int, ramp_epochs: int) -> Fraction:
    """(epochs at this location + 1) / ramp, at most 1; a new or moved location starts at 0."""
    age = 0
    if (
        isinstance(entry, list | tuple)
        and len(entry) == 3
        and all(type(x) is int for x in entry)
        and entry[0] == asserted
    ):
        age = max(0, epoch - entry[1])
    return min(Fraction(1), Fraction(age + 1, ramp_epochs))


def trust_and_boost(
    prior: Mapping[str, Any],
    address: str,
    asserted: int,
    cell: int,
    epoch: int,
    ramp_epochs: int,
    max_boost: int,
) -> tuple[Fraction, int]:
    locations = prior.get(LOCATIONS_KEY, {})
    entry = locations.get(address) if isinstance(locations, Mapping) else None
    trust = location_trust(asserted, entry, epoch, ramp_epochs)
    return trust, boost_of(cell, prior.get(BOOSTS_KEY, []), epoch, max_boost)
