"""Coverage network benchmark: verify and score one epoch of beacons and witnesses at scale.

Prints JSON. The baseline is measured in the same run, in the same process: the raw time of
recovering the signer of every report from its id and signature (coincurve ecrecover, what
ingest already spends on the same reports). Target (issue 7): verify and score of one epoch
with 100,000 hotspots and 2,000,000 witness reports in <= 60 s on this machine.

``CoverageModule.verify`` is what the oracle pipeline runs: from 200,000 witness reports on it
checks half of them in a spawned worker process (docs/decisions/0005-coverage-witness-split.md),
so ``cpu_seconds_total`` (this process) and ``worker_cpu_seconds`` are both reported.

The city: hotspots on a jittered lattice of res-11 H3 cells about 500 m apart around Paris,
each beaconing once; each beacon is witnessed by ``witnesses / hotspots`` hotspots drawn from
those within ~1.6 km, with a signal below the free-space bound. Every report is a genuine
signed envelope (generated before the clock starts; generation is not timed).

    .venv/bin/python bench/coverage.py [--hotspots 100000] [--witnesses 2000000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import time
from typing import Any, Final

import h3.api.basic_int as h3

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import (
    REPORT_VERSION,
    Report,
    ReportDomain,
    UnsignedReport,
    report_digest,
)
from depinkit.core.keys import Account, keccak256, recover_address_bytes
from depinkit.networks import DeviceView, EpochContext, ReceivedReport
from depinkit.networks.coverage import NAME, Beacon, CoverageModule, Witness
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.beacon import beacon_payload, beacon_window

TARGET_SECONDS: Final[float] = 60.0  # issue 7: verify + score of the epoch
ORIGIN: Final[int] = 626558102896488447  # res-11 cell in Paris
STEP_CELLS: Final[int] = 10  # lattice step in res-11 cells (~500 m); jitter keeps >= 8
SPACING_M: Final[float] = 49.647  # mean res-11 cell spacing (depinkit.networks.coverage.geo)
REACH_STEPS: Final[int] = 3  # witnesses come from within this many lattice steps
START_MS: Final[int] = 1_700_000_000_000
EPOCH_MS: Final[int] = 86_400_000
FREQ: Final[int] = 868_100_000
DOMAIN: Final[ReportDomain] = ReportDomain(
    chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3"
)
SEED: Final[int] = 7


def _signed(account: Account, kind: str, body: Any, at_ms: int, seq: int) -> ReceivedReport:
    unsigned = UnsignedReport(
        version=REPORT_VERSION,
        network=NAME,
        kind=kind,
        device=account.address,
        seq=seq,
        timestamp_ms=at_ms,
        epoch=1,
        body=canonical_encode(body),
    )
    digest = report_digest(DOMAIN, unsigned)
    report = Report(
        version=REPORT_VERSION,
        network=NAME,
        kind=kind,
        device=account.address,
        seq=seq,
        timestamp_ms=at_ms,
        epoch=1,
        body=unsigned.body,
        signature=account.sign_digest(digest),
    )
    return ReceivedReport(id=digest, report=report)


def make_epoch(hotspots: int, witnesses: int) -> tuple[EpochContext, list[ReceivedReport]]:
    rng = random.Random(SEED)
    side = math.isqrt(hotspots - 1) + 1
    oi, oj = h3.cell_to_local_ij(ORIGIN, ORIGIN)
    accounts = [
        Account.from_key(keccak256(b"bench" + i.to_bytes(4, "big"))) for i in range(hotspots)
    ]
    grid: dict[tuple[int, int], int] = {}
    cells: list[int] = []
    for k in range(hotspots):
        r, c = divmod(k, side)
        grid[(r, c)] = k
        i, j = r * STEP_CELLS + rng.randrange(-1, 2), c * STEP_CELLS + rng.randrange(-1, 2)
        cells.append(h3.local_ij_to_cell(ORIGIN, oi + i, oj + j))
    devices = {
        a.address: DeviceView(
            owner=Account.from_key(keccak256(a.private_key)).address, network=NAME, h3_cell=cell
        )
        for a, cell in zip(accounts, cells, strict=True)
    }
    parameters = CoverageModule().defaults()
    parameters[P.BEACON_INTERVAL_S] = EPOCH_MS // 1000
    entropy = keccak256(b"bench epoch")
    ctx = EpochContext(
        network=NAME,
        epoch=1,
        start_ms=START_MS,
        end_ms=START_MS + EPOCH_MS,
        entropy=entropy,
        parameters=parameters,
        devices=devices,
    )
    offsets = [
        (dr, dc)
        for dr in range(-REACH_STEPS, REACH_STEPS + 1)
        for dc in range(-REACH_STEPS, REACH_STEPS + 1)
        if (dr, dc) != (0, 0) and dr * dr - dr * dc + dc * dc <= REACH_STEPS * REACH_STEPS
    ]
    per_beacon = witnesses // hotspots
    reports: list[ReceivedReport] = []
    seq = 0
    for k, account in enumerate(accounts):
        opens, _ = beacon_window(
            entropy,
            account.address,
            0,
            start_ms=START_MS,
            end_ms=START_MS + EPOCH_MS,
            interval_s=parameters[P.BEACON_INTERVAL_S],
            window_s=parameters[P.ENTROPY_WINDOW_S],
        )
        payload = beacon_payload(entropy, account.address, 0)
        sent = Beacon(
            slot=0, payload=payload, frequency_hz=FREQ, tx_power_dbm=14, transmit_ms=opens + 500
        )
        seq += 1
        reports.append(_signed(account, "beacon", sent, sent.transmit_ms + 50, seq))
        r, c = divmod(k, side)
        near = [grid[(r + dr, c + dc)] for dr, dc in offsets if (r + dr, c + dc) in grid]
        for w in rng.sample(near, min(per_beacon, len(near))):
            dr, dc = w // side - r, w % side - c
            d_m = SPACING_M * STEP_CELLS * math.sqrt(dr * dr - dr * dc + dc * dc)
            # log-distance loss with exponent 3.5 beyond 100 m: always below the free-space bound
            loss = 20 * math.log10(d_m * FREQ) - 147.55 + 15 * math.log10(d_m / 100)
            rssi = round(10 * (14 + 4 - loss))
            heard = Witness(
                beaconer=account.address,
                slot=0,
                payload=payload,
                rssi_dbm10=rssi,
                snr_db10=50,
                frequency_hz=FREQ,
                received_ms=sent.transmit_ms + rng.randrange(20, 400),
            )
            seq += 1
            reports.append(_signed(accounts[w], "witness", heard, heard.received_ms + 100, seq))
    return ctx, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hotspots", type=int, default=100_000)
    parser.add_argument("--witnesses", type=int, default=2_000_000)
    args = parser.parse_args()
    generated = time.perf_counter()
    ctx, reports = make_epoch(args.hotspots, args.witnesses)
    generation = time.perf_counter() - generated
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    started, cpu_started = time.perf_counter(), time.process_time()
    for item in reports:
        recover_address_bytes(item.id, item.report.signature)
    baseline, baseline_cpu = time.perf_counter() - started, time.process_time() - cpu_started

    module = CoverageModule()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, cpu_started = time.perf_counter(), time.process_time()
    verdicts = module.verify(ctx, reports)
    verified = time.perf_counter()
    scores = module.score(ctx, verdicts)
    scored = time.perf_counter()
    total, cpu = scored - started, time.process_time() - cpu_started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = (children.ru_utime + children.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    accepted = sum(1 for v in verdicts if v.accepted)
    reasons: dict[str, int] = {}
    for v in verdicts:
        if not v.accepted:
            reasons[v.reason] = reasons.get(v.reason, 0) + 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {
        "hotspots": args.hotspots,
        "reports": len(reports),
        "witness_reports": len(reports) - args.hotspots,
        "accepted": accepted,
        "rejected_by_reason": dict(sorted(reasons.items())),
        "rewarded_hotspots": len(scores["coverage"]),
        "seconds": {
            "verify": round(verified - started, 3),
            "score": round(scored - verified, 3),
            "total": round(total, 3),
        },
        "cpu_seconds_total": round(cpu, 3),
        "worker_cpu_seconds": round(worker_cpu, 3),  # the split witness checks' worker
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "baseline_signature_recovery_seconds": round(baseline, 3),
        "baseline_signature_recovery_cpu_seconds": round(baseline_cpu, 3),
        "ratio_to_baseline": round(total / baseline, 2),
        "microseconds_per_report": round(1e6 * total / len(reports), 1),
        "generation_seconds_untimed": round(generation, 1),
        "peak_rss_gib": round(peak / 1024**3, 3),
        "rss_after_inputs_gib": round(rss_inputs / 1024**3, 3),
        "meets_time_target": total <= TARGET_SECONDS,
        "target_seconds": TARGET_SECONDS,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
