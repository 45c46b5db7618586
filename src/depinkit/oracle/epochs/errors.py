"""Errors of the epoch settlement pipeline (all under depinkit's one hierarchy)."""

from __future__ import annotations

from depinkit.oracle.errors import OracleError


class EpochError(OracleError):
    """An epoch cannot be settled (yet): missing start block, earlier epoch unscored."""


class EpochNotReady(EpochError):
    """The epoch has not ended plus its grace period, or an earlier step is missing."""


class SignatureRejected(EpochError):
    """A peer's RewardRoot signature is malformed, for another root, or not an oracle's."""


class PeerError(EpochError):
    """A peer oracle did not answer, or answered something that is not the API's."""


class PeerDown(PeerError):
    """A peer that failed recently and is not asked again until its back-off has passed."""
