"""The sandbox: run WebAssembly jobs in worker processes the caller can always kill.

:class:`Sandbox` keeps a pool of worker processes (``python -m
depinkit.networks.compute.runner``), each running one job at a time in wasmtime with the
job's limits (see :mod:`depinkit.networks.compute.runner` for what a module can and cannot
reach). The parent enforces a hard limit of its own: a worker that has not answered
``KILL_GRACE_MS`` after the job's wall-time limit, or that dies, is killed and replaced, and
the job ends with status ``wall_time_exceeded`` or ``crashed``. A hostile module therefore
costs at most one worker process, never the provider. The caller can also stop a run it no
longer wants (:meth:`Sandbox.cancel` with the run's :class:`Ticket`): its worker is killed
and replaced the same way, and the run raises :class:`RunCancelled`.

:meth:`Sandbox.run` never raises for what a job does: every outcome is a
:class:`~depinkit.networks.compute.jobs.JobResult` with a status, because a provider must
still sign and return a failed run (the consumer pays for the fuel it used). Callers that
prefer exceptions call :func:`raise_for_status`, which maps each status to a typed
:class:`SandboxError`.
"""

from __future__ import annotations

import os
import queue
import select
import subprocess
import sys
import threading
import time
from typing import Final

import msgspec

from depinkit.core.canonical import canonical_encode
from depinkit.networks.compute.jobs import (
    STATUS_CRASHED,
    STATUS_FORBIDDEN_IMPORT,
    STATUS_FUEL_EXHAUSTED,
    STATUS_INVALID_JOB,
    STATUS_MALFORMED_MODULE,
    STATUS_MEMORY_EXCEEDED,
    STATUS_OK,
    STATUS_OUTPUT_TOO_LARGE,
    STATUS_TRAP,
    STATUS_WALL_TIME_EXCEEDED,
    Job,
    JobResult,
    job_id,
    outputs_hash,
)
from depinkit.networks.compute.runner import FRAME_HEADER
from depinkit.networks.errors import NetworkError

KILL_GRACE_MS: Final[int] = 5_000  # ms after the wall limit before the parent kills a worker:
# covers compiling the module (not interruptible) and returning large outputs
DEFAULT_WORKERS: Final[int] = 2  # worker processes: one per core of the reference machine
WORKER_START_TIMEOUT_S: Final[float] = 120.0  # s: import wasmtime on a loaded machine; a
# worker that cannot start in that time is a broken install


class SandboxError(NetworkError):
    """A job run that did not complete; ``result`` holds what the sandbox measured."""

    status: str = ""

    def __init__(self, result: JobResult) -> None:
        super().__init__(f"{result.status}: {result.error}")
        self.result = result


class FuelExhausted(SandboxError):
    """The run used all its fuel (``result.fuel_used`` equals the limit)."""

    status = STATUS_FUEL_EXHAUSTED


class MemoryExceeded(SandboxError):
    """The module needed more linear memory than its limit."""

    status = STATUS_MEMORY_EXCEEDED


class WallTimeExceeded(SandboxError):
    """The run outlasted its wall-time limit."""

    status = STATUS_WALL_TIME_EXCEEDED


class OutputTooLarge(SandboxError):
    """Files under /out plus stdout and stderr outgrew the output limit."""

    status = STATUS_OUTPUT_TOO_LARGE


class ForbiddenImport(SandboxError):
    """The module imports something outside the WASI preview-1 allowlist."""

    status = STATUS_FORBIDDEN_IMPORT


class MalformedModule(SandboxError):
    """The bytes are not a valid WebAssembly module, or not a WASI command."""

    status = STATUS_MALFORMED_MODULE


class InvalidJob(SandboxError):
    """The job itself does not decode."""

    status = STATUS_INVALID_JOB


class Trapped(SandboxError):
    """The module trapped (unreachable, out-of-bounds access, stack overflow, ...)."""

    status = STATUS_TRAP


class SandboxCrashed(SandboxError):
    """The worker process died during the run."""

    status = STATUS_CRASHED


_ERRORS: Final[dict[str, type[SandboxError]]] = {
    cls.status: cls
    for cls in (
        FuelExhausted,
        MemoryExceeded,
        WallTimeExceeded,
        OutputTooLarge,
        ForbiddenImport,
        MalformedModule,
        InvalidJob,
        Trapped,
        SandboxCrashed,
    )
}


def raise_for_status(result: JobResult) -> JobResult:
    """``result`` when its status is ok, else the matching :class:`SandboxError`."""
    if result.status == STATUS_OK:
        return result
    raise _ERRORS.get(result.status, SandboxError)(result)


def _failure(ident: bytes, status: str, error: str) -> JobResult:
    return JobResult(
        job_id=ident,
        status=status,
        exit_code=-1,
        fuel_used=0,  # not measured: the worker that knew it is gone
        outputs={},
        stdout=b"",
        stderr=b"",
        outputs_hash=outputs_hash(-1, status, {}, b""),
        error=error,
    )


class _Worker:
    """One runner process and its pipes."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "depinkit.networks.compute.runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # a worker's crash report goes to the provider's log
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # a signal to the provider's group does not reach jobs
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.to_fd = self.process.stdin.fileno()
        self.from_fd = self.process.stdout.fileno()
        self.ready = False

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def _read_exact(self, n: int, deadline: float) -> bytes | None:
        chunks: list[bytes] = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.from_fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.from_fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError("worker closed its pipe")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def wait_ready(self) -> None:
        """Block until the worker has imported wasmtime and made its engine (its first,
        empty frame); EOFError/OSError if it died, TimeoutError if it takes too long."""
        if self.ready:
            return
        header = self._read_exact(FRAME_HEADER.size, time.monotonic() + WORKER_START_TIMEOUT_S)
        if header is None:
            raise TimeoutError(f"sandbox worker not ready in {WORKER_START_TIMEOUT_S} s")
        if FRAME_HEADER.unpack(header)[0] != 0:
            raise EOFError("sandbox worker spoke before it was ready")
        self.ready = True

    def run(self, payload: bytes, deadline: float) -> bytes | None:
        """The framed reply, None on timeout; EOFError/OSError when the worker died."""
        self.wait_ready()
        frame = FRAME_HEADER.pack(len(payload)) + payload
        view = memoryview(frame)
        while view:
            view = view[os.write(self.to_fd, view) :]
        header = self._read_exact(FRAME_HEADER.size, deadline)
        if header is None:
            return None
        return self._read_exact(FRAME_HEADER.unpack(header)[0], deadline)


class RunCancelled(Exception):
    """The caller cancelled the run (:meth:`Sandbox.cancel`): its worker was killed, nothing
    was measured, there is no result."""


class Ticket:
    """One run's handle for :meth:`Sandbox.cancel` (made by the caller, passed to
    :meth:`Sandbox.run`; guarded by the sandbox's lock)."""

    __slots__ = ("cancelled", "worker")

    def __init__(self) -> None:
        self.cancelled = False
        self.worker: _Worker | None = None


class Sandbox:
    """A pool of ``workers`` sandbox processes; :meth:`run` is blocking and thread-safe
    (at most ``workers`` jobs run at once, the others wait for a free worker)."""

    def __init__(self, workers: int = DEFAULT_WORKERS, *, kill_grace_ms: int = KILL_GRACE_MS):
        if workers < 1:
            raise ValueError("a sandbox needs at least one worker")
        self.workers = workers
        self.kill_grace_ms = kill_grace_ms
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(workers):
            self._add()
        try:  # started together, awaited in turn: a provider serves once its workers can
            for worker in list(self._all):
                worker.wait_ready()
        except BaseException:
            self.close()
            raise

    def _add(self) -> None:
        worker = _Worker()
        with self._lock:
            self._all.add(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            closed = self._closed
        if not closed:
            self._add()

    def run(self, job: Job, *, ticket: Ticket | None = None) -> JobResult:
        """Run ``job`` in a worker; the result, whatever happened (see the module docs).
        With a ``ticket``, :meth:`cancel` can stop the run: then RunCancelled."""
        if self._closed:
            raise RuntimeError("sandbox is closed")
        payload = canonical_encode(job)
        ticket = ticket or Ticket()
        worker = self._idle.get()
        with self._lock:
            if ticket.cancelled:
                self._idle.put(worker)
                raise RunCancelled("cancelled before it started")
            ticket.worker = worker
        deadline = time.monotonic() + (job.limits.wall_ms + self.kill_grace_ms) / 1000
        died: Exception | None = None
        try:
            reply = worker.run(payload, deadline)
        except (EOFError, OSError, TimeoutError) as exc:
            reply, died = None, exc
        with self._lock:
            ticket.worker = None
            cancelled = ticket.cancelled
        if cancelled:  # its worker was (or is about to be) killed
            self._replace(worker)
            raise RunCancelled("cancelled while it ran: worker killed")
        if died is not None:
            self._replace(worker)
            return _failure(job_id(job), STATUS_CRASHED, f"sandbox worker died: {died}")
        if reply is None:
            self._replace(worker)
            return _failure(
                job_id(job),
                STATUS_WALL_TIME_EXCEEDED,
                f"worker killed {self.kill_grace_ms} ms after the {job.limits.wall_ms} ms limit",
            )
        try:
            result = msgspec.msgpack.decode(reply, type=JobResult)
        except (msgspec.MsgspecError, ValueError) as exc:  # a worker that lies is broken
            self._replace(worker)
            return _failure(job_id(job), STATUS_CRASHED, f"sandbox worker answered garbage: {exc}")
        self._idle.put(worker)
        return result

    def cancel(self, ticket: Ticket) -> bool:
        """Stop the run holding ``ticket``: its worker is killed now (and replaced by the
        run's thread), or the run will not start. False when it was already cancelled."""
        with self._lock:
            if ticket.cancelled:
                return False
            ticket.cancelled = True
            worker = ticket.worker
            if worker is not None and worker.process.poll() is None:
                worker.process.kill()  # the run's thread sees EOF, waits and replaces it
        return True

    def close(self) -> None:
        """Kill every worker (running jobs end as ``crashed``)."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def run_job(job: Job) -> JobResult:
    """Run one job in a fresh one-worker sandbox (tools and tests; services keep a Sandbox)."""
    with Sandbox(workers=1) as sandbox:
        return sandbox.run(job)
