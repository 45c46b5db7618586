"""Slashing verdicts: what the oracles sign when a provider keeps failing
(docs/networks/storage.md, "Slashing").

When a provider's failure streak reaches ``slash_after_epochs``, the epoch's state lists a
:class:`SlashingVerdict` (once per streak). Every oracle computes the same verdict from the
same reports; each signs :func:`slashing_digest` and the pipeline submits the verdict with
M-of-N signatures to the contract that holds the provider's stake, as it does roots::

    slashing_digest = keccak256(SLASH_TAG || separator(domain) || keccak256(canonical(verdict)))
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import Account, keccak256, recover_address
from depinkit.networks.errors import NetworkError

SLASH_TAG: Final[bytes] = b"depinkit/storage/slash/v1"  # domain separation
PERSISTENT_FAILURE: Final[str] = "persistent_failure"  # the only slashing reason so far


class SlashingVerdict(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``provider`` failed ``failed_epochs`` epochs in a row, the last being ``epoch``."""

    network: str
    epoch: int
    provider: str
    failed_epochs: int
    reason: str
    evidence: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]  # see module.py


class SignedSlashing(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    verdict: SlashingVerdict
    oracle: str
    signature: bytes


def slashing_digest(domain: ReportDomain, verdict: SlashingVerdict) -> bytes:
    return keccak256(SLASH_TAG + domain.separator() + keccak256(canonical_encode(verdict)))


def sign_slashing(
    oracle: Account, domain: ReportDomain, verdict: SlashingVerdict
) -> SignedSlashing:
    """One oracle's signature over ``verdict``."""
    signature = oracle.sign_digest(slashing_digest(domain, verdict))
    return SignedSlashing(verdict=verdict, oracle=oracle.address, signature=signature)


def verify_slashing(domain: ReportDomain, signed: SignedSlashing) -> None:
    """NetworkError unless ``signed`` carries its oracle's valid signature."""
    try:
        signer = recover_address(slashing_digest(domain, signed.verdict), signed.signature)
    except (InvalidSignature, ValueError) as exc:
        raise NetworkError(f"slashing signature is invalid: {exc}") from None
    if signer != signed.oracle:
        raise NetworkError(f"slashing verdict signed by {signer}, not {signed.oracle}")
