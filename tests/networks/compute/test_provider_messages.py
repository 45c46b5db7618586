"""Job requests and signed results: who signed, for what, and that outputs match their hash."""

from __future__ import annotations

import msgspec
import pytest
from compute_sandbox_kit import HELLO, job
from hypothesis import given
from hypothesis import strategies as st

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.compute.jobs import (
    STATUS_OK,
    JobMessageError,
    JobResult,
    job_id,
    outputs_hash,
    sign_request,
    sign_result,
    verify_request,
    verify_result,
)

DOMAIN = ReportDomain(chain_id=31337, registry="0x" + "11" * 20)
CONSUMER, PROVIDER = Account.generate(), Account.generate()
LEASE = bytes([3]) * 32


def _result(outputs: dict[str, bytes], stdout: bytes = b"ok\n") -> JobResult:
    return JobResult(
        job_id=job_id(job(HELLO)),
        status=STATUS_OK,
        exit_code=0,
        fuel_used=1234,
        outputs=outputs,
        stdout=stdout,
        stderr=b"",
        outputs_hash=outputs_hash(0, STATUS_OK, outputs, stdout),
    )


def test_a_request_verifies_to_its_job_id_and_nothing_else_does() -> None:
    spec = job(HELLO)
    order = sign_request(CONSUMER, DOMAIN, spec, lease=LEASE, provider=PROVIDER.address)
    assert verify_request(DOMAIN, order) == job_id(spec)
    for tampered in (
        msgspec.structs.replace(order, lease=bytes(32)),
        msgspec.structs.replace(order, provider=CONSUMER.address),
        msgspec.structs.replace(order, consumer=PROVIDER.address),
        msgspec.structs.replace(order, job=job(HELLO, args=["x"])),
    ):
        with pytest.raises(JobMessageError):
            verify_request(DOMAIN, tampered)
    with pytest.raises(JobMessageError):
        verify_request(ReportDomain(chain_id=1, registry=DOMAIN.registry), order)


def test_the_job_id_is_canonical() -> None:
    spec = job(HELLO, inputs={"b.txt": b"2", "a.txt": b"1"})
    reordered = job(HELLO, inputs={"a.txt": b"1", "b.txt": b"2"})
    assert canonical_encode(spec) == canonical_encode(reordered)
    assert job_id(spec) == job_id(reordered)


@given(
    outputs=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True), st.binary(max_size=64), max_size=4
    ),
    stdout=st.binary(max_size=32),
)
def test_a_signed_result_verifies_and_any_changed_output_is_caught(
    outputs: dict[str, bytes], stdout: bytes
) -> None:
    signed = sign_result(PROVIDER, DOMAIN, _result(outputs, stdout), lease=LEASE)
    verify_result(DOMAIN, msgspec.json.decode(msgspec.json.encode(signed), type=type(signed)))
    changed = dict(outputs) | {"extra": b"!"}
    with pytest.raises(JobMessageError, match="hash"):
        verify_result(
            DOMAIN,
            msgspec.structs.replace(
                signed, result=msgspec.structs.replace(signed.result, outputs=changed)
            ),
        )
    with pytest.raises(JobMessageError):
        verify_result(
            DOMAIN,
            msgspec.structs.replace(
                signed, result=msgspec.structs.replace(signed.result, fuel_used=1)
            ),
        )


def test_a_result_signed_by_someone_else_is_refused() -> None:
    signed = sign_result(CONSUMER, DOMAIN, _result({}), lease=LEASE)
    with pytest.raises(JobMessageError, match="not by"):
        verify_result(DOMAIN, msgspec.structs.replace(signed, provider=PROVIDER.address))
