"""RewardRoot signatures: sign with the oracle key, check a peer's, order for submitRoot.

The digest is the EIP-712 RewardRoot of the epoch, root and total on this distributor and
chain (:func:`depinkit.chain.eip712.reward_root_digest`), computed once when the epoch is
scored and stored with it. A peer's signature counts only when it recovers, over *our*
digest, to a member of the oracle set recorded for the epoch: a peer that computed another
root signs another digest, and its signature is refused rather than submitted to fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from depinkit.chain.eip712 import DigestSigner, sort_signatures
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import recover_address, to_checksum
from depinkit.oracle.epochs.errors import SignatureRejected

SIGNATURE_BYTES = 65  # r || s || v


def sign_root(signer: DigestSigner, digest: bytes) -> tuple[str, bytes]:
    """(signer address, signature) of the epoch's RewardRoot digest."""
    return to_checksum(signer.address), signer.sign_digest(digest)


def verify_signature(
    digest: bytes, signature: bytes, oracles: Iterable[str], *, claimed: str | None = None
) -> str:
    """The oracle that signed ``digest``; SignatureRejected unless an oracle (``claimed``)."""
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureRejected(f"signature must be {SIGNATURE_BYTES} bytes, got {len(signature)}")
    try:
        signer = recover_address(digest, signature)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureRejected(f"signature does not recover: {exc}") from exc
    if claimed is not None and claimed.lower() != signer.lower():
        raise SignatureRejected(
            f"signature is by {signer}, not {claimed}: signed another root or epoch"
        )
    if signer.lower() not in {o.lower() for o in oracles}:
        raise SignatureRejected(f"{signer} is not in the oracle set of this epoch")
    return signer


def quorum(signed: Mapping[str, bytes], threshold: int) -> list[bytes] | None:
    """The signatures to submit, ordered by signer as OracleSet wants; None below threshold."""
    if threshold <= 0 or len(signed) < threshold:
        return None
    return sort_signatures(signed.items())
