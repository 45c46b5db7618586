"""Job, request and result messages of the compute network, and the digests that sign them.

A *job* is a WebAssembly module (WASI preview 1) with its arguments, input files and
limits. It is identified by :func:`job_id`, the keccak256 of its canonical msgpack
encoding under a tag, so the same job has the same id on every machine and a re-run by a
verifier can be matched to the original.

A consumer sends a provider a :class:`JobRequest`: the job, the lease it runs under (the
32-byte channel its receipts pay on), the provider it is meant for, and the consumer's
signature over :func:`request_digest`. The provider answers with a :class:`SignedResult`:
the :class:`JobResult` (status, exit code, fuel used, outputs) and its own signature over
:func:`result_digest`, which binds the lease, the job id, the fuel used and the hash of
every output (:func:`outputs_hash`). Verification compares ``outputs_hash`` (and
``fuel_used``: fuel metering is deterministic) between runs. The consumer stops a run it
no longer wants with a :class:`CancelRequest`, signed over :func:`cancel_digest`.

All digests start with ``0x19 "depinkit"`` and a tag of their own and include the
deployment separator, as reports and receipts do, so no signature here can be replayed as
another message or on another deployment.
"""

from __future__ import annotations

import re
from typing import Annotated, Final

import msgspec

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import InvalidAddress, InvalidSignature
from depinkit.core.keys import Account, address_bytes, keccak256, recover_address, to_checksum
from depinkit.networks.errors import NetworkError

DIGEST_PREFIX: Final[bytes] = b"\x19depinkit"  # as report digests: never a tx or EIP-191 message
JOB_TAG: Final[bytes] = b"depinkit/compute/job/v1"
REQUEST_TAG: Final[bytes] = b"depinkit/compute/request/v1"
RESULT_TAG: Final[bytes] = b"depinkit/compute/result/v1"
CANCEL_TAG: Final[bytes] = b"depinkit/compute/cancel/v1"

LEASE_BYTES: Final[int] = 32  # bytes: a lease id is a receipt channel
SIGNATURE_BYTES: Final[int] = 65  # r || s || v
MAX_MODULE_BYTES: Final[int] = 16 * 1024 * 1024  # 16 MiB: a C program with libc is ~50 KiB
MAX_INPUT_FILES: Final[int] = 256  # files: bounds the preopened directory
MAX_ARGS: Final[int] = 64  # argv entries
MAX_ARG_CHARS: Final[int] = 4096  # characters per argv entry
MAX_FUEL: Final[int] = 2**62  # fuel units: wasmtime's fuel counter is a u64
FILE_NAME_PATTERN: Final[str] = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"  # flat, no "..", no "/"
OUTPUT_PATH_PATTERN: Final[str] = r"^[A-Za-z0-9._/-]{1,512}$"  # relative path under /out
_FILE_NAME = re.compile(FILE_NAME_PATTERN[1:-1])

# Status of a run: "ok" when the module ran to its end (exit code in ``exit_code``, any
# value); every other status names the failure (see sandbox.py for each one's meaning).
STATUS_OK: Final[str] = "ok"
STATUS_FUEL_EXHAUSTED: Final[str] = "fuel_exhausted"
STATUS_MEMORY_EXCEEDED: Final[str] = "memory_exceeded"
STATUS_WALL_TIME_EXCEEDED: Final[str] = "wall_time_exceeded"
STATUS_OUTPUT_TOO_LARGE: Final[str] = "output_too_large"
STATUS_FORBIDDEN_IMPORT: Final[str] = "forbidden_import"
STATUS_MALFORMED_MODULE: Final[str] = "malformed_module"
STATUS_INVALID_JOB: Final[str] = "invalid_job"
STATUS_TRAP: Final[str] = "trap"
STATUS_CRASHED: Final[str] = "crashed"  # the sandbox process died or was killed
STATUSES: Final[tuple[str, ...]] = (
    STATUS_OK,
    STATUS_FUEL_EXHAUSTED,
    STATUS_MEMORY_EXCEEDED,
    STATUS_WALL_TIME_EXCEEDED,
    STATUS_OUTPUT_TOO_LARGE,
    STATUS_FORBIDDEN_IMPORT,
    STATUS_MALFORMED_MODULE,
    STATUS_INVALID_JOB,
    STATUS_TRAP,
    STATUS_CRASHED,
)

_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
_Lease = Annotated[bytes, msgspec.Meta(min_length=LEASE_BYTES, max_length=LEASE_BYTES)]
_Signature = Annotated[bytes, msgspec.Meta(min_length=SIGNATURE_BYTES, max_length=SIGNATURE_BYTES)]
_Hash = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
_Positive = Annotated[int, msgspec.Meta(ge=1, le=MAX_FUEL)]
_FileName = Annotated[str, msgspec.Meta(pattern=FILE_NAME_PATTERN)]
_OutputPath = Annotated[str, msgspec.Meta(pattern=OUTPUT_PATH_PATTERN)]
_Arg = Annotated[str, msgspec.Meta(max_length=MAX_ARG_CHARS)]


class JobLimits(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What one run may consume; the sandbox ends the run at the first one reached."""

    fuel: _Positive  # wasmtime fuel units (about one per wasm instruction)
    memory_bytes: _Positive  # bytes: largest size of the module's linear memory
    wall_ms: _Positive  # milliseconds of wall time for the whole run
    output_bytes: _Positive  # bytes: all files under /out plus stdout and stderr


class Job(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A WASI preview-1 module with its argv (``args[0]`` is the program name), the input
    files it finds read-only under ``/in`` and its limits; it writes outputs under ``/out``.
    """

    module: Annotated[bytes, msgspec.Meta(max_length=MAX_MODULE_BYTES)]
    args: Annotated[list[_Arg], msgspec.Meta(max_length=MAX_ARGS)]
    inputs: Annotated[dict[_FileName, bytes], msgspec.Meta(max_length=MAX_INPUT_FILES)]
    limits: JobLimits

    def __post_init__(self) -> None:  # the pattern documents it; this enforces it exactly
        for name in self.inputs:
            if _FILE_NAME.fullmatch(name) is None:
                raise ValueError(f"input file name must match {FILE_NAME_PATTERN}: {name!r}")


class JobResult(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What a run produced. ``fuel_used`` is what the consumer pays for, whatever the status:
    exact when the module ended by itself, ``limits.fuel`` when the fuel ran out, a lower
    bound when the sandbox interrupted it (wall time, output size; see runner.py), 0 when it
    never ran or its worker died."""

    job_id: _Hash
    status: str  # one of STATUSES
    exit_code: int  # the WASI exit code when status is "ok", else -1
    fuel_used: Annotated[int, msgspec.Meta(ge=0, le=MAX_FUEL)]
    outputs: dict[_OutputPath, bytes]  # path under /out -> content
    stdout: bytes
    stderr: bytes
    outputs_hash: _Hash  # see outputs_hash(); what verification compares
    error: str = ""  # a human-readable reason when status is not "ok"


class JobRequest(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A consumer's signed order to ``provider`` to run ``job`` under ``lease``."""

    job: Job
    lease: _Lease
    consumer: _Address
    provider: _Address
    signature: _Signature  # by consumer over request_digest(...)


class SignedResult(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A provider's signed answer to a :class:`JobRequest`."""

    result: JobResult
    lease: _Lease
    provider: _Address
    signature: _Signature  # by provider over result_digest(...)


def job_id(job: Job) -> bytes:
    """keccak256(JOB_TAG || canonical msgpack of the job): the same bytes, the same id."""
    return keccak256(JOB_TAG + canonical_encode(job))


def outputs_hash(exit_code: int, status: str, outputs: dict[str, bytes], stdout: bytes) -> bytes:
    """keccak256 of the canonical list [status, exit_code, [[path, keccak256(content)]...] in
    path order, keccak256(stdout)]. stderr is left out: it is for diagnostics, and fuel is
    compared on its own."""
    listed = [[path, keccak256(outputs[path])] for path in sorted(outputs)]
    return keccak256(canonical_encode([status, exit_code, listed, keccak256(stdout)]))


def request_digest(
    domain: ReportDomain, job_digest: bytes, lease: bytes, consumer: str, provider: str
) -> bytes:
    """What the consumer signs: prefix, tag, deployment, job id, lease, consumer, provider."""
    if len(job_digest) != 32 or len(lease) != LEASE_BYTES:
        raise ValueError("job id and lease must be 32 bytes each")
    return keccak256(
        DIGEST_PREFIX
        + REQUEST_TAG
        + domain.separator()
        + job_digest
        + lease
        + address_bytes(consumer)
        + address_bytes(provider)
    )


def result_digest(domain: ReportDomain, result: JobResult, lease: bytes, provider: str) -> bytes:
    """What the provider signs: prefix, tag, deployment, lease, provider, job id, fuel used and
    outputs hash (the outputs themselves are bound through their hashes)."""
    if len(lease) != LEASE_BYTES:
        raise ValueError("lease must be 32 bytes")
    return keccak256(
        DIGEST_PREFIX
        + RESULT_TAG
        + domain.separator()
        + lease
        + address_bytes(provider)
        + result.job_id
        + result.fuel_used.to_bytes(8, "big")
        + result.outputs_hash
    )


class JobMessageError(NetworkError):
    """A job request or signed result that is malformed or not signed by whom it names."""


def sign_request(
    consumer: Account, domain: ReportDomain, job: Job, *, lease: bytes, provider: str
) -> JobRequest:
    """``consumer``'s order to ``provider`` to run ``job`` under ``lease``."""
    provider = to_checksum(provider)
    digest = request_digest(domain, job_id(job), lease, consumer.address, provider)
    return JobRequest(
        job=job,
        lease=lease,
        consumer=consumer.address,
        provider=provider,
        signature=consumer.sign_digest(digest),
    )


def verify_request(domain: ReportDomain, request: JobRequest) -> bytes:
    """The job id of ``request``; JobMessageError unless its consumer signed it."""
    ident = job_id(request.job)
    try:
        digest = request_digest(domain, ident, request.lease, request.consumer, request.provider)
        signer = recover_address(digest, request.signature)
    except (InvalidAddress, InvalidSignature, ValueError) as exc:
        raise JobMessageError(f"job request signature is invalid: {exc}") from None
    if signer != to_checksum(request.consumer):
        raise JobMessageError(f"job request is signed by {signer}, not by {request.consumer}")
    return ident


def sign_result(
    provider: Account, domain: ReportDomain, result: JobResult, *, lease: bytes
) -> SignedResult:
    """``provider``'s signed answer carrying ``result``."""
    digest = result_digest(domain, result, lease, provider.address)
    return SignedResult(
        result=result,
        lease=lease,
        provider=provider.address,
        signature=provider.sign_digest(digest),
    )


def verify_result(domain: ReportDomain, signed: SignedResult) -> None:
    """JobMessageError unless ``signed`` is signed by its provider and its outputs hash
    matches the outputs it carries."""
    result = signed.result
    if result.status not in STATUSES:
        raise JobMessageError(f"unknown result status {result.status!r}")
    if outputs_hash(result.exit_code, result.status, result.outputs, result.stdout) != (
        result.outputs_hash
    ):
        raise JobMessageError("result outputs do not match their hash")
    try:
        signer = recover_address(
            result_digest(domain, result, signed.lease, signed.provider), signed.signature
        )
    except (InvalidAddress, InvalidSignature, ValueError) as exc:
        raise JobMessageError(f"result signature is invalid: {exc}") from None
    if signer != to_checksum(signed.provider):
        raise JobMessageError(f"result is signed by {signer}, not by {signed.provider}")


class CancelRequest(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A consumer's signed order to ``provider`` to stop the run of ``lease`` (``POST
    /v1/cancel``): only the consumer that ordered the lease can stop it."""

    lease: _Lease
    consumer: _Address
    provider: _Address
    signature: _Signature  # by consumer over cancel_digest(...)


def cancel_digest(domain: ReportDomain, lease: bytes, consumer: str, provider: str) -> bytes:
    """What the consumer signs to cancel: prefix, tag, deployment, lease, consumer, provider."""
    if len(lease) != LEASE_BYTES:
        raise ValueError("lease must be 32 bytes")
    return keccak256(
        DIGEST_PREFIX
        + CANCEL_TAG
        + domain.separator()
        + lease
        + address_bytes(consumer)
        + address_bytes(provider)
    )


def sign_cancel(
    consumer: Account, domain: ReportDomain, *, lease: bytes, provider: str
) -> CancelRequest:
    """``consumer``'s order to ``provider`` to stop the run of ``lease``."""
    provider = to_checksum(provider)
    digest = cancel_digest(domain, lease, consumer.address, provider)
    return CancelRequest(
        lease=lease,
        consumer=consumer.address,
        provider=provider,
        signature=consumer.sign_digest(digest),
    )


def verify_cancel(domain: ReportDomain, request: CancelRequest) -> None:
    """JobMessageError unless ``request`` is signed by the consumer it names."""
    try:
        digest = cancel_digest(domain, request.lease, request.consumer, request.provider)
        signer = recover_address(digest, request.signature)
    except (InvalidAddress, InvalidSignature, ValueError) as exc:
        raise JobMessageError(f"cancel request signature is invalid: {exc}") from None
    if signer != to_checksum(request.consumer):
        raise JobMessageError(f"cancel request is signed by {signer}, not by {request.consumer}")
