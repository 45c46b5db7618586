"""Epoch rewards benchmark: allocation, cumulative totals, Merkle tree and manifest at scale.

Prints JSON. The baseline is measured in the same run, in the same process: the raw time of
hashing N leaves (keccak256(keccak256(abi.encode(address, uint256))) with safe-pysha3, the
least any tree over N owners must spend). Targets (issue 4): the whole epoch for 1,000,000
devices in <= 30 s and <= 2 GiB peak memory on a 2-core machine.

Each variant runs in its own subprocess so its peak RSS (ru_maxrss) is its own. Inputs (one
network, two buckets, previous totals for 80% of owners in address order as a ledger gives
them) are generated before the clock starts; the peak includes them, as it would in an
oracle. Variants:

* ``owners_1_per_3``: one owner per three devices (fleets);
* ``owners_1_per_1``: one owner per device, the worst case for the tree.

    .venv/bin/python bench/rewards.py [--devices 1000000] [--variant owners_1_per_3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from typing import Any, Final

import sha3

from depinkit.core.keys import keccak256
from depinkit.oracle.rewards import (
    EmissionSchedule,
    allocate,
    build_manifest,
    credit_epoch,
    encode_manifest,
)

TARGET_SECONDS: Final[float] = 30.0  # issue 4: the whole epoch at 1,000,000 devices
TARGET_PEAK_BYTES: Final[int] = 2 * 1024**3  # issue 4: 2 GiB peak memory
PREVIOUS_SHARE: Final[float] = 0.8  # owners that earned in an earlier epoch
VARIANTS: Final[dict[str, int]] = {"owners_1_per_3": 3, "owners_1_per_1": 1}  # devices/owner
SEED: Final[int] = 4  # inputs are the same on every run


def _addresses(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct random lowercase addresses."""
    raw = rng.randbytes(20 * count).hex()
    out = ["0x" + raw[i : i + 40] for i in range(0, len(raw), 40)]
    assert len(set(out)) == count  # 160 random bits: a collision means a broken generator
    return out


def make_inputs(devices: int, per_owner: int) -> dict[str, Any]:
    """One network ``uptime``, buckets ``online`` (every device) and ``relay`` (a third)."""
    rng = random.Random(SEED)
    device = _addresses(rng, devices)
    owner = _addresses(rng, max(1, devices // per_owner))
    owners = {d: owner[i % len(owner)] for i, d in enumerate(device)}
    online = {d: rng.randrange(1, 25) for d in device}  # distinct hours online
    relay = {d: rng.randrange(0, 10_000) for d in device[::3]}
    # the previous epoch's ledger.totals, which come in address order; scores and the
    # registry view come in no particular order
    previous = {o: rng.randrange(10**18, 10**22) for o in owner if rng.random() < PREVIOUS_SHARE}
    previous = dict(sorted(previous.items()))
    return {
        "weights": {"uptime": 10_000},
        "splits": {"uptime": {"online": 7_000, "relay": 3_000}},
        "scores": {"uptime": {"online": online, "relay": relay}},
        "owners": owners,
        "previous": previous,
        "owner_count": len(owner),
    }


def hash_leaves(count: int) -> tuple[float, float]:
    """Wall and CPU seconds to hash ``count`` StandardMerkleTree leaves, nothing else."""
    rng = random.Random(SEED + 1)
    prefix = bytes(12)
    accounts = [rng.randbytes(20) for _ in range(count)]
    amount = (10**21).to_bytes(32, "big")
    new = sha3.keccak_256
    started, cpu_started = time.perf_counter(), time.process_time()
    for account in accounts:
        new(new(prefix + account + amount).digest()).digest()
    return time.perf_counter() - started, time.process_time() - cpu_started


def run_variant(devices: int, variant: str) -> dict[str, Any]:
    """One epoch of ``variant`` timed stage by stage; called in a fresh process."""
    inputs = make_inputs(devices, VARIANTS[variant])
    schedule = EmissionSchedule(initial=10**24, halving_epochs=52, cap=10**27)
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    owner_count = inputs.pop("owner_count")
    baseline, baseline_cpu = hash_leaves(devices)

    cpu_started = time.process_time()
    started = time.perf_counter()
    allocation = allocate(
        emission=schedule.budget(3),
        carry_in=12_345,
        weights=inputs["weights"],
        splits=inputs["splits"],
        scores=inputs["scores"],
    )
    t1 = time.perf_counter()
    ledger = credit_epoch(inputs["previous"], allocation, inputs["owners"])
    t2 = time.perf_counter()
    manifest = build_manifest(epoch=3, schedule=schedule, allocation=allocation, ledger=ledger)
    t3 = time.perf_counter()
    encoded = encode_manifest(manifest)
    digest = keccak256(encoded)
    t4 = time.perf_counter()
    stages = {
        "allocation": t1 - started,
        "ledger_and_tree": t2 - t1,
        "manifest": t3 - t2,
        "encode_and_hash": t4 - t3,
    }
    total = t4 - started
    cpu = time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "variant": variant,
        "devices": devices,
        "owners": owner_count,
        "leaves": len(ledger.totals),
        "seconds": {k: round(v, 3) for k, v in stages.items()} | {"total": round(total, 3)},
        "cpu_seconds_total": round(cpu, 3),
        "baseline_hash_leaves_seconds": round(baseline, 3),
        "baseline_leaves": devices,
        "baseline_hash_leaves_cpu_seconds": round(baseline_cpu, 3),
        "ratio_to_baseline": round(total / baseline, 2),
        "cpu_ratio_to_baseline": round(cpu / baseline_cpu, 2),
        "peak_rss_bytes": peak,
        "peak_rss_gib": round(peak / 1024**3, 3),
        "rss_after_inputs_gib": round(rss_inputs / 1024**3, 3),
        "manifest_bytes": len(encoded),
        "manifest_hash": "0x" + digest.hex(),
        "root": "0x" + ledger.root.hex(),
        "meets_time_target": total <= TARGET_SECONDS,
        "meets_memory_target": peak <= TARGET_PEAK_BYTES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--variant", choices=sorted(VARIANTS), action="append")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    variants = args.variant or list(VARIANTS)
    if args.child:
        print(json.dumps(run_variant(args.devices, variants[0])))
        return
    results = []
    for variant in variants:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                f"--devices={args.devices}",
                f"--variant={variant}",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results.append(json.loads(out))
    print(
        json.dumps(
            {
                "benchmark": "epoch rewards: allocation, cumulative totals, Merkle tree, manifest",
                "targets": {"seconds": TARGET_SECONDS, "peak_rss_gib": TARGET_PEAK_BYTES / 1024**3},
                "cpus": os.cpu_count(),
                "variants": results,
                "all_targets_met": all(
                    r["meets_time_target"] and r["meets_memory_target"] for r in results
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
