"""Retrieval audits: which chunks each auditing oracle downloads this epoch, and how its
signed result is checked (docs/networks/storage.md, "Retrieval audits").

A proof shows a provider holds a piece; an audit shows it also serves it, as Storj's
satellites audit nodes by downloading erasure shares. The targets are derived, like the
challenges, from the epoch's entropy and the auditor's address, over every placement in
force at the epoch's start (sorted by deal, segment, share)::

    h_i    = keccak256(AUDIT_SELECT_TAG || entropy || auditor (20 bytes) || uint32_be(i))
    target = placements[uint256(h_i) mod len(placements)]
    chunk  = uint256(keccak256(h_i)) mod chunks(target)

so an auditor cannot pick whom to harass, and a provider cannot know which chunks will be
asked before the epoch starts. The auditor signs one :class:`AuditResult` per target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import Account, address_bytes, keccak256, recover_address
from depinkit.networks.context import ENTROPY_BYTES
from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.pieces import HASH_BYTES, chunk_count
from depinkit.networks.storage.schemas import (
    AUDIT_FAIL,
    AUDIT_OFFLINE,
    AUDIT_PASS,
    AuditResult,
    PieceTerms,
    audit_digest,
    sign_audit,
)

AUDIT_SELECT_TAG: Final[bytes] = b"depinkit/storage/audit-select/v1"  # domain separation
DRAW_BYTES: Final[int] = 4  # bytes: the draw counter as a big-endian u32

# Reason codes of audit checks (the module adds them to its verdicts).
BAD_AUDIT_SIGNATURE: Final[str] = "bad_audit_signature"  # not signed by the named auditor
UNKNOWN_AUDITOR: Final[str] = "unknown_auditor"  # the signer is not an auditing oracle
WRONG_AUDIT_EPOCH: Final[str] = "wrong_audit_epoch"  # the result is for another epoch
UNPLANNED_AUDIT: Final[str] = "unplanned_audit"  # not one of the auditor's targets this epoch
BAD_AUDIT_OUTCOME: Final[str] = "bad_audit_outcome"  # outcome and chunk hash disagree


class Placement(NamedTuple):
    """A piece where it is held: the deal it belongs to and its terms (provider included)."""

    deal_id: bytes
    piece: PieceTerms


class AuditTarget(NamedTuple):
    """One chunk an auditor must download: (deal, segment, share, provider, chunk index)."""

    deal_id: bytes
    segment: int
    share: int
    provider: str
    chunk: int


def audit_targets(
    entropy: bytes, auditor: str, placements: Sequence[Placement], count: int
) -> list[AuditTarget]:
    """The auditor's ``count`` draws over ``placements`` (the caller sorts them)."""
    if len(entropy) != ENTROPY_BYTES:
        raise NetworkError(f"entropy must be {ENTROPY_BYTES} bytes, got {len(entropy)}")
    if not placements:
        return []
    prefix = AUDIT_SELECT_TAG + entropy + address_bytes(auditor)
    targets = []
    for draw in range(count):
        digest = keccak256(prefix + draw.to_bytes(DRAW_BYTES, "big"))
        deal_id, piece = placements[int.from_bytes(digest, "big") % len(placements)]
        chunk = int.from_bytes(keccak256(digest), "big") % chunk_count(piece.size)
        targets.append(AuditTarget(deal_id, piece.segment, piece.index, piece.provider, chunk))
    return targets


def target_of(result: AuditResult) -> AuditTarget:
    return AuditTarget(result.deal_id, result.segment, result.index, result.provider, result.chunk)


def make_result(
    auditor: Account,
    domain: ReportDomain,
    epoch: int,
    target: AuditTarget,
    outcome: int,
    chunk_hash: bytes = b"",
) -> AuditResult:
    """The auditor's signed result for ``target`` (``chunk_hash``: leaf hash of the reply)."""
    unsigned = AuditResult(
        epoch=epoch,
        auditor=auditor.address,
        provider=target.provider,
        deal_id=target.deal_id,
        segment=target.segment,
        index=target.share,
        chunk=target.chunk,
        outcome=outcome,
        chunk_hash=chunk_hash,
        signature=bytes(65),
    )
    return sign_audit(auditor, domain, unsigned)


def check_audit_result(
    domain: ReportDomain | None,
    result: AuditResult,
    epoch: int,
    planned: Mapping[str, set[AuditTarget]],
) -> str | None:
    """None when ``result`` counts, else its reason code.

    ``planned`` maps every auditing oracle to its targets this epoch (:func:`audit_targets`).
    """
    if domain is None:
        return BAD_AUDIT_SIGNATURE
    try:
        signer = recover_address(audit_digest(domain, result), result.signature)
    except (InvalidSignature, ValueError):
        return BAD_AUDIT_SIGNATURE
    if signer != result.auditor:
        return BAD_AUDIT_SIGNATURE
    if signer not in planned:
        return UNKNOWN_AUDITOR
    if result.epoch != epoch:
        return WRONG_AUDIT_EPOCH
    if target_of(result) not in planned[signer]:
        return UNPLANNED_AUDIT
    hashed = len(result.chunk_hash) == HASH_BYTES
    if result.outcome == AUDIT_PASS and not hashed:
        return BAD_AUDIT_OUTCOME
    if result.outcome == AUDIT_OFFLINE and result.chunk_hash:
        return BAD_AUDIT_OUTCOME
    if result.outcome == AUDIT_FAIL and result.chunk_hash and not hashed:
        return BAD_AUDIT_OUTCOME
    return None
