"""Epoch boundaries and the epoch's start block (pure: block timestamps come in as a function).

Epoch ``e`` covers chain time ``[genesis + e * length, genesis + (e + 1) * length)`` seconds,
as ``RewardsDistributor.currentEpoch`` computes it. Its *start block* is the first block whose
timestamp is at or after the epoch's start: every oracle finds the same block, reads the
parameters in force there, and takes its hash as the epoch's entropy (DESIGN.md,
"Determinism"). Timestamps never decrease along the chain, so a binary search finds it in
O(log head) reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from depinkit.oracle.epochs.errors import EpochError

MS_PER_S: Final[int] = 1_000


class EpochClock(msgspec.Struct, frozen=True):
    """Epoch arithmetic for one deployment: ``epoch.genesis`` and ``epoch.length`` (seconds)."""

    genesis_s: int
    length_s: int

    def __post_init__(self) -> None:
        if self.genesis_s < 0 or self.length_s <= 0:
            raise EpochError(f"bad epoch clock: genesis {self.genesis_s}, length {self.length_s}")

    def epoch_at(self, timestamp_s: int) -> int:
        """The epoch holding ``timestamp_s``; EpochError before genesis."""
        if timestamp_s < self.genesis_s:
            raise EpochError(f"time {timestamp_s} is before genesis {self.genesis_s}")
        return (timestamp_s - self.genesis_s) // self.length_s

    def start_s(self, epoch: int) -> int:
        if epoch < 0:
            raise EpochError(f"epoch must be >= 0, got {epoch}")
        return self.genesis_s + epoch * self.length_s

    def end_s(self, epoch: int) -> int:
        """First second after the epoch (exclusive end)."""
        return self.start_s(epoch) + self.length_s

    def bounds_ms(self, epoch: int) -> tuple[int, int]:
        """``[start_ms, end_ms)`` of the epoch, as the network modules' context wants."""
        return self.start_s(epoch) * MS_PER_S, self.end_s(epoch) * MS_PER_S

    def settle_at_ms(self, epoch: int, grace_ms: int) -> int:
        """When an oracle may start settling ``epoch``: its end plus the grace period."""
        if grace_ms < 0:
            raise EpochError("grace must not be negative")
        return self.end_s(epoch) * MS_PER_S + grace_ms

    def settleable_through(self, now_ms: int, grace_ms: int) -> int:
        """The last epoch whose end plus grace is at or before ``now_ms`` (-1: none yet)."""
        ready_s = (now_ms - grace_ms) // MS_PER_S  # whole seconds: ends are whole seconds
        if ready_s < self.genesis_s + self.length_s:
            return -1
        return (ready_s - self.genesis_s) // self.length_s - 1


def find_start_block(timestamp_of: Callable[[int], int], head: int, start_s: int) -> int | None:
    """The first block in ``[0, head]`` with timestamp >= ``start_s``; None if none yet.

    ``timestamp_of(n)`` is block ``n``'s timestamp; it is called O(log head) times.
    """
    if head < 0 or timestamp_of(head) < start_s:
        return None
    low, high = 0, head  # invariant: the answer is in [low, high]
    while low < high:
        middle = (low + high) // 2
        if timestamp_of(middle) >= start_s:
            high = middle
        else:
            low = middle + 1
    return low
