"""Report bodies of the compute network, and the provider-signed result claim.

Three report kinds travel in the standard envelope (network ``compute``), all sent by
provider devices (docs/networks/compute.md, "Messages"):

* ``offer``: idle capacity a provider offers in one availability slot, and its price;
* ``completion``: a job it ran, its signed result claim and the consumer's fuel receipt;
* ``dispute``: evidence that another provider's result is wrong (its signed claim, and
  the signed claims of at least two others who re-ran the job and agree with each other).

A :class:`Claim` is what a provider signs when it hands a result back (the signature of
its :class:`~depinkit.networks.compute.jobs.SignedResult`, over ``jobs.result_digest``:
lease, provider, job id, fuel used, outputs hash). It is portable evidence: whoever holds
it can prove what the provider said, which is what lets a dispute slash a provider that
never reported.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import Account, is_checksummed, recover_address, to_checksum
from depinkit.networks.compute.jobs import STATUS_OK, JobResult, SignedResult, result_digest
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import Receipt

OFFER: Final[str] = "offer"  # kind names
COMPLETION: Final[str] = "completion"
DISPUTE: Final[str] = "dispute"

ROLE_PRIMARY: Final[int] = 0  # the run the consumer leased first
ROLE_VERIFY: Final[int] = 1  # a re-run chosen by the verification coin
ROLE_TIEBREAK: Final[int] = 2  # the third run that decides a mismatch
ROLES: Final[tuple[str, ...]] = ("primary", "verify", "tiebreak")

HASH_BYTES: Final[int] = 32  # bytes: job ids, output hashes, lease ids
SIGNATURE_BYTES: Final[int] = 65  # r || s || v
MAX_FUEL: Final[int] = 2**62  # fuel units: as jobs.MAX_FUEL
MAX_SLOTS: Final[int] = 4_096  # concurrent jobs one device may declare
MAX_MFUEL_PER_S: Final[int] = 2**32  # million fuel per second per slot: far beyond any core
MAX_MEMORY_MIB: Final[int] = 2**24  # MiB: 16 TiB
MAX_PRICE: Final[int] = 2**40  # nanocredits per million fuel: 1,100 credits, absurd already
MAX_CAPABILITIES: Final[int] = 16  # capability tags per offer; bounds report size
MAX_WITNESSES: Final[int] = 8  # claims backing one dispute
MIN_WITNESSES: Final[int] = 2  # two agreeing re-runs outvote the accused (a 2-to-1 majority)

_Hash = Annotated[bytes, msgspec.Meta(min_length=HASH_BYTES, max_length=HASH_BYTES)]
_Signature = Annotated[bytes, msgspec.Meta(min_length=SIGNATURE_BYTES, max_length=SIGNATURE_BYTES)]
_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
_Tag = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_.-]{0,32}$")]
_Fuel = Annotated[int, msgspec.Meta(ge=0, le=MAX_FUEL)]


class ClaimError(NetworkError):
    """A result claim that is malformed or not signed by its provider."""


class Offer(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``offer``: what a provider declares it can run now, and at what price.

    ``slots`` concurrent jobs, ``busy`` of them taken; each slot sustains ``mfuel_per_s``
    million fuel units per second with ``memory_mib`` of memory. The idle part
    (``slots - busy``) is what availability rewards pay for.
    """

    slots: Annotated[int, msgspec.Meta(ge=1, le=MAX_SLOTS)]
    busy: Annotated[int, msgspec.Meta(ge=0, le=MAX_SLOTS)]
    mfuel_per_s: Annotated[int, msgspec.Meta(ge=1, le=MAX_MFUEL_PER_S)]
    memory_mib: Annotated[int, msgspec.Meta(ge=1, le=MAX_MEMORY_MIB)]
    price_per_mfuel: Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE)]  # nanocredits
    region: _Tag = ""
    capabilities: Annotated[tuple[_Tag, ...], msgspec.Meta(max_length=MAX_CAPABILITIES)] = ()


class Claim(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A provider's signed statement: running ``job_id`` gave ``output_hash`` for ``fuel_used``."""

    job_id: _Hash
    lease: _Hash
    provider: _Address
    output_hash: _Hash  # jobs.outputs_hash of the result
    fuel_used: _Fuel
    signature: _Signature  # the SignedResult's signature

    def key(self) -> tuple[bytes, int]:
        """What two runs must agree on: the same output for the same fuel."""
        return (self.output_hash, self.fuel_used)


class Completion(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``completion``: a job the reporting provider ran, and what the consumer paid for it.

    ``receipt.channel`` is the lease id; ``receipt.cumulative`` is what the consumer has
    paid on that lease so far (one lease per job and provider: docs, "Market").
    """

    claim: Claim
    role: Annotated[int, msgspec.Meta(ge=ROLE_PRIMARY, le=ROLE_TIEBREAK)]
    receipt: Receipt


class Dispute(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``dispute``: ``accused``'s claim, outvoted by ``witnesses`` that re-ran the same job."""

    accused: Claim
    witnesses: Annotated[
        tuple[Claim, ...], msgspec.Meta(min_length=MIN_WITNESSES, max_length=MAX_WITNESSES)
    ]


def claim_digest(
    domain: ReportDomain,
    *,
    job_id: bytes,
    lease: bytes,
    provider: str,
    output_hash: bytes,
    fuel_used: int,
) -> bytes:
    """The digest a provider signs for a result: ``jobs.result_digest`` of those fields."""
    if len(job_id) != HASH_BYTES or len(output_hash) != HASH_BYTES or len(lease) != HASH_BYTES:
        raise ClaimError(f"job id, lease and output hash must be {HASH_BYTES} bytes")
    if not isinstance(provider, str) or not is_checksummed(provider):
        raise ClaimError(f"provider must be an EIP-55 checksummed address: {provider!r}")
    if type(fuel_used) is not int or not 0 <= fuel_used <= MAX_FUEL:
        raise ClaimError(f"fuel used out of range: {fuel_used!r}")
    # result_digest reads only job_id, fuel_used and outputs_hash of the result.
    stub = JobResult(job_id, STATUS_OK, 0, fuel_used, {}, b"", b"", output_hash)
    return result_digest(domain, stub, lease, provider)


def claim_of(signed: SignedResult) -> Claim:
    """The claim inside a provider's signed result (what a consumer keeps as evidence)."""
    result = signed.result
    return Claim(
        job_id=result.job_id,
        lease=signed.lease,
        provider=to_checksum(signed.provider),
        output_hash=result.outputs_hash,
        fuel_used=result.fuel_used,
        signature=signed.signature,
    )


def sign_claim(
    provider: Account,
    domain: ReportDomain,
    *,
    job_id: bytes,
    lease: bytes,
    output_hash: bytes,
    fuel_used: int,
) -> Claim:
    """A claim signed by ``provider`` (tests and tools; providers sign through jobs.sign_result)."""
    digest = claim_digest(
        domain,
        job_id=job_id,
        lease=lease,
        provider=provider.address,
        output_hash=output_hash,
        fuel_used=fuel_used,
    )
    signature = provider.sign_digest(digest)
    return Claim(job_id, lease, provider.address, output_hash, fuel_used, signature)


def verify_claim(domain: ReportDomain | None, claim: Claim) -> None:
    """ClaimError unless ``claim`` is well formed and signed by its provider for ``domain``."""
    if domain is None:
        raise ClaimError("no deployment domain to check claims against")
    digest = claim_digest(
        domain,
        job_id=claim.job_id,
        lease=claim.lease,
        provider=claim.provider,
        output_hash=claim.output_hash,
        fuel_used=claim.fuel_used,
    )
    try:
        signer = recover_address(digest, claim.signature)
    except (InvalidSignature, ValueError) as exc:
        raise ClaimError(f"claim signature is invalid: {exc}") from None
    if signer != claim.provider:
        raise ClaimError(f"claim is signed by {signer}, not by its provider {claim.provider}")
