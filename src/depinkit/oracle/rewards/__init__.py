"""depinkit.oracle.rewards: pure reward computation (allocation, ledger, manifest).

No I/O, no clock, no floats: integer token base units in, integer token base units out, in
a fixed order, so every oracle computes byte-identical roots and manifests. The spec is
docs/rewards.md.
"""

from depinkit.oracle.rewards.accounts import canonical_address
from depinkit.oracle.rewards.allocate import (
    BPS,
    MAX_POINTS,
    Allocation,
    BucketAllocation,
    NetworkAllocation,
    Scores,
    allocate,
    parameters_from_network_values,
)
from depinkit.oracle.rewards.audit import check_manifest
from depinkit.oracle.rewards.emission import (
    EmissionSchedule,
    emitted_through,
    epoch_budget,
    epoch_emission,
)
from depinkit.oracle.rewards.epoch import EpochRewards, compute_epoch_rewards
from depinkit.oracle.rewards.errors import (
    AllocationError,
    LedgerError,
    RewardManifestError,
    RewardsError,
)
from depinkit.oracle.rewards.ledger import EMPTY_ROOT, Claim, Ledger, credit_epoch
from depinkit.oracle.rewards.manifest import (
    MANIFEST_VERSION,
    BucketTotals,
    DeviceBucket,
    DeviceDetails,
    DeviceEntry,
    NetworkTotals,
    OwnerEntry,
    Parameters,
    Rejection,
    RewardManifest,
    Schedule,
    Verdict,
    VerdictRecord,
    build_manifest,
    decode_manifest,
    decode_manifest_json,
    encode_manifest,
    manifest_hash,
    manifest_json,
)

__all__ = [
    "BPS",
    "EMPTY_ROOT",
    "MANIFEST_VERSION",
    "MAX_POINTS",
    "Allocation",
    "AllocationError",
    "BucketAllocation",
    "BucketTotals",
    "Claim",
    "DeviceBucket",
    "DeviceDetails",
    "DeviceEntry",
    "EmissionSchedule",
    "EpochRewards",
    "Ledger",
    "LedgerError",
    "NetworkAllocation",
    "NetworkTotals",
    "OwnerEntry",
    "Parameters",
    "Rejection",
    "RewardManifest",
    "RewardManifestError",
    "RewardsError",
    "Schedule",
    "Scores",
    "Verdict",
    "VerdictRecord",
    "allocate",
    "build_manifest",
    "canonical_address",
    "check_manifest",
    "compute_epoch_rewards",
    "credit_epoch",
    "decode_manifest",
    "decode_manifest_json",
    "emitted_through",
    "encode_manifest",
    "epoch_budget",
    "epoch_emission",
    "manifest_hash",
    "manifest_json",
    "parameters_from_network_values",
]
