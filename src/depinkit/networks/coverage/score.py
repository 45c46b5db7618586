"""Scoring of the coverage network (docs/networks/coverage.md, "Formulas").

Two buckets, whose shares are the governed on-chain splits ``split.coverage`` and
``split.data`` (so a DAO can move rewards from bootstrapping coverage to paying for use):

* ``coverage``: points = floor(POINTS_PER_UNIT * units * hex_scale * boost * trust), where
  units is the sum of a hotspot's HIP-15 beacon and witness units over its accepted reports;
  computed once per hotspot on exact fractions, rounded down once.
* ``data``: points = credit base units the hotspot's accepted packet receipts spent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from math import lcm
from typing import Final, NamedTuple

from depinkit.core.gcpause import gc_paused
from depinkit.networks.context import EpochContext
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.geo import location_cell
from depinkit.networks.coverage.rewards import (
    beacon_units,
    decay,
    hex_scales,
    trust_and_boost,
    witness_units,
)
from depinkit.networks.coverage.verify import FACT_BEACONER, FACT_WITNESSES
from depinkit.networks.module import MAX_POINTS, Scores, Verdict
from depinkit.networks.receipts import FACT_CREDITS

COVERAGE: Final[str] = "coverage"  # bucket: proof of coverage (split.coverage on chain)
DATA: Final[str] = "data"  # bucket: packets relayed, paid in credits (split.data on chain)
BUCKETS: Final[tuple[str, ...]] = (COVERAGE, DATA)
POINTS_PER_UNIT: Final[int] = 1_000_000  # points: a micro-unit resolution, floor once per hotspot


class HotspotCoverage(NamedTuple):
    """One rewarded hotspot as the explorer shows it."""

    hex: int  # res-11 asserted cell
    units: Fraction  # HIP-15 units earned
    scale: Fraction  # HIP-17 hex density scale
    boost: int  # boosted-hex multiplier (1: none)
    trust: Fraction  # location trust multiplier
    points: int  # coverage points


def hip17_table(ctx: EpochContext) -> dict[int, tuple[int, int, int]]:
    return {
        res: (
            ctx.param(P.hip17_key(res, "neighbors")),
            ctx.param(P.hip17_key(res, "target")),
            ctx.param(P.hip17_key(res, "max")),
        )
        for res in P.HIP17_RESOLUTIONS
    }


def coverage_units(ctx: EpochContext, verdicts: Sequence[Verdict]) -> dict[str, Fraction]:
    """HIP-15 units per hotspot from accepted beacon and witness verdicts.

    Counts (hotspot, role, n) first and multiplies once per distinct triple: the sum is
    exact, so neither the order of the verdicts nor the grouping changes it.
    """
    redundancy, rate = ctx.param(P.WITNESS_REDUNDANCY), decay(ctx.param(P.DECAY_RATE_BPS))
    cap = ctx.param(P.MAX_WITNESSES_PER_BEACON)
    earning = [
        v
        for v in verdicts
        if v.accepted and FACT_WITNESSES in v.facts and FACT_CREDITS not in v.facts
    ]
    ids = [v.report_id for v in earning]
    if len(set(ids)) != len(ids):  # a report counts once: keep the first verdict of each id
        seen: set[bytes] = set()
        first = []
        for v in earning:
            if v.report_id not in seen:
                seen.add(v.report_id)
                first.append(v)
        earning = first
    # counted by the n the verdict states; n is clipped to [0, cap] when valued below
    counts = Counter((v.device, FACT_BEACONER in v.facts, v.facts[FACT_WITNESSES]) for v in earning)
    # Every unit value of the epoch over one common denominator: the sums are then integer
    # additions, and each hotspot's total becomes a Fraction once (still exact).
    per_n = {
        (is_witness, n): (witness_units if is_witness else beacon_units)(
            min(max(n, 0), cap), redundancy, rate
        )
        for is_witness, n in {(w, n) for _, w, n in counts}
    }
    common = lcm(1, *(u.denominator for u in per_n.values()))
    scaled = {key: u.numerator * (common // u.denominator) for key, u in per_n.items()}
    sums: dict[str, int] = {}
    for (device, is_witness, n), count in counts.items():
        sums[device] = sums.get(device, 0) + count * scaled[(is_witness, n)]
    return {device: Fraction(sums[device], common) for device in sorted(sums)}


def coverage_details(ctx: EpochContext, verdicts: Sequence[Verdict]) -> dict[str, HotspotCoverage]:
    """Per rewarded hotspot: its res-11 hex, units, HIP-17 scale, boost, trust and points."""
    units = coverage_units(ctx, verdicts)
    cells = {}
    for device in sorted(units):
        info = ctx.devices.get(device)
        cell = location_cell(info.h3_cell) if info is not None else None
        if cell is not None:
            cells[device] = cell
    scales = hex_scales(cells.values(), hip17_table(ctx))
    ramp, max_boost = ctx.param(P.TRUST_RAMP_EPOCHS), ctx.param(P.MAX_BOOST)
    out = {}
    for device in sorted(cells):
        cell = cells[device]
        trust, boost = trust_and_boost(
            ctx.prior, device, ctx.devices[device].h3_cell, cell, ctx.epoch, ramp, max_boost
        )
        u, scale = units[device], scales[cell]
        points = min(
            MAX_POINTS,
            (u.numerator * scale.numerator * boost * trust.numerator * POINTS_PER_UNIT)
            // (u.denominator * scale.denominator * trust.denominator),
        )
        out[device] = HotspotCoverage(cell, units[device], scales[cell], boost, trust, points)
    return out


def data_points(verdicts: Sequence[Verdict]) -> dict[str, int]:
    """Credits spent per hotspot by its accepted receipts (each report counted once)."""
    points: dict[str, int] = {}
    seen: set[bytes] = set()
    for v in verdicts:  # integer sums: the order does not matter
        if not v.accepted:
            continue
        credits = v.facts.get(FACT_CREDITS)
        if credits is not None and credits > 0 and v.report_id not in seen:
            seen.add(v.report_id)
            points[v.device] = min(MAX_POINTS, points.get(v.device, 0) + credits)
    return points


def score_coverage(ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
    with gc_paused():  # millions of verdicts in, acyclic counters out: see core.gcpause
        details = coverage_details(ctx, verdicts)
        coverage = {d: details[d].points for d in sorted(details) if details[d].points > 0}
        data = data_points(verdicts)
    return {COVERAGE: coverage, DATA: {d: data[d] for d in sorted(data)}}
