"""The large steps of a large epoch, shared between this process and one worker process.

From ``SPLIT_MIN_REPORTS`` reports on, verification starts one worker (spawned, so it shares
nothing with the caller's state and threads) as its first step, sends it the epoch's context
and asserted cells once, and gives it two jobs:

* the per-witness checks of a share of the reports (``WORKER_SHARE``), while this process
  checks the rest (each report's checks depend only on the report, the epoch's context, the
  asserted cells and the accepted beacons: a pure function per report); the results are
  joined in order;
* the detectors that read the witness graph (:func:`~depinkit.networks.coverage.cheaters.
  graph_detectors`), while this process runs the beacon-relay detector and judges every
  beacon as if no new hotspot were flagged (the verifier then re-judges the beacons the
  first round's flags touch, and runs any later detection round itself).

Both give exactly the one-process outcome (tested), so every oracle gets the same verdicts
however many cores it has. Each job is one msgpack document each way, so the transfer is
C-level encodes and decodes: reports are decoded into plain mirrors of
:class:`ReceivedReport` (same fields, no validation: the caller already holds them as
validated reports, and re-running the envelope's header checks on a million reports would
cost the worker more than its share of the checks), links travel as columns of integers. If
the worker cannot be started, dies or fails, the caller does the job itself (a warning is
logged).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from types import TracebackType
from typing import Any, Final

import msgspec

from depinkit.core.gcpause import gc_paused
from depinkit.networks.context import DeviceView, EpochContext
from depinkit.networks.coverage.cheaters import (
    Flag,
    graph_flags,
    peer_maps,
)
from depinkit.networks.coverage.schemas import Beacon
from depinkit.networks.module import ReceivedReport

log = logging.getLogger(__name__)

SPLIT_MIN_REPORTS: Final[int] = 200_000  # below this a worker's start-up costs more than it saves
WORKER_SHARE: Final[tuple[int, int]] = (2, 5)  # of the witness reports: the worker also
# decodes its share, and starts once this process has encoded it

# One result per witness report: (reason, detail) when rejected, else the link it makes
# (see depinkit.networks.coverage.verify.check_witness_batch).
WitnessResult = Sequence[Any]
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


class _WireReport(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """:class:`depinkit.core.envelope.Report` as encoded, decoded without re-validation."""

    version: int
    network: str
    kind: str
    device: str
    seq: int
    timestamp_ms: int
    epoch: int
    body: bytes
    signature: bytes


class _WireReceived(msgspec.Struct, frozen=True, gc=False):
    """:class:`ReceivedReport` as encoded (the attributes the checks read, nothing else)."""

    id: bytes
    report: _WireReport


class _Context(msgspec.Struct, array_like=True, gc=False):
    """The parts of an :class:`EpochContext` the worker's jobs read."""

    network: str
    epoch: int
    start_ms: int
    end_ms: int
    entropy: bytes
    parameters: dict[str, int]
    devices: dict[str, DeviceView]

    @classmethod
    def of(cls, ctx: EpochContext) -> _Context:
        return cls(
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
        )

    def rebuild(self) -> EpochContext:
        return EpochContext(
            network=self.network,
            epoch=self.epoch,
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            entropy=self.entropy,
            parameters=self.parameters,
            devices=self.devices,
        )


class _Start(msgspec.Struct, array_like=True, gc=False):
    context: _Context
    cells: dict[str, int]


class _CheckJob(msgspec.Struct, array_like=True, gc=False):
    """What the worker needs, beyond the context, to check its share of the witnesses."""

    beacons: list[tuple[str, int, Beacon]]
    reports: list[_WireReceived]


class Edges(msgspec.Struct, array_like=True, gc=False):
    """The witness graph as columns, one entry per link (see cheaters.Link)."""

    witness: list[str]
    beaconer: list[str]
    strong: list[bool]
    ahead_i: list[int]
    ahead_j: list[int]
    back_i: list[int | None]
    back_j: list[int | None]


class _GraphJob(msgspec.Struct, array_like=True, gc=False):
    """:class:`Edges` with addresses as indexes into ``addresses``."""

    addresses: list[str]
    witness: list[int]
    beaconer: list[int]
    strong: list[bool]
    ahead_i: list[int]
    ahead_j: list[int]
    back_i: list[int | None]
    back_j: list[int | None]


GraphFlags = tuple[dict[str, Flag], dict[str, Flag], dict[str, Flag]]

_STATE: dict[str, Any] = {}  # in the worker: the epoch's context and cells (see _start)


def worker_for(reports: int, ctx: EpochContext, cells: Mapping[str, int]) -> Any:
    """A started :class:`Worker` from ``SPLIT_MIN_REPORTS`` reports on; below, None.

    Either way a context manager.
    """
    return Worker(ctx, cells) if reports >= SPLIT_MIN_REPORTS else nullcontext()


class Worker:
    """One spawned worker process for one epoch's verification (a context manager).

    Starting it submits the context at once, so the process's start-up overlaps the caller's
    first steps.
    """

    def __init__(self, ctx: EpochContext, cells: Mapping[str, int]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=1, mp_context=context
        )
        memory = "/dev/shm"  # a RAM file system where there is one: nothing written back to disk
        self._files = tempfile.TemporaryDirectory(
            prefix="depinkit-coverage-", dir=memory if os.access(memory, os.W_OK) else None
        )
        self._jobs = 0
        start = _Start(context=_Context.of(ctx), cells=dict(cells))
        self._started = self._submit(_start, msgspec.msgpack.encode(start))

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._files.cleanup()

    def _submit(self, function: Callable[[bytes], bytes], payload: bytes) -> Future[str] | None:
        if self._pool is None:
            return None
        # Documents go through a file, not the pool's pipe: the pipe pickles them and feeds
        # them from a thread of this process, which competes with this process's own share.
        self._jobs += 1
        path = os.path.join(self._files.name, f"job-{self._jobs}")
        try:
            with open(path, "wb") as file:
                file.write(payload)
            return self._pool.submit(_call, function, path)
        except (BrokenProcessPool, RuntimeError, OSError) as exc:
            self._fail(exc)
            return None

    def _answer(self, future: Future[str] | None) -> bytes | None:
        if future is None:
            return None
        try:
            path = future.result()
            with open(path, "rb") as file:
                answer = file.read()
            os.remove(path)
            return answer
        except Exception as exc:  # any failure there: the caller does the job itself
            self._fail(exc)
            return None

    def _fail(self, exc: BaseException) -> None:
        log.warning("witness worker failed (%r); doing its job here", exc)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def checks(
        self,
        check: CheckBatch,
        ctx: EpochContext,
        items: Sequence[ReceivedReport],
        cells: Mapping[str, int],
        owners: Mapping[str, str],
        beacons: Mapping[tuple[str, int], Beacon],
    ) -> list[WitnessResult]:
        """``check(ctx, items, ...)``, the worker's share of ``items`` checked there."""
        numerator, denominator = WORKER_SHARE
        mine = len(items) - len(items) * numerator // denominator
        job = _CheckJob(
            beacons=[(beaconer, slot, body) for (beaconer, slot), body in beacons.items()],
            reports=list(items[mine:]),  # type: ignore[arg-type]  # encoded, then mirrored
        )
        future = self._submit(_check_in_worker, msgspec.msgpack.encode(job))
        del job
        first = check(ctx, items[:mine], cells, owners, beacons)
        answer = self._answer(future)
        second: list[WitnessResult] = (
            check(ctx, items[mine:], cells, owners, beacons)
            if answer is None
            else msgspec.msgpack.decode(answer)
        )
        first.extend(second)
        return first

    def graph(self, edges: Edges, cells: Mapping[str, int]) -> Future[str] | None:
        """Start the graph detectors on ``edges`` there; :meth:`graph_flags` ends it."""
        if self._pool is None:
            return None
        addresses = sorted(cells)
        index = {address: i for i, address in enumerate(addresses)}
        job = _GraphJob(
            addresses=addresses,
            witness=list(map(index.__getitem__, edges.witness)),
            beaconer=list(map(index.__getitem__, edges.beaconer)),
            strong=edges.strong,
            ahead_i=edges.ahead_i,
            ahead_j=edges.ahead_j,
            back_i=edges.back_i,
            back_j=edges.back_j,
        )
        return self._submit(_graph_in_worker, msgspec.msgpack.encode(job))

    def graph_flags(self, future: Future[str] | None) -> GraphFlags | None:
        """The flags of a :meth:`graph`, or None when the worker could not give them."""
        answer = self._answer(future)
        if answer is None:
            return None
        return msgspec.msgpack.decode(answer, type=GraphFlags)


def _call(function: Callable[[bytes], bytes], path: str) -> str:
    """In the worker: ``function`` of the document at ``path``; the answer's path."""
    with open(path, "rb") as file:
        payload = file.read()
    os.remove(path)
    with gc_paused():  # as in the caller: millions of acyclic objects (see core.gcpause)
        answer = function(payload)
        del payload
    out = path + ".answer"
    with open(out, "wb") as file:
        file.write(answer)
    return out


def _start(payload: bytes) -> bytes:
    """The worker's first job: keep the epoch's context and cells for the next ones."""
    start = msgspec.msgpack.decode(payload, type=_Start)
    _STATE["ctx"] = start.context.rebuild()
    _STATE["devices"] = start.context.devices
    _STATE["cells"] = start.cells
    return b""


def _check_in_worker(payload: bytes) -> bytes:
    """The worker's side of :meth:`Worker.checks`."""
    from depinkit.networks.coverage.verify import check_witness_batch  # no cycle at import

    job = msgspec.msgpack.decode(payload, type=_CheckJob)
    owners = {address: view.owner for address, view in _STATE["devices"].items()}
    beacons = {(beaconer, slot): body for beaconer, slot, body in job.beacons}
    reports: Any = job.reports  # duck-typed ReceivedReports (see _WireReceived)
    results = check_witness_batch(_STATE["ctx"], reports, _STATE["cells"], owners, beacons)
    return msgspec.msgpack.encode(results)


def _graph_in_worker(payload: bytes) -> bytes:
    """The worker's side of :meth:`Worker.graph`."""
    job = msgspec.msgpack.decode(payload, type=_GraphJob)
    names = job.addresses
    backs = [None if v[0] is None else v for v in zip(job.back_i, job.back_j, strict=True)]
    links = zip(
        map(names.__getitem__, job.witness),
        map(names.__getitem__, job.beaconer),
        job.strong,
        zip(job.ahead_i, job.ahead_j, strict=True),
        backs,
        strict=True,
    )
    peers, strong = peer_maps(links)  # type: ignore[arg-type]  # vectors or None
    return msgspec.msgpack.encode(graph_flags(_STATE["ctx"], peers, strong, _STATE["cells"]))
