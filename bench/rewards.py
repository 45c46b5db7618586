"""Epoch rewards benchmark: allocation, cumulative totals, Merkle tree and manifest at scale.

Prints JSON. The baseline is measured in the same run, in the same process: the raw time of
hashing N leaves (keccak256(keccak256(abi.encode(address, uint256))) with safe-pysha3, the
least any tree over N owners must spend). Targets (issue 4): the whole epoch for 1,000,000
devices in <= 30 s and <= 2 GiB peak memory on a 2-core machine.

The epoch is computed by ``compute_epoch_rewards``, the function the oracle pipeline calls:
from 200,000 tree leaves on it hashes the Merkle root in a worker process while it builds
the manifest (docs/decisions/0003-parallel-root.md), so memory is reported for both
processes (sampled together every 20 ms) and the target is checked against their
combined peak. ``--serial`` forces the one-process
path, for comparison.

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
import threading
import time
from typing import Any, Final

import sha3

from depinkit.core.keys import keccak256
from depinkit.oracle.rewards import EmissionSchedule, compute_epoch_rewards, encode_manifest
from depinkit.oracle.rewards.ledger import PARALLEL_ROOT_LEAVES

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


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return found


class MemorySampler(threading.Thread):
    """Peak of this process's RSS plus its children's, sampled every 20 ms.

    ru_maxrss of children is useless here: a worker started with spawn counts, in the
    instant between fork and exec, every page it shares with this process.
    """

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = 0
        self.peak_children_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._stop_event.wait(0.02):
            children = sum(_rss_kib(c) for c in _children(me))
            self.peak_children_kib = max(self.peak_children_kib, children)
            self.peak_kib = max(self.peak_kib, _rss_kib(me) + children)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_variant(devices: int, variant: str, serial: bool) -> dict[str, Any]:
    """One epoch of ``variant``; called in a fresh process."""
    inputs = make_inputs(devices, VARIANTS[variant])
    schedule = EmissionSchedule(initial=10**24, halving_epochs=52, cap=10**27)
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    owner_count = inputs.pop("owner_count")
    baseline, baseline_cpu = hash_leaves(devices)

    sampler = MemorySampler()
    sampler.start()
    cpu_started = time.process_time()
    started = time.perf_counter()
    result = compute_epoch_rewards(
        epoch=3,
        schedule=schedule,
        carry_in=12_345,
        weights=inputs["weights"],
        splits=inputs["splits"],
        scores=inputs["scores"],
        owners=inputs["owners"],
        previous=inputs["previous"],
        parallel_root_leaves=2**63 if serial else PARALLEL_ROOT_LEAVES,
    )
    t1 = time.perf_counter()
    encoded = encode_manifest(result.manifest)
    digest = keccak256(encoded)
    t2 = time.perf_counter()
    total = t2 - started
    cpu = time.process_time() - cpu_started
    sampler.stop()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    worker_peak = sampler.peak_children_kib * 1024
    combined = max(sampler.peak_kib * 1024, peak)
    worker_cpu = children.ru_utime + children.ru_stime
    leaves = len(result.ledger)
    return {
        "variant": variant,
        "devices": devices,
        "owners": owner_count,
        "leaves": leaves,
        "root_in_worker": not serial and leaves >= PARALLEL_ROOT_LEAVES,
        "seconds": {
            "rewards_tree_manifest": round(t1 - started, 3),
            "encode_and_hash": round(t2 - t1, 3),
            "total": round(total, 3),
        },
        "cpu_seconds_total": round(cpu, 3),
        "worker_cpu_seconds": round(worker_cpu, 3),
        "baseline_hash_leaves_seconds": round(baseline, 3),
        "baseline_leaves": devices,
        "baseline_hash_leaves_cpu_seconds": round(baseline_cpu, 3),
        "ratio_to_baseline": round(total / baseline, 2),
        "peak_rss_bytes": peak,
        "peak_rss_gib": round(peak / 1024**3, 3),
        "worker_peak_rss_gib": round(worker_peak / 1024**3, 3),
        "peak_rss_both_gib": round(combined / 1024**3, 3),
        "rss_after_inputs_gib": round(rss_inputs / 1024**3, 3),
        "manifest_bytes": len(encoded),
        "manifest_hash": "0x" + digest.hex(),
        "root": "0x" + result.ledger.root.hex(),
        "meets_time_target": total <= TARGET_SECONDS,
        "meets_memory_target": combined <= TARGET_PEAK_BYTES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--variant", choices=sorted(VARIANTS), action="append")
    parser.add_argument("--serial", action="store_true", help="hash the root in-process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    variants = args.variant or list(VARIANTS)
    if args.child:
        print(json.dumps(run_variant(args.devices, variants[0], args.serial)))
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
                *(["--serial"] if args.serial else []),
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
