"""The built-in ``storage`` network: encrypted, erasure-coded files on providers' disks.

Consumers register deals (which pieces, with which Merkle roots, on which providers, at
what price); providers prove the chunks that each epoch's entropy challenges, auditing
oracles download random chunks, and verdicts feed a beta reputation with suspension,
disqualification and slashing; segments that lose pieces are repaired. This package
exposes the pure protocol (schemas, challenges, proofs, audits, reputation, repair
policy, scoring, the module); the provider, its HTTP app and the consumer client live in
their own modules and are imported from there.

Spec: docs/networks/storage.md.
"""

from __future__ import annotations

from depinkit.networks.spec import NetworkSpec
from depinkit.networks.storage.audit import AuditTarget, Placement, audit_targets, make_result
from depinkit.networks.storage.challenge import challenged_chunks
from depinkit.networks.storage.module import (
    NAME,
    StorageModule,
    advance,
    audit_plan,
    provider_directory,
)
from depinkit.networks.storage.parameters import PARAMETERS, erasure_profile, profiles
from depinkit.networks.storage.proofs import check_piece_proof, pack_proofs, prove_piece
from depinkit.networks.storage.reputation import DISQUALIFIED, GOOD, SUSPENDED, Reputation
from depinkit.networks.storage.schemas import (
    AUDIT,
    AUDIT_FAIL,
    AUDIT_OFFLINE,
    AUDIT_PASS,
    CAPACITY,
    DEAL,
    KINDS,
    PROOF,
    RECEIPT,
    REPAIR,
    AuditBatch,
    AuditResult,
    CapacityDeclaration,
    ChunkProof,
    DealRegistration,
    DealTerms,
    PieceProof,
    PieceTerms,
    ReceiptReport,
    RepairClaim,
    StorageProof,
    deal_digest,
    deal_id_for,
    sign_deal,
    split_deal,
)
from depinkit.networks.storage.score import (
    BUCKETS,
    CAPACITY_BUCKET,
    REPAIR_BUCKET,
    USAGE_BUCKET,
)
from depinkit.networks.storage.slashing import (
    SignedSlashing,
    SlashingVerdict,
    sign_slashing,
    slashing_digest,
    verify_slashing,
)
from depinkit.networks.storage.state import StorageState, decode_state, encode_state
from depinkit.networks.storage.verify import REASONS


def module() -> StorageModule:
    """A fresh storage module with no auditing oracles configured."""
    return StorageModule()


def network_spec() -> NetworkSpec:
    """The storage network's report kinds (a fresh spec per call)."""
    return module().spec()


__all__ = [
    "AUDIT",
    "AUDIT_FAIL",
    "AUDIT_OFFLINE",
    "AUDIT_PASS",
    "BUCKETS",
    "CAPACITY",
    "CAPACITY_BUCKET",
    "DEAL",
    "DISQUALIFIED",
    "GOOD",
    "KINDS",
    "NAME",
    "PARAMETERS",
    "PROOF",
    "REASONS",
    "RECEIPT",
    "REPAIR",
    "REPAIR_BUCKET",
    "SUSPENDED",
    "USAGE_BUCKET",
    "AuditBatch",
    "AuditResult",
    "AuditTarget",
    "CapacityDeclaration",
    "ChunkProof",
    "DealRegistration",
    "DealTerms",
    "PieceProof",
    "PieceTerms",
    "Placement",
    "ReceiptReport",
    "RepairClaim",
    "Reputation",
    "SignedSlashing",
    "SlashingVerdict",
    "StorageModule",
    "StorageProof",
    "StorageState",
    "advance",
    "audit_plan",
    "audit_targets",
    "challenged_chunks",
    "check_piece_proof",
    "deal_digest",
    "deal_id_for",
    "decode_state",
    "encode_state",
    "erasure_profile",
    "make_result",
    "module",
    "network_spec",
    "pack_proofs",
    "profiles",
    "prove_piece",
    "provider_directory",
    "sign_deal",
    "sign_slashing",
    "slashing_digest",
    "split_deal",
    "verify_slashing",
]
