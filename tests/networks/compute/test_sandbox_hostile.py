"""Hostile modules end with their own clear status, and the same sandbox then runs good jobs.

Every module here is WAT compiled by wasmtime.wat2wasm, so no C toolchain is needed. The
sandbox runs them in worker processes, as a provider does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import msgspec
import pytest
from compute_sandbox_kit import (
    FORBIDDEN_ENV,
    FORBIDDEN_MEMORY_IMPORT,
    FORBIDDEN_SOCKET,
    HELLO,
    HUGE_FILE,
    HUGE_STDOUT,
    INFINITE_LOOP,
    LIMITS,
    MANY_DIRECTORIES,
    MEMORY_BOMB,
    MEMORY_BOMB_AT_START,
    NO_START,
    ODD_OUTPUTS,
    TRAP,
    job,
)

from depinkit.networks.compute.jobs import (
    STATUS_CRASHED,
    STATUS_FORBIDDEN_IMPORT,
    STATUS_FUEL_EXHAUSTED,
    STATUS_MALFORMED_MODULE,
    STATUS_MEMORY_EXCEEDED,
    STATUS_OK,
    STATUS_OUTPUT_TOO_LARGE,
    STATUS_TRAP,
    STATUS_WALL_TIME_EXCEEDED,
    JobResult,
)
from depinkit.networks.compute.sandbox import (
    ForbiddenImport,
    FuelExhausted,
    MalformedModule,
    MemoryExceeded,
    OutputTooLarge,
    Sandbox,
    SandboxCrashed,
    Trapped,
    WallTimeExceeded,
    raise_for_status,
)

SHORT_WALL = msgspec.structs.replace(LIMITS, fuel=10**15, wall_ms=300)  # fuel never runs out


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(workers=2) as box:
        yield box


def _assert_still_serves(sandbox: Sandbox) -> None:
    result = sandbox.run(job(HELLO))
    assert (result.status, result.exit_code, result.stdout) == (STATUS_OK, 0, b"hello\n")


def test_infinite_loop_hits_the_wall_time_limit(sandbox: Sandbox) -> None:
    result = sandbox.run(job(INFINITE_LOOP, SHORT_WALL))
    assert result.status == STATUS_WALL_TIME_EXCEEDED
    assert "300 ms" in result.error
    # a lower bound: wasmtime flushes its fuel counter only at calls, not on an interrupt
    assert 0 <= result.fuel_used < SHORT_WALL.fuel
    with pytest.raises(WallTimeExceeded):
        raise_for_status(result)
    _assert_still_serves(sandbox)


def test_infinite_loop_runs_out_of_fuel_and_pays_exactly_the_limit(sandbox: Sandbox) -> None:
    limits = msgspec.structs.replace(LIMITS, fuel=5_000_000)
    result = sandbox.run(job(INFINITE_LOOP, limits))
    assert result.status == STATUS_FUEL_EXHAUSTED
    assert result.fuel_used == 5_000_000
    with pytest.raises(FuelExhausted) as caught:
        raise_for_status(result)
    assert caught.value.result.fuel_used == 5_000_000
    _assert_still_serves(sandbox)


@pytest.mark.parametrize("bomb", [MEMORY_BOMB, MEMORY_BOMB_AT_START], ids=["grow", "initial"])
def test_memory_bomb_hits_the_memory_limit(sandbox: Sandbox, bomb: str) -> None:
    result = sandbox.run(job(bomb))
    assert result.status == STATUS_MEMORY_EXCEEDED
    assert str(LIMITS.memory_bytes) in result.error
    with pytest.raises(MemoryExceeded):
        raise_for_status(result)
    _assert_still_serves(sandbox)


@pytest.mark.parametrize(
    "flood", [HUGE_STDOUT, HUGE_FILE, MANY_DIRECTORIES], ids=["stdout", "file", "entries"]
)
def test_huge_output_is_stopped_and_dropped(sandbox: Sandbox, flood: str) -> None:
    result = sandbox.run(job(flood, msgspec.structs.replace(SHORT_WALL, wall_ms=60_000)))
    assert result.status == STATUS_OUTPUT_TOO_LARGE
    assert result.outputs == {} and result.stdout == b""
    with pytest.raises(OutputTooLarge):
        raise_for_status(result)
    _assert_still_serves(sandbox)


@pytest.mark.parametrize(
    ("module", "named"),
    [
        (FORBIDDEN_ENV, "env.socket"),
        (FORBIDDEN_SOCKET, "wasi_snapshot_preview1.sock_accept"),
        (FORBIDDEN_MEMORY_IMPORT, "wasi_snapshot_preview1.memory"),
    ],
)
def test_forbidden_imports_are_refused_before_running(
    sandbox: Sandbox, module: str, named: str
) -> None:
    result = sandbox.run(job(module))
    assert result.status == STATUS_FORBIDDEN_IMPORT
    assert named in result.error
    assert result.fuel_used == 0
    with pytest.raises(ForbiddenImport):
        raise_for_status(result)
    _assert_still_serves(sandbox)


@pytest.mark.parametrize(
    "module",
    [
        b"",
        b"not wasm at all",
        b"(module)",
        b"\0asm\x01\0\0\0\xff\xff",
        b"\0asm\x02\0\0\0",
        NO_START,
    ],
    ids=["empty", "text", "wat-text", "bad-section", "bad-version", "no-start"],
)
def test_malformed_modules_are_refused(sandbox: Sandbox, module: bytes | str) -> None:
    result = sandbox.run(job(module))
    assert result.status == STATUS_MALFORMED_MODULE
    assert result.error
    with pytest.raises(MalformedModule):
        raise_for_status(result)
    _assert_still_serves(sandbox)


def test_a_trap_is_reported_with_its_cause(sandbox: Sandbox) -> None:
    result = sandbox.run(job(TRAP))
    assert (result.status, result.error) == (STATUS_TRAP, "module trapped: unreachable")
    with pytest.raises(Trapped):
        raise_for_status(result)


def test_parent_kills_a_worker_that_outlives_its_deadline() -> None:
    # No grace: the parent gives up at the wall limit itself, possibly before the worker's
    # own epoch interruption answers; either way the job ends as wall_time_exceeded.
    with Sandbox(workers=1, kill_grace_ms=0) as box:
        result = box.run(job(INFINITE_LOOP, SHORT_WALL))
        assert result.status == STATUS_WALL_TIME_EXCEEDED
        _assert_still_serves(box)


def test_a_worker_killed_mid_job_is_replaced() -> None:
    with Sandbox(workers=1) as box:
        results: list[JobResult] = []
        runner = threading.Thread(
            target=lambda: results.append(box.run(job(INFINITE_LOOP, LIMITS)))
        )
        (worker,) = box._all
        runner.start()
        while box._idle.qsize():  # until the job has taken the only worker
            threading.Event().wait(0.01)
        worker.process.kill()
        runner.join()
        assert results[0].status == STATUS_CRASHED
        with pytest.raises(SandboxCrashed):
            raise_for_status(results[0])
        _assert_still_serves(box)


def test_links_and_unsendable_names_are_not_outputs(sandbox: Sandbox) -> None:
    result = raise_for_status(sandbox.run(job(ODD_OUTPUTS)))
    assert result.outputs == {"good": b""}
