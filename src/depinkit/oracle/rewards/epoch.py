"""One epoch's rewards end to end: budget, allocation, ledger, manifest; still pure.

The epoch pipeline calls this once it has the scores, the verdicts, the parameters read at
the epoch's start block, the registry view and the previous epoch's totals and carry; the
simulator and the benchmark call the very same function.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor

import msgspec

from depinkit.oracle.rewards.allocate import Allocation, Scores, allocate
from depinkit.oracle.rewards.emission import EmissionSchedule
from depinkit.oracle.rewards.ledger import PARALLEL_ROOT_LEAVES, Ledger, credit_epoch
from depinkit.oracle.rewards.manifest import (
    CreditSpend,
    DeviceDetails,
    RewardManifest,
    Verdict,
    build_manifest,
)


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
    details: Iterable[DeviceDetails] = (),
    parallel_root_leaves: int = PARALLEL_ROOT_LEAVES,
) -> EpochRewards:
    """Allocate ``schedule.budget(epoch) + carry_in``, credit owners, explain it all.

    ``carry_in`` and ``previous`` (owner -> cumulative) are the previous epoch's
    ``allocation.carry_out`` and ``ledger.totals``; 0 and ``{}`` before the first epoch.
    From ``parallel_root_leaves`` accounts on, the Merkle root is hashed in a worker
    process while this one builds the manifest (docs/decisions/0003-parallel-root.md).
    """
    allocation = allocate(
        emission=schedule.budget(epoch),
        carry_in=carry_in,
        weights=weights,
        splits=splits,
        scores=scores,
    )
    ledger = credit_epoch(previous, allocation, owners)
    if len(ledger) < parallel_root_leaves:
        manifest = build_manifest(
            epoch=epoch,
            schedule=schedule,
            allocation=allocation,
            ledger=ledger,
            verdicts=verdicts,
            credits=credits,
            details=details,
        )
        return EpochRewards(allocation=allocation, ledger=ledger, manifest=manifest)
    # spawn, not fork: the worker starts clean rather than sharing (and, through reference
    # counts, copying) this process's million-entry structures.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        ledger.compute_root_in(pool)
        manifest = build_manifest(  # reads ledger.root last: the worker's result, awaited
            epoch=epoch,
            schedule=schedule,
            allocation=allocation,
            ledger=ledger,
            verdicts=verdicts,
            credits=credits,
            details=details,
        )
    return EpochRewards(allocation=allocation, ledger=ledger, manifest=manifest)
