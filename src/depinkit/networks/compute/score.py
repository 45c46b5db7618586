"""Scoring of the compute network (docs/networks/compute.md, "Formulas").

Two buckets:

* ``usage``: nanocredits a provider earned in the epoch for fuel that survived
  verification (the ``credits`` fact of its accepted completions);
* ``availability``: idle capacity offered, one offer per availability slot, with
  diminishing returns across the devices of one owner (as Render's availability rewards):

      raw(d)       = sum over d's counted slots of min((slots - busy) * mfuel_per_s, cap)
      rank(d)      = position of d among its owner's devices by (raw desc, address asc)
      weight(k)    = weight(k-1) * decay_ppm // 1e6,  weight(0) = 1e6
      points(d)    = raw(d) * weight(rank(d)) // 1e6

A provider proven wrong in the epoch (named by a slashing verdict) earns no availability
points: idle capacity from a cheat is worth nothing to consumers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from depinkit.core.keys import to_checksum
from depinkit.networks.compute.parameters import AVAILABILITY_DECAY_PPM, PPM
from depinkit.networks.context import EpochContext
from depinkit.networks.module import MAX_POINTS, Scores, Verdict
from depinkit.networks.receipts import FACT_CREDITS

USAGE: Final[str] = "usage"  # bucket: split.usage on chain
AVAILABILITY: Final[str] = "availability"  # bucket: split.availability on chain
BUCKETS: Final[tuple[str, ...]] = (AVAILABILITY, USAGE)

FACT_SLOT: Final[str] = "slot"  # offer: availability slot index within the epoch
FACT_CAPACITY: Final[str] = "capacity"  # offer: idle million fuel per second, capped
FACT_FUEL: Final[str] = "fuel"  # completion: fuel units of the run
FACT_ROLE: Final[str] = "role"  # completion: 0 primary, 1 verify, 2 tiebreak
FACT_CONFIRMED: Final[str] = "confirmed"  # completion: 1 when another provider reproduced it
FACT_SLASHED: Final[str] = "slashed"  # slashing verdict: the wrong provider's address as an int
FACT_SLASH: Final[str] = "slash"  # slashing verdict: stake forfeited, token base units
FACT_JOB: Final[str] = "job"  # slashing verdict: the job id as an int (which result was wrong)


def slashed_devices(verdicts: Sequence[Verdict]) -> set[str]:
    """Addresses (EIP-55 by ``to_checksum``) named by a slashing verdict of the epoch."""
    return {
        to_checksum("0x" + v.facts[FACT_SLASHED].to_bytes(20, "big").hex())
        for v in verdicts
        if FACT_SLASHED in v.facts
    }


def score_usage(verdicts: Sequence[Verdict]) -> dict[str, int]:
    earned: dict[str, int] = {}
    for v in verdicts:
        if v.accepted and FACT_CREDITS in v.facts:
            earned[v.device] = earned.get(v.device, 0) + v.facts[FACT_CREDITS]
    return {d: min(earned[d], MAX_POINTS) for d in sorted(earned) if earned[d] > 0}


def score_availability(ctx: EpochContext, verdicts: Sequence[Verdict]) -> dict[str, int]:
    excluded = slashed_devices(verdicts)
    per_slot: dict[str, dict[int, int]] = {}
    for v in verdicts:
        if v.accepted and FACT_SLOT in v.facts and FACT_CAPACITY in v.facts:
            slots = per_slot.setdefault(v.device, {})
            slot = v.facts[FACT_SLOT]
            slots[slot] = max(slots.get(slot, 0), v.facts[FACT_CAPACITY])
    raw = {d: sum(s.values()) for d, s in per_slot.items() if d not in excluded}
    owners: dict[str, list[str]] = {}
    for device in sorted(raw):
        info = ctx.devices.get(device)
        owners.setdefault(info.owner if info is not None else device, []).append(device)
    decay = ctx.param(AVAILABILITY_DECAY_PPM)
    points: dict[str, int] = {}
    for owner in sorted(owners):
        weight = PPM
        for device in sorted(owners[owner], key=lambda d: (-raw[d], d)):
            value = raw[device] * weight // PPM
            if value > 0:
                points[device] = min(value, MAX_POINTS)
            weight = weight * decay // PPM
    return dict(sorted(points.items()))


def score_compute(ctx: EpochContext, verdicts: Sequence[Verdict]) -> Scores:
    """Points per bucket; devices without points are left out."""
    return {AVAILABILITY: score_availability(ctx, verdicts), USAGE: score_usage(verdicts)}
