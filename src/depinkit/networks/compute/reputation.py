"""Provider reputation: integer points, tiers, and how one epoch's verdicts move them.

docs/networks/compute.md, "Reputation". Reputation is carried across epochs in the
module's prior (``{"reputation": {address: points}}``); it decides a provider's tier, the
tier decides how often its jobs are re-run and where the market ranks its bids.

    tier(r)  = 2 if r >= tier2_reputation, 1 if r >= tier1_reputation, else 0
    r'       = min(cap, r + per_job * paid + per_verified_job * confirmed)     (no fault)
    r'       = r - r * loss_ppm // 1e6                                         (any fault)

A provider proven wrong in an epoch gains nothing in it, whatever else it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from depinkit.core.keys import is_checksummed
from depinkit.networks.compute.parameters import (
    PPM,
    REPUTATION_LOSS_PPM,
    REPUTATION_MAX,
    REPUTATION_PER_JOB,
    REPUTATION_PER_VERIFIED_JOB,
    TIER1_REPUTATION,
    TIER2_REPUTATION,
)

TIER_NEW: Final[int] = 0  # no history: every job re-run (by default)
TIER_TRUSTED: Final[int] = 1  # re-run with the governed probability
TIER_PREMIUM: Final[int] = 2  # as trusted, and ranked first among equal bids
TIER_NAMES: Final[tuple[str, ...]] = ("new", "trusted", "premium")


def tier(parameters: Mapping[str, int], reputation: int) -> int:
    """The tier of a provider with ``reputation`` points (tier 2 needs at least tier 1's bar)."""
    tier1 = parameters[TIER1_REPUTATION]
    tier2 = max(parameters[TIER2_REPUTATION], tier1)
    if reputation >= tier2:
        return TIER_PREMIUM
    if reputation >= tier1:
        return TIER_TRUSTED
    return TIER_NEW


def updated(
    parameters: Mapping[str, int], reputation: int, *, paid: int, confirmed: int, faults: int
) -> int:
    """Reputation after one epoch with ``paid`` jobs, ``confirmed`` re-run-confirmed ones and
    ``faults`` results proven wrong."""
    if faults > 0:
        return reputation - reputation * parameters[REPUTATION_LOSS_PPM] // PPM
    gain = (
        parameters[REPUTATION_PER_JOB] * paid + parameters[REPUTATION_PER_VERIFIED_JOB] * confirmed
    )
    return min(parameters[REPUTATION_MAX], reputation + gain)


def reputations(prior: Mapping[str, Any]) -> dict[str, int]:
    """The reputation table carried in ``prior`` (malformed entries are dropped, not trusted)."""
    table = prior.get("reputation", {})
    if not isinstance(table, Mapping):
        return {}
    return {
        address: points
        for address, points in sorted(table.items())
        if isinstance(address, str)
        and is_checksummed(address)
        and type(points) is int
        and points >= 0
    }


def next_reputations(
    parameters: Mapping[str, int],
    current: Mapping[str, int],
    paid: Mapping[str, int],
    confirmed: Mapping[str, int],
    faults: Mapping[str, int],
) -> dict[str, int]:
    """Every provider's reputation after an epoch; zero entries are left out (they are implied)."""
    out: dict[str, int] = {}
    for address in sorted(set(current) | set(paid) | set(confirmed) | set(faults)):
        value = updated(
            parameters,
            current.get(address, 0),
            paid=paid.get(address, 0),
            confirmed=confirmed.get(address, 0),
            faults=faults.get(address, 0),
        )
        if value > 0:
            out[address] = value
    return out
