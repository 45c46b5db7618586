"""One epoch's rewards end to end: budget, allocation, ledger, manifest; still pure.

The epoch pipeline calls this once it has the scores, the verdicts, the parameters read at
the epoch's start block, the registry view and the previous epoch's totals and carry; the
simulator and the benchmark call the very same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from depinkit.oracle.rewards.allocate import Allocation, Scores, allocate
from depinkit.oracle.rewards.emission import EmissionSchedule
from depinkit.oracle.rewards.ledger import Ledger, credit_epoch
from depinkit.oracle.rewards.manifest import CreditSpend, RewardManifest, Verdict, build_manifest


class EpochRewards(msgspec.Struct, frozen=True, kw_only=True):
    """What an epoch's rewards produce; ``ledger.root`` and ``ledger.total`` get signed."""

    allocation: Allocation
    ledger: Ledger
    manifest: RewardManifest


def compute_epoch_rewards(
    *,
    epoch: int,
    schedule: EmissionSchedule,
    carry_in: int,
    weights: Mapping[str, int],
    splits: Mapping[str, Mapping[str, int]],
    scores: Scores,
    owners: Mapping[str, str],
    previous: Mapping[str, int],
    verdicts: Iterable[Verdict] = (),
    credits: Iterable[CreditSpend] = (),
) -> EpochRewards:
    """Allocate ``schedule.budget(epoch) + carry_in``, credit owners, explain it all.

    ``carry_in`` and ``previous`` (owner -> cumulative) are the previous epoch's
    ``allocation.carry_out`` and ``ledger.totals``; 0 and ``{}`` before the first epoch.
    """
    allocation = allocate(
        emission=schedule.budget(epoch),
        carry_in=carry_in,
        weights=weights,
        splits=splits,
        scores=scores,
    )
    ledger = credit_epoch(previous, allocation, owners)
    manifest = build_manifest(
        epoch=epoch,
        schedule=schedule,
        allocation=allocation,
        ledger=ledger,
        verdicts=verdicts,
        credits=credits,
    )
    return EpochRewards(allocation=allocation, ledger=ledger, manifest=manifest)
