"""Report bodies of the ``storage`` network (docs/networks/storage.md, "Messages").

Every body travels in the standard device-signed envelope (``network = "storage"``), so
the device that sends it is already authenticated. Two bodies carry a second signature:
a deal is signed by its consumer (who is not a device) and an audit result by the
auditing oracle; both digests are bound to the deployment's :class:`ReportDomain` and
carry their own tag, so no report, receipt or root signature can be replayed as one.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account, keccak256
from depinkit.networks.receipts import Receipt
from depinkit.networks.storage.pieces import CHUNK_BYTES, HASH_BYTES, MAX_DEPTH

# Report kinds.
DEAL: Final[str] = "deal"  # a consumer-signed deal, forwarded by one of its providers
CAPACITY: Final[str] = "capacity"  # a provider declares what it offers and where
PROOF: Final[str] = "proof"  # a provider's storage proofs for this epoch's challenges
AUDIT: Final[str] = "audit"  # retrieval-audit results signed by an auditing oracle
RECEIPT: Final[str] = "receipt"  # a provider's newest consumer receipt on a deal's channel
REPAIR: Final[str] = "repair"  # a provider claims a rebuilt piece of a segment under repair

DEAL_TAG: Final[bytes] = b"depinkit/storage/deal/v1"  # domain separation of deal digests
DEAL_ID_TAG: Final[bytes] = b"depinkit/storage/deal-id/v1"  # deal ids derived from a file id
AUDIT_TAG: Final[bytes] = b"depinkit/storage/audit/v1"  # ... and of audit-result digests

ID_BYTES: Final[int] = 32  # bytes: deal ids, file ids and piece roots
SIGNATURE_BYTES: Final[int] = 65  # r || s || v
MAX_DEAL_PIECES: Final[int] = 160  # pieces: <= 94 bytes each keeps a deal in one 16 KiB report
MAX_SEGMENTS: Final[int] = 2**32  # segments per file: a u32 index
MAX_PIECE_SIZE: Final[int] = 1 << 42  # bytes: the parameter max_piece_bytes can never exceed it
MAX_EPOCHS: Final[int] = 2**63 - 1  # epochs: a signed 64-bit SQL BIGINT
MAX_PRICE: Final[int] = 2**63 - 1  # nanocredits: off-chain amounts fit 64 bits (decision 0002)
MAX_URL_CHARS: Final[int] = 256  # characters: an http(s) URL a provider is reached at
MAX_CAPACITY_BYTES: Final[int] = 1 << 60  # bytes: one EiB per provider is beyond any disk
MAX_CHALLENGED: Final[int] = 16  # chunks per piece: the chunks_per_piece parameter's maximum
MAX_PROOF_PIECES: Final[int] = 64  # pieces per proof report (the 16 KiB report bounds it first)
MAX_AUDITS: Final[int] = 64  # audit results per report

# Audit outcomes.
AUDIT_PASS: Final[int] = 0  # the chunk came back and hashed to the piece root
AUDIT_FAIL: Final[int] = 1  # the provider answered with wrong or no data for a piece it holds
AUDIT_OFFLINE: Final[int] = 2  # the provider could not be reached
AUDIT_OUTCOMES: Final[tuple[int, ...]] = (AUDIT_PASS, AUDIT_FAIL, AUDIT_OFFLINE)

_Id = Annotated[bytes, msgspec.Meta(min_length=ID_BYTES, max_length=ID_BYTES)]
_Signature = Annotated[bytes, msgspec.Meta(min_length=SIGNATURE_BYTES, max_length=SIGNATURE_BYTES)]
_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]
_Segment = Annotated[int, msgspec.Meta(ge=0, lt=MAX_SEGMENTS)]
_Share = Annotated[int, msgspec.Meta(ge=0, lt=256)]
_Epoch = Annotated[int, msgspec.Meta(ge=0, le=MAX_EPOCHS)]
_Price = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE)]
_Hash = Annotated[bytes, msgspec.Meta(min_length=HASH_BYTES, max_length=HASH_BYTES)]


class PieceTerms(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One piece of a deal: which share of which segment, its root and size, who holds it."""

    segment: _Segment
    index: _Share  # the share number: 0..n-1
    root: _Id  # pieces.piece_root of the piece's bytes, fixed for the deal's life
    size: Annotated[int, msgspec.Meta(ge=1, le=MAX_PIECE_SIZE)]
    provider: _Address


class DealTerms(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What the consumer signs: a file's pieces, who stores them, for how long, at what price.

    Receipts for this deal may use ``deal_id`` or ``file_id`` as their channel. A file larger
    than ``MAX_DEAL_PIECES`` pieces is registered as several deals sharing its ``file_id``
    (:func:`split_deal`; the first deal's id is the file id).
    """

    deal_id: _Id
    file_id: _Id  # keccak256 of the encrypted manifest: names the file without revealing it
    consumer: _Address  # the credit account that pays and signs
    k: Annotated[int, msgspec.Meta(ge=1, le=256)]
    n: Annotated[int, msgspec.Meta(ge=1, le=256)]
    pieces: Annotated[list[PieceTerms], msgspec.Meta(min_length=1, max_length=MAX_DEAL_PIECES)]
    price_gib_epoch: _Price  # nanocredits per GiB stored per epoch
    price_gib_egress: _Price  # nanocredits per GiB downloaded
    start_epoch: _Epoch
    duration_epochs: Annotated[int, msgspec.Meta(ge=1, le=MAX_EPOCHS)]

    @property
    def end_epoch(self) -> int:
        """First epoch the deal no longer covers."""
        return self.start_epoch + self.duration_epochs


class DealRegistration(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``deal``: the consumer-signed terms, as a provider of the deal forwards them."""

    terms: DealTerms
    signature: _Signature  # by terms.consumer over deal_digest(domain, terms)


class CapacityDeclaration(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``capacity``: bytes a provider offers to the network and the URL it serves pieces at."""

    capacity_bytes: Annotated[int, msgspec.Meta(ge=1, le=MAX_CAPACITY_BYTES)]
    url: Annotated[str, msgspec.Meta(max_length=MAX_URL_CHARS)] = ""


class ChunkProof(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One challenged chunk and its Merkle inclusion proof against the piece root."""

    index: Annotated[int, msgspec.Meta(ge=0, lt=2**MAX_DEPTH)]
    data: Annotated[bytes, msgspec.Meta(min_length=1, max_length=CHUNK_BYTES)]
    path: Annotated[list[_Hash], msgspec.Meta(max_length=MAX_DEPTH)]


class PieceProof(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The challenged chunks of one piece, in challenge order."""

    deal_id: _Id
    segment: _Segment
    index: _Share
    chunks: Annotated[list[ChunkProof], msgspec.Meta(min_length=1, max_length=MAX_CHALLENGED)]


class StorageProof(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``proof``: proofs for some of the pieces a provider holds (a provider sends several
    reports when its proofs exceed one report)."""

    pieces: Annotated[list[PieceProof], msgspec.Meta(min_length=1, max_length=MAX_PROOF_PIECES)]


class AuditResult(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """What an auditing oracle got when it downloaded one chunk from a provider."""

    epoch: _Epoch
    auditor: _Address  # the oracle that downloaded and signs
    provider: _Address
    deal_id: _Id
    segment: _Segment
    index: _Share
    chunk: Annotated[int, msgspec.Meta(ge=0, lt=2**MAX_DEPTH)]
    outcome: Annotated[int, msgspec.Meta(ge=0, le=max(AUDIT_OUTCOMES))]
    chunk_hash: bytes  # pieces.leaf_hash of what came back (empty when nothing did)
    signature: _Signature  # by auditor over audit_digest(domain, result)


class AuditBatch(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``audit``: audit results of one epoch, forwarded by any device of the network."""

    results: Annotated[list[AuditResult], msgspec.Meta(min_length=1, max_length=MAX_AUDITS)]


class ReceiptReport(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``receipt``: the provider's newest consumer receipt on one deal's channel."""

    receipt: Receipt


class RepairClaim(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """``repair``: the sender rebuilt share ``index`` of ``segment`` and now stores it."""

    deal_id: _Id
    segment: _Segment
    index: _Share


KINDS: Final[dict[str, type[msgspec.Struct]]] = {  # kind -> body; all positional arrays
    DEAL: DealRegistration,
    CAPACITY: CapacityDeclaration,
    PROOF: StorageProof,
    AUDIT: AuditBatch,
    RECEIPT: ReceiptReport,
    REPAIR: RepairClaim,
}


def deal_id_for(file_id: bytes, part: int) -> bytes:
    """The id of part ``part`` of a file's deals: the file id itself for part 0 (so a file in
    one deal pays on channel = file id), keccak256(DEAL_ID_TAG || file_id || u32) after."""
    if part == 0:
        return file_id
    return keccak256(DEAL_ID_TAG + file_id + part.to_bytes(4, "big"))


def split_deal(
    *,
    file_id: bytes,
    consumer: str,
    k: int,
    n: int,
    pieces: list[PieceTerms],
    price_gib_epoch: int,
    price_gib_egress: int,
    start_epoch: int,
    duration_epochs: int,
) -> list[DealTerms]:
    """A file's pieces as deals of whole segments, at most MAX_DEAL_PIECES pieces each.

    Deal ``i`` has id :func:`deal_id_for` (file_id, i); pieces are taken in (segment,
    share) order, so each deal holds a run of consecutive segments.
    """
    ordered = sorted(pieces, key=lambda x: (x.segment, x.index))
    per_deal = max(MAX_DEAL_PIECES // n, 1) if n > 0 else 1
    segments = sorted({x.segment for x in ordered})
    deals = []
    for part, first in enumerate(range(0, len(segments), per_deal)):
        chosen = set(segments[first : first + per_deal])
        deals.append(
            DealTerms(
                deal_id=deal_id_for(file_id, part),
                file_id=file_id,
                consumer=consumer,
                k=k,
                n=n,
                pieces=[x for x in ordered if x.segment in chosen],
                price_gib_epoch=price_gib_epoch,
                price_gib_egress=price_gib_egress,
                start_epoch=start_epoch,
                duration_epochs=duration_epochs,
            )
        )
    return deals


def deal_digest(domain: ReportDomain, terms: DealTerms) -> bytes:
    """keccak256(DEAL_TAG || separator(domain) || keccak256(canonical(terms)))."""
    return keccak256(DEAL_TAG + domain.separator() + keccak256(canonical_encode(terms)))


def sign_deal(consumer: Account, domain: ReportDomain, terms: DealTerms) -> DealRegistration:
    """The registration body of ``terms``, signed by ``consumer`` (who must be its consumer)."""
    if consumer.address != terms.consumer:
        raise ValueError(f"deal names consumer {terms.consumer}, signer is {consumer.address}")
    return DealRegistration(terms=terms, signature=consumer.sign_digest(deal_digest(domain, terms)))


def _audit_fields(result: AuditResult) -> tuple[object, ...]:
    return tuple(getattr(result, f) for f in AuditResult.__struct_fields__ if f != "signature")


def audit_digest(domain: ReportDomain, result: AuditResult) -> bytes:
    """keccak256(AUDIT_TAG || separator(domain) || keccak256(canonical(fields but signature)))."""
    return keccak256(
        AUDIT_TAG + domain.separator() + keccak256(canonical_encode(_audit_fields(result)))
    )


def sign_audit(auditor: Account, domain: ReportDomain, result: AuditResult) -> AuditResult:
    """``result`` signed by ``auditor`` (its ``auditor`` field must name the signer)."""
    if auditor.address != result.auditor:
        raise ValueError(f"result names auditor {result.auditor}, signer is {auditor.address}")
    return msgspec.structs.replace(
        result, signature=auditor.sign_digest(audit_digest(domain, result))
    )
