"""What a module sees in the sandbox, and that a run is a function of the job alone."""

from __future__ import annotations

import hashlib

import pytest
from compute_sandbox_kit import ENVIRONMENT_PROBE, HELLO, job

from depinkit.core.keys import keccak256
from depinkit.networks.compute.jobs import STATUS_OK, job_id, outputs_hash
from depinkit.networks.compute.runner import RANDOM_TAG, Runner
from depinkit.networks.compute.sandbox import raise_for_status, run_job


def test_hello_through_a_worker_process() -> None:
    spec = job(HELLO)
    result = raise_for_status(run_job(spec))
    assert (result.exit_code, result.stdout, result.outputs) == (0, b"hello\n", {})
    assert result.job_id == job_id(spec)
    assert result.outputs_hash == outputs_hash(0, STATUS_OK, {}, b"hello\n")
    assert result.fuel_used > 0


def test_clocks_read_zero_sleep_is_refused_and_randomness_follows_the_job() -> None:
    spec = job(ENVIRONMENT_PROBE)
    runner = Runner()
    first, second = runner.execute(spec), runner.execute(spec)
    assert first == second
    assert first.status == STATUS_OK
    assert first.exit_code == 58  # poll_oneoff -> ENOTSUP
    assert first.stdout[:16] == bytes(16)  # realtime and monotonic clocks read 0
    expected = hashlib.shake_256(RANDOM_TAG + job_id(spec) + (1).to_bytes(8, "big")).digest(16)
    assert first.stdout[16:] == expected
    other = runner.execute(job(ENVIRONMENT_PROBE, args=["another"]))
    assert other.stdout[16:] != expected  # another job, another stream


def test_no_environment_and_only_the_inputs_are_visible(tmp_path: pytest.TempPathFactory) -> None:
    from compute_sandbox_kit import example

    # csvagg lists /in: it must find the job's two files and nothing of the host
    spec = job(
        example("csvagg"),
        args=["csvagg", "k", "v"],
        inputs={"a.csv": b"k,v\nx,1\n", "b.csv": b"k,v\nx,2\ny,5\n", "notes.txt": b"skip"},
    )
    result = raise_for_status(Runner().execute(spec))
    assert result.outputs == {"summary.csv": b"k,count,sum,min,max\nx,2,3,1,2\ny,1,5,5,5\n"}
    assert result.stdout == b"2 files, 2 groups, 0 rejected lines\n"
    assert keccak256(result.outputs["summary.csv"]) != bytes(32)
