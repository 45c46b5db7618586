"""Errors of the reward computation.

Every one is a refusal of bad input (a weight above 10,000 basis points, negative points,
a rewarded device without an owner, a manifest that does not decode): the computation is
pure, so nothing else can go wrong on purpose. Raised before any result is built, so a
refused call returns nothing half-done.
"""

from __future__ import annotations

from depinkit.oracle.errors import OracleError


class RewardsError(OracleError, ValueError):
    """Base of the reward errors: the inputs of an epoch's rewards are invalid."""


class AllocationError(RewardsError):
    """Emission, carry, weights, splits or points break the allocation's input rules."""


class LedgerError(RewardsError):
    """Cumulative totals cannot be credited (unknown owner, malformed account or amount)."""


class RewardManifestError(RewardsError):
    """A reward manifest cannot be built, encoded or decoded."""
