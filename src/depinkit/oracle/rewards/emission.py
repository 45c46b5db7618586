"""The emission schedule, computed exactly as contracts/Emission.sol computes it.

Epoch ``i`` emits ``initial >> (i // halving_epochs)`` token base units (``halving_epochs == 0``
means no halving), and the running total is capped at the distributor's emission cap. The
RewardsDistributor refuses a root whose total exceeds ``emittedThrough(epoch)``, so the
oracles must use the very same numbers: the budget of an epoch here is the capped difference
of running totals, which makes ``Σ budget(0..e) == emitted_through(e)`` hold exactly.

The contract sums in uint256 with saturating arithmetic and then takes ``min(sum, cap)``;
with every input a uint256 a saturated sum is above any cap, so the exact Python sum capped
the same way gives identical results (tests/oracle/rewards/test_emission.py checks this
against the deployed contract).
"""

from __future__ import annotations

from typing import Final

import msgspec

from depinkit.oracle.rewards.errors import RewardsError

UINT256_MAX: Final[int] = 2**256 - 1  # Solidity's uint256: the contract's argument type
UINT64_MAX: Final[int] = 2**64 - 1  # Solidity's uint64: the contract's epoch type
SHIFT_LIMIT: Final[int] = 256  # a uint256 shifted right this many bits is zero


def _check_uint(name: str, value: int, limit: int = UINT256_MAX) -> None:
    if type(value) is not int or not 0 <= value <= limit:
        raise RewardsError(f"{name} must be an int in [0, {limit}], got {value!r}")


def epoch_emission(epoch: int, initial: int, halving_epochs: int) -> int:
    """Base units epoch ``epoch`` emits before the cap: ``initial >> (epoch // H)``."""
    _check_uint("epoch", epoch, UINT64_MAX)
    _check_uint("initial", initial)
    _check_uint("halving_epochs", halving_epochs)
    if halving_epochs == 0:
        return initial
    shift = epoch // halving_epochs
    return initial >> shift if shift < SHIFT_LIMIT else 0


def emitted_through(epoch: int, initial: int, halving_epochs: int, cap: int) -> int:
    """Total emission of epochs ``0..epoch`` inclusive, capped at ``cap`` (Emission.sol).

    Closed form per halving period, like the contract: at most 256 terms whatever the epoch.
    """
    _check_uint("epoch", epoch, UINT64_MAX)
    _check_uint("initial", initial)
    _check_uint("halving_epochs", halving_epochs)
    _check_uint("cap", cap)
    epochs = epoch + 1
    if halving_epochs == 0:
        return min(initial * epochs, cap)
    periods, rest = divmod(epochs, halving_epochs)
    total = 0
    for k in range(min(periods, SHIFT_LIMIT)):
        per_epoch = initial >> k
        if per_epoch == 0:
            break
        total += per_epoch * halving_epochs
        if total >= cap:
            return cap
    if periods < SHIFT_LIMIT:
        total += (initial >> periods) * rest
    return min(total, cap)


def epoch_budget(epoch: int, initial: int, halving_epochs: int, cap: int) -> int:
    """What epoch ``epoch`` may newly pay out: its emission after the cap has had its say.

    ``emitted_through(epoch) - emitted_through(epoch - 1)``; equal to :func:`epoch_emission`
    until the cap binds, then less, then zero.
    """
    before = emitted_through(epoch - 1, initial, halving_epochs, cap) if epoch > 0 else 0
    return emitted_through(epoch, initial, halving_epochs, cap) - before


class EmissionSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """The governed schedule of a deployment, as read at an epoch's start block.

    ``initial`` is ``emission.initial`` (base units per epoch), ``halving_epochs`` is
    ``emission.halvingEpochs`` (0: never) and ``cap`` the distributor's ``emissionCap()``.
    """

    initial: int
    halving_epochs: int
    cap: int

    def __post_init__(self) -> None:
        _check_uint("initial", self.initial)
        _check_uint("halving_epochs", self.halving_epochs)
        _check_uint("cap", self.cap)

    def epoch_emission(self, epoch: int) -> int:
        return epoch_emission(epoch, self.initial, self.halving_epochs)

    def emitted_through(self, epoch: int) -> int:
        return emitted_through(epoch, self.initial, self.halving_epochs, self.cap)

    def budget(self, epoch: int) -> int:
        return epoch_budget(epoch, self.initial, self.halving_epochs, self.cap)
