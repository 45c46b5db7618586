"""Repair policy: which segments need repair and what a repair earns (pure;
docs/networks/storage.md, "Repair").

After each epoch a piece is *healthy* when its provider is not disqualified and the piece
did not fail: it was proven if it had to be (its deal was active at the epoch's start),
and no retrieval audit of it failed. A segment whose healthy pieces are at or below its
deal's repair threshold joins the repair queue, with the shares to rebuild. Any provider
in good standing that holds no piece of the segment may rebuild one of those shares
(download k healthy pieces, decode, re-encode that share: the same bytes, so the same
root) and claim it; the placement moves to it, and at its first passing proof of that
piece it earns ``repair_points(size)`` in the ``repair`` bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Final

from depinkit.networks.storage.state import DealRecord, PieceKey, RepairNeed, SegmentKey

REPAIR_POINT_BYTES: Final[int] = 1  # bytes per repair point: points are bytes restored


def unhealthy_pieces(
    expected: Set[PieceKey], proven: Set[PieceKey], audit_failed: Set[PieceKey]
) -> set[PieceKey]:
    """Pieces that had to be proven and were not, plus pieces an audit found missing."""
    return set(expected - proven) | set(audit_failed)


def segment_health(
    deals: Iterable[DealRecord],
    epoch: int,
    unhealthy: Set[PieceKey],
    disqualified: Set[str],
) -> dict[SegmentKey, list[int]]:
    """Healthy share indices of every segment of the deals still active in ``epoch``."""
    health: dict[SegmentKey, list[int]] = {}
    for deal in sorted(deals, key=lambda d: d.terms.deal_id):
        if not deal.active(epoch):
            continue
        deal_id = deal.terms.deal_id
        for piece in sorted(deal.terms.pieces, key=lambda p: (p.segment, p.index)):
            good = (deal_id, piece.segment, piece.index) not in unhealthy and (
                piece.provider not in disqualified
            )
            shares = health.setdefault((deal_id, piece.segment), [])
            if good:
                shares.append(piece.index)
    return health


def repair_queue(
    deals: Mapping[bytes, DealRecord], health: Mapping[SegmentKey, list[int]]
) -> list[RepairNeed]:
    """Segments at or below their repair threshold, sorted by (deal, segment)."""
    queue = []
    for (deal_id, segment), healthy in sorted(health.items()):
        deal = deals[deal_id]
        if len(healthy) <= deal.repair_threshold:
            present = set(healthy)
            missing = [i for i in range(deal.terms.n) if i not in present]
            queue.append(RepairNeed(deal_id, segment, len(healthy), missing))
    return queue


def repair_points(size: int) -> int:
    """Points in the repair bucket for restoring a piece of ``size`` bytes."""
    return max(size, 0) // REPAIR_POINT_BYTES
