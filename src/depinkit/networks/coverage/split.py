"""The per-witness checks of a large epoch, split between this process and one worker.

Each witness report's common checks and witness checks depend only on the report, the
epoch's context, the asserted cells and the accepted beacons: a pure function per report.
From ``SPLIT_MIN_WITNESSES`` reports on, the second half goes to a worker process (spawned,
so it shares nothing with the caller's state and threads) while this process checks the
first half; the results are joined in order, so the outcome is exactly the one-process
outcome (tested), and every oracle gets the same verdicts however many cores it has.

The worker receives one msgpack document (context, cells, beacons, reports) and returns one
(the per-report results), so the transfer is two C-level encodes and decodes. If the
worker cannot be started or dies, the caller checks the second half itself.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Final

import msgspec

from depinkit.networks.context import DeviceView, EpochContext
from depinkit.networks.coverage.schemas import Beacon
from depinkit.networks.module import ReceivedReport

log = logging.getLogger(__name__)

SPLIT_MIN_WITNESSES: Final[int] = 200_000  # below this a worker's start-up costs more than it saves

# One result per witness report: (reason, detail) when rejected, else
# (received_ms, rssi_dbm10, beaconer, slot, distance_m, strong) of the link it makes.
WitnessResult = tuple[Any, ...]
CheckBatch = Callable[
    [
        EpochContext,
        Sequence[ReceivedReport],
        Mapping[str, int],
        Mapping[str, str],
        Mapping[tuple[str, int], Beacon],
    ],
    list[WitnessResult],
]


class _Job(msgspec.Struct, array_like=True, gc=False):
    """What the worker needs to check its share of the witnesses."""

    network: str
    epoch: int
    start_ms: int
    end_ms: int
    entropy: bytes
    parameters: dict[str, int]
    devices: dict[str, DeviceView]
    cells: dict[str, int]
    beacons: list[tuple[str, int, Beacon]]
    reports: list[ReceivedReport]


def check_split(
    check: CheckBatch,
    ctx: EpochContext,
    items: Sequence[ReceivedReport],
    cells: Mapping[str, int],
    owners: Mapping[str, str],
    beacons: Mapping[tuple[str, int], Beacon],
) -> list[WitnessResult]:
    """``check(ctx, items, ...)``, the second half in a worker process when ``items`` is large."""
    if len(items) < SPLIT_MIN_WITNESSES:
        return check(ctx, items, cells, owners, beacons)
    half = len(items) // 2
    payload = msgspec.msgpack.encode(
        _Job(
            network=ctx.network,
            epoch=ctx.epoch,
            start_ms=ctx.start_ms,
            end_ms=ctx.end_ms,
            entropy=ctx.entropy,
            parameters=dict(ctx.parameters),
            devices={
                address: DeviceView(
                    owner=info.owner, network=info.network, h3_cell=info.h3_cell, status=info.status
                )
                for address, info in ctx.devices.items()
            },
            cells=dict(cells),
            beacons=[(beaconer, slot, body) for (beaconer, slot), body in beacons.items()],
            reports=list(items[half:]),
        )
    )
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_check_in_worker, payload)
        del payload
        first = check(ctx, items[:half], cells, owners, beacons)
        try:
            second: list[WitnessResult] = msgspec.msgpack.decode(future.result())
        except (BrokenProcessPool, OSError) as exc:
            log.warning("witness worker failed (%s); checking its half here", exc)
            second = check(ctx, items[half:], cells, owners, beacons)
    first.extend(second)
    return first


def _check_in_worker(payload: bytes) -> bytes:
    """The worker's side: rebuild the context, check the reports, return the results."""
    from depinkit.networks.coverage.verify import check_witness_batch  # no cycle at import

    job = msgspec.msgpack.decode(payload, type=_Job)
    ctx = EpochContext(
        network=job.network,
        epoch=job.epoch,
        start_ms=job.start_ms,
        end_ms=job.end_ms,
        entropy=job.entropy,
        parameters=job.parameters,
        devices=job.devices,
    )
    owners = {address: view.owner for address, view in job.devices.items()}
    beacons = {(beaconer, slot): body for beaconer, slot, body in job.beacons}
    return msgspec.msgpack.encode(check_witness_batch(ctx, job.reports, job.cells, owners, beacons))
