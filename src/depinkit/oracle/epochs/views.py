"""Response and request bodies of the epoch API (msgspec Structs, JSON on the wire)."""

from __future__ import annotations

import msgspec


class ReportIds(msgspec.Struct, frozen=True):
    """Ids of the reports labelled ``epoch`` this oracle holds (0x hex, sorted)."""

    epoch: int
    ids: list[str]


class SignatureEntry(msgspec.Struct, frozen=True):
    signer: str
    signature: str  # 0x hex, 65 bytes


class EpochInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """An epoch as this oracle sees it; root and total once scored, signatures once signed."""

    epoch: int
    state: str
    start_block: int
    entropy: str
    root: str | None = None
    total: str | None = None  # decimal: a uint256
    digest: str | None = None
    manifest_hash: str | None = None
    threshold: int | None = None
    signatures: list[SignatureEntry] = msgspec.field(default_factory=list)
    tx_hash: str | None = None


class SignatureBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """POST /v1/epochs/{epoch}/signatures: a peer's signature of this epoch's RewardRoot."""

    signer: str
    signature: str  # 0x hex
    root: str | None = None  # the root the peer signed, for a clearer refusal


class SignatureAck(msgspec.Struct, frozen=True):
    signer: str
    stored: bool  # False: this signer's signature was already held
    count: int  # signatures now held for the epoch


class ClaimBody(msgspec.Struct, frozen=True):
    """What ``RewardsDistributor.claim`` needs, for the latest settled epoch."""

    epoch: int
    account: str
    cumulative: str  # decimal
    proof: list[str]
    root: str


class CreditsSpentBody(msgspec.Struct, frozen=True):
    """Nanocredits a consumer spent in every epoch scored here so far, all networks.

    What a consumer may still spend is what it bought on chain (``Credits.credits``, in
    1e-18 units, divided by 1e9) minus ``spent``, minus receipts not yet settled.
    """

    account: str
    spent: int  # nanocredits
    through_epoch: int | None  # the latest epoch scored here (None: none yet)
