"""What the storage network carries from one epoch to the next (``ctx.prior``).

Deals with their current placement, each provider's declaration, reputation, standing and
failure streak, the last receipt per channel, the segments waiting for repair and the
repairs waiting for their first proof. Typed here, plain data in ``ctx.prior``
(:func:`encode_state` / :func:`decode_state`), so every oracle stores the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.audit import Placement
from depinkit.networks.storage.reputation import GOOD, Reputation
from depinkit.networks.storage.schemas import DealTerms, PieceTerms
from depinkit.networks.storage.slashing import SlashingVerdict

PieceKey = tuple[bytes, int, int]  # (deal id, segment, share index)
SegmentKey = tuple[bytes, int]  # (deal id, segment)


class DealRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A registered deal. ``terms.pieces`` is the current placement: a repair moves a piece."""

    terms: DealTerms
    repair_threshold: int  # healthy pieces at or below which a segment is repaired
    registered_epoch: int

    def active(self, epoch: int) -> bool:
        return self.terms.start_epoch <= epoch < self.terms.end_epoch

    def piece(self, segment: int, index: int) -> PieceTerms | None:
        for piece in self.terms.pieces:
            if piece.segment == segment and piece.index == index:
                return piece
        return None


class ProviderRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One provider as the network knows it."""

    reputation: Reputation
    capacity_bytes: int = 0  # 0: never declared
    url: str = ""
    standing: str = GOOD
    streak: int = 0  # epochs failed in a row
    slashed: bool = False  # a slashing verdict was issued for the current streak


class RepairNeed(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A segment at or below its repair threshold, and the shares to rebuild."""

    deal_id: bytes
    segment: int
    healthy: int
    missing: list[int]  # share indices that are not healthy, ascending


class PendingRepair(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A claimed repair, paid from the repair bucket at the piece's first passing proof."""

    deal_id: bytes
    segment: int
    index: int
    provider: str
    claimed_epoch: int


class StorageState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    epoch: int = -1  # the epoch that produced this state; -1 before the first
    deals: list[DealRecord] = msgspec.field(default_factory=list)  # sorted by deal id
    providers: dict[str, ProviderRecord] = msgspec.field(default_factory=dict)
    receipts: list[tuple[str, str, bytes, int]] = msgspec.field(default_factory=list)
    repair_queue: list[RepairNeed] = msgspec.field(default_factory=list)
    repairs: list[PendingRepair] = msgspec.field(default_factory=list)
    slashings: list[SlashingVerdict] = msgspec.field(default_factory=list)  # this epoch's

    def deal_map(self) -> dict[bytes, DealRecord]:
        return {d.terms.deal_id: d for d in self.deals}

    def placements(self, epoch: int) -> list[Placement]:
        """Every piece of a deal active in ``epoch``, sorted by (deal, segment, share)."""
        return sorted(
            _placements(self.deals, epoch),
            key=lambda p: (p.deal_id, p.piece.segment, p.piece.index),
        )


def _placements(deals: list[DealRecord], epoch: int) -> Iterator[Placement]:
    for deal in deals:
        if deal.active(epoch):
            for piece in deal.terms.pieces:
                yield Placement(deal.terms.deal_id, piece)


def encode_state(state: StorageState) -> dict[str, Any]:
    """Plain data (str-keyed dicts, lists, ints, str, bytes, bools) for ``next_prior``."""
    out = msgspec.to_builtins(state, builtin_types=(bytes,), order="deterministic")
    assert isinstance(out, dict)
    return out


def decode_state(prior: Mapping[str, Any]) -> StorageState:
    """The state in ``ctx.prior`` (empty: a fresh network); NetworkError if malformed."""
    if not prior:
        return StorageState()
    try:
        return msgspec.convert(dict(prior), StorageState)
    except msgspec.ValidationError as exc:
        raise NetworkError(f"storage prior state is malformed: {exc}") from None
