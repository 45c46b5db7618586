"""Run one job in wasmtime, in this process: the part of the sandbox that touches WebAssembly.

:class:`depinkit.networks.compute.sandbox.Sandbox` never calls :func:`execute` in the
provider's own process: it runs ``python -m depinkit.networks.compute.runner`` workers
and talks to them over a pipe (:func:`serve`), so a module that crashes wasmtime, or a
run that ignores every limit, costs a worker process and not the provider.

What a module gets (WASI preview 1, nothing else):

* argv from the job; no environment variables (nothing is inherited);
* ``/in``: a read-only preopened directory holding exactly the job's input files;
  ``/out``: an empty writable preopened directory; stdout and stderr go to files; stdin
  is empty. No other path of the host is reachable, and no sockets are preopened.
* clocks that always read 0 (the Unix epoch) with a resolution of 1 ns, ``poll_oneoff``
  (sleeping) answering ENOTSUP, and ``random_get`` filled from SHAKE-256 of the job id:
  wasmtime-py cannot remove WASI's clocks, so the sandbox shadows them. The run is then a
  function of the job alone, which is what lets a verifier re-run it.
* every import must be one of :data:`ALLOWED_WASI_IMPORTS` (``proc_raise`` and the
  ``sock_*`` calls are refused), all of them functions.

The limits: fuel (wasmtime fuel metering, about one unit per instruction), linear memory
(the store limiter), wall time (epoch interruption raised by a watchdog thread) and total
output size (the watchdog stops a run whose files outgrow the limit; ``RLIMIT_FSIZE``
caps any single file even between two watchdog ticks).

Fuel used is exact when the run ends by itself or runs out of fuel. When the watchdog
interrupts it (wall time, output size), wasmtime reports the fuel counted up to the last
call the module made, since it keeps the counter in a register inside a loop: a lower
bound, and 0 for a tight loop without calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import resource
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Final

import msgspec
import wasmtime

from depinkit.core.canonical import canonical_encode
from depinkit.core.keys import keccak256
from depinkit.networks.compute.jobs import (
    JOB_TAG,
    OUTPUT_PATH_PATTERN,
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

WASI_MODULE: Final[str] = "wasi_snapshot_preview1"
ALLOWED_WASI_IMPORTS: Final[frozenset[str]] = frozenset(
    {
        "args_get",
        "args_sizes_get",
        "environ_get",
        "environ_sizes_get",
        "clock_res_get",
        "clock_time_get",
        "fd_advise",
        "fd_allocate",
        "fd_close",
        "fd_datasync",
        "fd_fdstat_get",
        "fd_fdstat_set_flags",
        "fd_fdstat_set_rights",
        "fd_filestat_get",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_pread",
        "fd_prestat_dir_name",
        "fd_prestat_get",
        "fd_pwrite",
        "fd_read",
        "fd_readdir",
        "fd_renumber",
        "fd_seek",
        "fd_sync",
        "fd_tell",
        "fd_write",
        "path_create_directory",
        "path_filestat_get",
        "path_filestat_set_times",
        "path_link",
        "path_open",
        "path_readlink",
        "path_remove_directory",
        "path_rename",
        "path_symlink",
        "path_unlink_file",
        "poll_oneoff",
        "proc_exit",
        "random_get",
        "sched_yield",
    }
)  # WASI preview 1 minus proc_raise and sock_accept/recv/send/shutdown

PAGE_BYTES: Final[int] = 65536  # bytes: one WebAssembly memory page
WASM_MAGIC_V1: Final[bytes] = b"\0asm\x01\0\0\0"  # binary format, version 1
# A failed run counts as memory_exceeded when at least this share of its memory limit was in
# use at the end: wasmtime-py's store limiter makes memory.grow return -1 but exposes no
# "growth was refused" flag, so the sandbox infers it (exactly, for the initial size).
MEMORY_FULL_NUM: Final[int] = 7  # numerator of 7/8
MEMORY_FULL_DEN: Final[int] = 8
MAX_OUTPUT_ENTRIES: Final[int] = 10_000  # files and directories under /out before each costs
ENTRY_BYTES: Final[int] = 1024 * 1024  # bytes one entry beyond the allowance counts for
WATCHDOG_TICK_S: Final[float] = 0.02  # seconds between checks of wall time and output size
WORKDIR_ENV: Final[str] = "DEPINKIT_COMPUTE_WORKDIR"  # where job directories are made
SHM_DIR: Final[str] = "/dev/shm"  # preferred: a tmpfs on Linux
ORPHAN_CHECK_S: Final[float] = 0.5  # seconds between checks that the parent is still alive
MODULE_CACHE_SIZE: Final[int] = 8  # compiled modules a worker keeps, by module hash
MAX_WASM_STACK_BYTES: Final[int] = 1024 * 1024  # 1 MiB of native stack for wasm frames
RANDOM_TAG: Final[bytes] = b"depinkit/compute/random/v1"  # seeds random_get from the job id
FIXED_CLOCK_NS: Final[int] = 0  # what every WASI clock reads: the Unix epoch
FIXED_CLOCK_RES_NS: Final[int] = 1  # the resolution every WASI clock reports
ERRNO_SUCCESS: Final[int] = 0
ERRNO_FAULT: Final[int] = 21  # WASI errno: bad address
ERRNO_INVAL: Final[int] = 28  # WASI errno: invalid argument
ERRNO_NOTSUP: Final[int] = 58  # WASI errno: not supported
CLOCK_IDS: Final[int] = 4  # WASI clocks: realtime, monotonic, process and thread cputime
FRAME_HEADER: Final[struct.Struct] = struct.Struct(">Q")  # pipe frames: 8-byte length + body

_JOB_DECODER = msgspec.msgpack.Decoder(Job)
_OUTPUT_PATH = re.compile(OUTPUT_PATH_PATTERN[1:-1])

I32 = wasmtime.ValType.i32()
I64 = wasmtime.ValType.i64()


def make_engine() -> wasmtime.Engine:
    """One engine per worker: fuel and epoch interruption on, non-deterministic features off."""
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    config.cranelift_nan_canonicalization = True  # NaN bits equal on every CPU
    config.wasm_relaxed_simd = False  # relaxed SIMD results differ between CPUs
    config.wasm_threads = False
    config.wasm_multi_memory = False  # one memory, the one the limiter watches
    config.wasm_memory64 = False
    config.max_wasm_stack = MAX_WASM_STACK_BYTES
    return wasmtime.Engine(config)


class _Watchdog(threading.Thread):
    """Ends a run (epoch interruption) at its wall-time deadline or when its outputs grow
    past the limit; records which one happened. Joined before the run's result is built, so
    it never touches the next run."""

    def __init__(self, engine: wasmtime.Engine, deadline: float, watch: list[str], limit: int):
        super().__init__(daemon=True)
        self.engine = engine
        self.deadline = deadline
        self.watch = watch
        self.limit = limit
        self.stop = threading.Event()
        self.reason = ""

    def run(self) -> None:
        while not self.stop.wait(WATCHDOG_TICK_S):
            if time.monotonic() >= self.deadline:
                self.reason = STATUS_WALL_TIME_EXCEEDED
            elif _tree_bytes(self.watch) > self.limit:
                self.reason = STATUS_OUTPUT_TOO_LARGE
            else:
                continue
            self.engine.increment_epoch()
            return


def _tree_bytes(paths: list[str]) -> int:
    """Bytes of regular files under ``paths`` (files or directories), links not followed;
    every entry beyond ``MAX_OUTPUT_ENTRIES`` counts as ``ENTRY_BYTES`` more, so a module
    creating files by the million is stopped as if its output were too large."""
    total = entries = 0
    for top in paths:
        try:
            st = os.lstat(top)
        except OSError:
            continue
        if not os.path.isdir(top):
            total += st.st_size
            continue
        for root, dirs, files in os.walk(top, followlinks=False):
            entries += len(dirs) + len(files)
            for name in files:
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(root, name))
                    total += st.st_size if st.st_mode & 0o170000 == 0o100000 else 0
    return total + max(0, entries - MAX_OUTPUT_ENTRIES) * ENTRY_BYTES


def _collect_outputs(out_dir: str) -> dict[str, bytes]:
    """Regular files under ``out_dir`` by relative path. Links and other file types are
    skipped, never followed (a module could point one anywhere on the host), and so are
    files whose path does not match ``OUTPUT_PATH_PATTERN`` (they could not be sent)."""
    outputs: dict[str, bytes] = {}
    for root, _dirs, files in os.walk(out_dir, followlinks=False):
        for name in files:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, out_dir).replace(os.sep, "/")
            if _OUTPUT_PATH.fullmatch(relative) is None:
                continue
            st = os.lstat(path)
            if st.st_mode & 0o170000 != 0o100000:
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                outputs[relative] = f.read()
    return outputs


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def check_imports(module: wasmtime.Module) -> None:
    """ValueError naming the first import outside the WASI allowlist."""
    for imp in module.imports:
        name = f"{imp.module}.{imp.name}"
        if imp.module != WASI_MODULE or imp.name not in ALLOWED_WASI_IMPORTS:
            raise ValueError(f"import {name} is not allowed")
        if not isinstance(imp.type, wasmtime.FuncType):
            raise ValueError(f"import {name} must be a function")


class _Deterministic:
    """Shadowed WASI calls: fixed clocks, no sleeping, reproducible randomness."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.counter = 0

    @staticmethod
    def _write(caller: wasmtime.Caller, ptr: int, data: bytes) -> int:
        memory = caller.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            return ERRNO_FAULT
        if ptr < 0 or ptr + len(data) > memory.data_len(caller):
            return ERRNO_FAULT
        memory.write(caller, data, ptr)
        return ERRNO_SUCCESS

    def clock_time_get(self, caller: wasmtime.Caller, clock: int, _precision: int, ptr: int) -> int:
        if not 0 <= clock < CLOCK_IDS:
            return ERRNO_INVAL
        return self._write(caller, ptr, FIXED_CLOCK_NS.to_bytes(8, "little"))

    def clock_res_get(self, caller: wasmtime.Caller, clock: int, ptr: int) -> int:
        if not 0 <= clock < CLOCK_IDS:
            return ERRNO_INVAL
        return self._write(caller, ptr, FIXED_CLOCK_RES_NS.to_bytes(8, "little"))

    def random_get(self, caller: wasmtime.Caller, ptr: int, length: int) -> int:
        if length < 0:
            return ERRNO_INVAL
        self.counter += 1
        chunk = hashlib.shake_256(self.seed + self.counter.to_bytes(8, "big")).digest(length)
        return self._write(caller, ptr, chunk)

    @staticmethod
    def poll_oneoff(_caller: wasmtime.Caller, _in: int, _out: int, _n: int, _ret: int) -> int:
        return ERRNO_NOTSUP

    def define(self, linker: wasmtime.Linker) -> None:
        linker.define_func(
            WASI_MODULE,
            "clock_time_get",
            wasmtime.FuncType([I32, I64, I32], [I32]),
            self.clock_time_get,
            access_caller=True,
        )
        linker.define_func(
            WASI_MODULE,
            "clock_res_get",
            wasmtime.FuncType([I32, I32], [I32]),
            self.clock_res_get,
            access_caller=True,
        )
        linker.define_func(
            WASI_MODULE,
            "random_get",
            wasmtime.FuncType([I32, I32], [I32]),
            self.random_get,
            access_caller=True,
        )
        linker.define_func(
            WASI_MODULE,
            "poll_oneoff",
            wasmtime.FuncType([I32, I32, I32, I32], [I32]),
            self.poll_oneoff,
            access_caller=True,
        )


def default_work_root() -> str:
    """Where job directories go: ``$DEPINKIT_COMPUTE_WORKDIR``, else ``/dev/shm`` when it is
    a writable directory (a tmpfs: creating and removing a job directory there costs ~0.4 ms
    against ~10 ms on an overlay disk; a job's files are bounded by its limits and are read
    into memory anyway), else the system's temporary directory."""
    configured = os.environ.get(WORKDIR_ENV, "")
    if configured:
        return configured
    if os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK | os.X_OK):
        return SHM_DIR
    return tempfile.gettempdir()


class Runner:
    """Runs jobs one at a time on one engine, keeping a few compiled modules."""

    def __init__(self, engine: wasmtime.Engine | None = None, work_root: str | None = None):
        self.engine = engine or make_engine()
        self.work_root = work_root or default_work_root()
        self._modules: OrderedDict[bytes, wasmtime.Module] = OrderedDict()

    def _compile(self, code: bytes) -> wasmtime.Module:
        key = hashlib.sha256(code).digest()
        module = self._modules.get(key)
        if module is None:
            module = wasmtime.Module(self.engine, code)
            self._modules[key] = module
            while len(self._modules) > MODULE_CACHE_SIZE:
                self._modules.popitem(last=False)
        else:
            self._modules.move_to_end(key)
        return module

    def execute(self, job: Job) -> JobResult:
        """The result of running ``job``; every failure is a status, never an exception."""
        ident = job_id(job)
        work = tempfile.mkdtemp(prefix="depinkit-job-", dir=self.work_root)
        try:
            return self._execute(job, ident, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _execute(self, job: Job, ident: bytes, work: str) -> JobResult:
        limits = job.limits
        started = time.monotonic()

        def fail(
            status: str, error: str, fuel: int = 0, out: bytes = b"", err: bytes = b""
        ) -> JobResult:
            return JobResult(
                job_id=ident,
                status=status,
                exit_code=-1,
                fuel_used=fuel,
                outputs={},
                stdout=out,
                stderr=err,
                outputs_hash=outputs_hash(-1, status, {}, out),
                error=error,
            )

        if job.module[:8] != WASM_MAGIC_V1:  # wasmtime would otherwise parse WAT text
            return fail(STATUS_MALFORMED_MODULE, "not a WebAssembly binary (bad magic or version)")
        try:
            module = self._compile(job.module)
        except wasmtime.WasmtimeError as exc:
            return fail(
                STATUS_MALFORMED_MODULE, f"not a valid WebAssembly module: {_describe(exc)}"
            )
        try:
            check_imports(module)
        except ValueError as exc:
            return fail(STATUS_FORBIDDEN_IMPORT, str(exc))
        exports = {e.name: e.type for e in module.exports}
        if not isinstance(exports.get("_start"), wasmtime.FuncType):
            return fail(STATUS_MALFORMED_MODULE, "module exports no _start function (WASI command)")
        memory_type = exports.get("memory")
        if not isinstance(memory_type, wasmtime.MemoryType):
            return fail(STATUS_MALFORMED_MODULE, "module exports no memory")
        if memory_type.limits.min * PAGE_BYTES > limits.memory_bytes:
            return fail(
                STATUS_MEMORY_EXCEEDED,
                f"module needs {memory_type.limits.min * PAGE_BYTES} bytes of memory at start, "
                f"limit {limits.memory_bytes}",
            )

        in_dir, out_dir = os.path.join(work, "in"), os.path.join(work, "out")
        os.mkdir(in_dir)
        os.mkdir(out_dir)
        for name, data in sorted(job.inputs.items()):
            with open(os.path.join(in_dir, name), "wb") as f:
                f.write(data)
        stdout_path, stderr_path = os.path.join(work, "stdout"), os.path.join(work, "stderr")
        open(stdout_path, "wb").close()
        open(stderr_path, "wb").close()

        wasi = wasmtime.WasiConfig()
        wasi.argv = list(job.args)
        wasi.env = []
        wasi.preopen_dir(in_dir, "/in", fs_mutable=False)
        wasi.preopen_dir(out_dir, "/out")
        wasi.stdout_file = stdout_path
        wasi.stderr_file = stderr_path

        store = wasmtime.Store(self.engine)
        store.set_wasi(wasi)
        store.set_limits(
            memory_size=limits.memory_bytes, table_elements=100_000, instances=1, memories=1
        )
        store.set_fuel(limits.fuel)
        store.set_epoch_deadline(1)
        linker = wasmtime.Linker(self.engine)
        linker.define_wasi()
        linker.allow_shadowing = True
        _Deterministic(RANDOM_TAG + ident).define(linker)

        watch = [out_dir, stdout_path, stderr_path]
        deadline = started + limits.wall_ms / 1000
        watchdog = _Watchdog(self.engine, deadline, watch, limits.output_bytes)
        exit_code = 0
        trap: Exception | None = None
        instance: wasmtime.Instance | None = None
        with _file_size_cap(limits.output_bytes):
            watchdog.start()
            try:
                instance = linker.instantiate(store, module)
                start = instance.exports(store)["_start"]
                assert isinstance(start, wasmtime.Func)
                start(store)
            except wasmtime.ExitTrap as exc:
                exit_code = exc.code
            except wasmtime.Trap as exc:
                trap = exc
            except wasmtime.WasmtimeError as exc:  # instantiation: limits, start function
                trap = exc
            finally:
                watchdog.stop.set()
                watchdog.join()
        fuel_used = limits.fuel - store.get_fuel()
        memory = _memory_bytes(store, instance)

        stdout, stderr = _read_file(stdout_path), _read_file(stderr_path)
        total = _tree_bytes(watch)
        code = getattr(trap, "trap_code", None)
        interrupted = code == wasmtime.TrapCode.INTERRUPT
        stopped_for_output = interrupted and watchdog.reason == STATUS_OUTPUT_TOO_LARGE
        if stopped_for_output or total > limits.output_bytes:
            return fail(
                STATUS_OUTPUT_TOO_LARGE,
                f"outputs reached {total} bytes, limit {limits.output_bytes}",
                fuel_used,
            )
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return fail(
                STATUS_FUEL_EXHAUSTED,
                f"fuel exhausted: {limits.fuel} units used",
                limits.fuel,
                stdout,
                stderr,
            )
        if interrupted:  # only the watchdog raises the epoch, and output was handled above
            return fail(
                STATUS_WALL_TIME_EXCEEDED,
                f"wall time limit of {limits.wall_ms} ms reached",
                fuel_used,
                stdout,
                stderr,
            )
        failed = trap is not None or exit_code != 0
        full = memory * MEMORY_FULL_DEN >= limits.memory_bytes * MEMORY_FULL_NUM
        if failed and (full or memory + PAGE_BYTES > limits.memory_bytes):
            return fail(
                STATUS_MEMORY_EXCEEDED,
                f"memory limit of {limits.memory_bytes} bytes reached ({memory} in use)",
                fuel_used,
                stdout,
                stderr,
            )
        if trap is not None:
            return fail(
                STATUS_TRAP, f"module trapped: {_describe(trap)}", fuel_used, stdout, stderr
            )
        outputs = _collect_outputs(out_dir)
        return JobResult(
            job_id=ident,
            status=STATUS_OK,
            exit_code=exit_code,
            fuel_used=fuel_used,
            outputs=outputs,
            stdout=stdout,
            stderr=stderr,
            outputs_hash=outputs_hash(exit_code, STATUS_OK, outputs, stdout),
        )


def _describe(error: Exception) -> str:
    """One line: the trap code, or the first cause wasmtime gives for a host error."""
    code = getattr(error, "trap_code", None)
    if code is not None:
        return str(getattr(code, "name", code)).lower().replace("_", " ")
    text = str(error)
    if "Caused by:" in text:
        cause = text.split("Caused by:", 1)[1].strip().splitlines()[0]
        return cause.split(":", 1)[1].strip() if cause[:1].isdigit() else cause
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _memory_bytes(store: wasmtime.Store, instance: wasmtime.Instance | None) -> int:
    """Size of the instance's exported memory after the run; 0 when it never instantiated."""
    if instance is None:
        return 0
    memory = instance.exports(store).get("memory")
    return memory.data_len(store) if isinstance(memory, wasmtime.Memory) else 0


@contextlib.contextmanager
def _file_size_cap(limit: int) -> Iterator[None]:
    """RLIMIT_FSIZE at ``limit`` + 1 for the run (SIGXFSZ ignored: writes fail with EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    cap = limit + 1 if hard == resource.RLIM_INFINITY else min(limit + 1, hard)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def invalid_job_result(data: bytes, error: str) -> JobResult:
    """The result for bytes that do not decode as a job (the id hashes the raw bytes)."""
    ident = keccak256(JOB_TAG + bytes(data))
    return JobResult(
        job_id=ident,
        status=STATUS_INVALID_JOB,
        exit_code=-1,
        fuel_used=0,
        outputs={},
        stdout=b"",
        stderr=b"",
        outputs_hash=outputs_hash(-1, STATUS_INVALID_JOB, {}, b""),
        error=error,
    )


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def serve(in_fd: int, out_fd: int) -> None:
    """Worker loop: announce readiness with an empty frame, then read a framed canonical Job
    and write back a framed canonical JobResult, until the pipe closes."""
    runner = Runner()
    _write_all(out_fd, FRAME_HEADER.pack(0))
    while True:
        header = _read_exact(in_fd, FRAME_HEADER.size)
        if header is None:
            return
        body = _read_exact(in_fd, FRAME_HEADER.unpack(header)[0])
        if body is None:
            return
        try:
            job = _JOB_DECODER.decode(body)
        except (msgspec.MsgspecError, ValueError) as exc:
            result = invalid_job_result(body, f"job does not decode: {exc}")
        else:
            result = runner.execute(job)
        reply = canonical_encode(result)
        _write_all(out_fd, FRAME_HEADER.pack(len(reply)) + reply)


def main() -> None:
    """``python -m depinkit.networks.compute.runner``: a sandbox worker on stdin/stdout.
    The protocol owns fds 0 and 1; fd 1 is moved away so that nothing printed by accident
    can corrupt a frame."""
    parent = os.getppid()

    def orphaned() -> None:  # a provider killed with SIGKILL cannot close its workers
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the worker
    serve(0, out_fd)


if __name__ == "__main__":
    main()
