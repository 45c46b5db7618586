"""Provider reputation: the beta model with forgetting that Storj uses for audits
(docs/networks/storage.md, "Reputation").

Each event (one epoch of proofs, one retrieval audit) has an outcome ``v`` (+1 success,
-1 failure) and weight ``w``; with forgetting factor ``lambda``::

    alpha' = lambda * alpha + w * (1 + v) / 2
    beta'  = lambda * beta  + w * (1 - v) / 2
    score  = alpha / (alpha + beta)

A new provider starts at ``alpha = w / (1 - lambda), beta = 0``: the steady state of a
provider that never failed (Storj starts nodes at alpha = 1/(1 - 0.999) = 1000), so its
first failures move the score as much as anyone's. ``alpha`` and ``beta`` are fixed-point
integers (``SCALE`` units per event, products rounded down), ``lambda`` and thresholds
parts per million, and the score an exact :class:`fractions.Fraction` in [0, 1]: every
oracle gets the same bits.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

import msgspec

from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.parameters import PPM

SCALE: Final[int] = 10**9  # fixed-point units per event: alpha, beta <= 1000 * 1e9 * 1e6 < 2^63

GOOD: Final[str] = "good"  # proofs and audits pass often enough
SUSPENDED: Final[str] = "suspended"  # below suspension_ppm: earns nothing, may recover
DISQUALIFIED: Final[str] = "disqualified"  # below disqualification_ppm once: for good
STANDINGS: Final[tuple[str, ...]] = (GOOD, SUSPENDED, DISQUALIFIED)


class Reputation(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """Forgetting-weighted successes (``alpha``) and failures (``beta``), in SCALE units."""

    alpha: int
    beta: int

    def score(self) -> Fraction:
        """alpha / (alpha + beta); 1 for a provider with no history at all."""
        total = self.alpha + self.beta
        return Fraction(self.alpha, total) if total else Fraction(1)


def _check(lambda_ppm: int, weight: int) -> None:
    if not 0 <= lambda_ppm < PPM or weight < 1:
        raise NetworkError(f"need 0 <= lambda < 1e6 ppm and weight >= 1: {lambda_ppm}, {weight}")


def initial(lambda_ppm: int, weight: int) -> Reputation:
    """A new provider's reputation: the steady state of an unbroken success record."""
    _check(lambda_ppm, weight)
    return Reputation(alpha=weight * SCALE * PPM // (PPM - lambda_ppm), beta=0)


def update(rep: Reputation, success: bool, lambda_ppm: int, weight: int) -> Reputation:
    """The reputation after one event (see the module docstring)."""
    _check(lambda_ppm, weight)
    if rep.alpha < 0 or rep.beta < 0:
        raise NetworkError(f"reputation must be non-negative: {rep}")
    gain = weight * SCALE
    return Reputation(
        alpha=rep.alpha * lambda_ppm // PPM + (gain if success else 0),
        beta=rep.beta * lambda_ppm // PPM + (0 if success else gain),
    )


def below(rep: Reputation, threshold_ppm: int) -> bool:
    """score < threshold_ppm / 1e6, exactly."""
    return rep.alpha * PPM < threshold_ppm * (rep.alpha + rep.beta)


def standing(rep: Reputation, previous: str, suspend_ppm: int, disqualify_ppm: int) -> str:
    """GOOD, SUSPENDED or DISQUALIFIED; disqualification never ends."""
    if previous == DISQUALIFIED or below(rep, disqualify_ppm):
        return DISQUALIFIED
    if below(rep, suspend_ppm):
        return SUSPENDED
    return GOOD
