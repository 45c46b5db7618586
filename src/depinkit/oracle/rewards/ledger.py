"""Cumulative reward totals per owner account, and their Merkle tree.

The RewardsDistributor keeps one root of ``(account, cumulative amount)`` leaves and pays a
claim as ``cumulative - already claimed``; so the oracles carry, per owner, the total of
everything ever earned. An epoch credits each device's reward to the owner the registry
names for that device at the epoch (a device sold mid-stream earns for its new owner from
the next epoch on), and the new total is the old one plus the credit: totals never go down.

Accounts with a total of zero get no leaf: they have nothing to claim. With no account at
all the root is 32 zero bytes (the contract accepts it; nobody can prove against it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec

from depinkit.core import merkle
from depinkit.oracle.rewards.accounts import canonical_address
from depinkit.oracle.rewards.emission import UINT256_MAX
from depinkit.oracle.rewards.errors import LedgerError

EMPTY_ROOT: Final[bytes] = bytes(32)  # root of a ledger in which no account holds anything


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """What ``RewardsDistributor.claim`` needs for one account (hex, for JSON and HTTP)."""

    account: str
    cumulative: str  # decimal string: uint256 amounts overflow JSON numbers in many readers
    proof: list[str]
    root: str


def _normalized_amounts(totals: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for account, amount in totals.items():
        key = canonical_address(account, LedgerError)
        if type(amount) is not int or not 0 <= amount <= UINT256_MAX:
            raise LedgerError(f"{account}: cumulative must be an int in [0, 2**256 - 1]")
        if key in out:
            raise LedgerError(f"account listed twice (address case): {key}")
        out[key] = amount
    return out


def _normalized_owners(owners: Mapping[str, str]) -> dict[str, str]:
    """Device -> owner, both lowercase; one device spelled twice with two owners is refused."""
    out: dict[str, str] = {}
    for device, owner in owners.items():
        key = canonical_address(device, LedgerError)
        value = canonical_address(owner, LedgerError)
        if out.setdefault(key, value) != value:
            raise LedgerError(f"device {key} listed twice with different owners")
    return out


class Ledger:
    """Cumulative totals after one epoch, their tree, and claims against it. Immutable.

    Built by :func:`credit_epoch`, which validates; the constructor trusts its arguments.
    """

    __slots__ = ("_credited", "_previous_total", "_totals", "_tree")

    def __init__(
        self, totals: dict[str, int], credited: dict[str, int], previous_total: int
    ) -> None:
        self._totals = totals
        self._credited = credited
        self._previous_total = previous_total
        leaves = [(account, amount) for account, amount in totals.items() if amount > 0]
        self._tree = merkle.build(leaves) if leaves else None

    @property
    def totals(self) -> dict[str, int]:
        """Every account with a non-zero cumulative total, lowercase, in address order."""
        return dict(self._totals)

    @property
    def credited(self) -> dict[str, int]:
        """What this epoch added per owner (owners of rewarded devices only)."""
        return dict(self._credited)

    @property
    def previous_total(self) -> int:
        return self._previous_total

    @property
    def total(self) -> int:
        """Σ cumulative: the ``totalCumulative`` the root is submitted with."""
        return self._previous_total + sum(self._credited.values())

    @property
    def root(self) -> bytes:
        return self._tree.root if self._tree is not None else EMPTY_ROOT

    @property
    def tree(self) -> merkle.MerkleTree | None:
        return self._tree

    def cumulative(self, account: str) -> int:
        """An account's total (0 when it never earned); any spelling of the address."""
        return self._totals.get(canonical_address(account, LedgerError), 0)

    def proof(self, account: str) -> list[bytes]:
        """The Merkle proof of ``(account, cumulative(account))``; LedgerError without a leaf."""
        key = canonical_address(account, LedgerError)
        if self._tree is None or key not in self._totals:
            raise LedgerError(f"no cumulative total for {key}")
        return self._tree.proof(key)

    def claim(self, account: str) -> Claim:
        key = canonical_address(account, LedgerError)
        return Claim(
            account=key,
            cumulative=str(self.cumulative(key)),
            proof=["0x" + p.hex() for p in self.proof(key)],
            root="0x" + self.root.hex(),
        )


def credit_epoch(
    previous: Mapping[str, int], rewards: Mapping[str, int], owners: Mapping[str, str]
) -> Ledger:
    """New cumulative totals: ``previous`` plus each device's reward, credited to its owner.

    ``previous``: owner -> cumulative total before this epoch. ``rewards``: device -> base
    units this epoch (an :attr:`Allocation.rewards`). ``owners``: device -> owner account at
    the epoch (the registry view). A device with a non-zero reward and no owner is refused
    with LedgerError: its reward would otherwise vanish, or be minted to nobody.
    """
    totals = _normalized_amounts(previous)
    previous_total = sum(totals.values())
    owner_of = _normalized_owners(owners)
    credited: dict[str, int] = {}
    for device, reward in _normalized_amounts(rewards).items():
        if reward == 0:
            continue
        owner = owner_of.get(device)
        if owner is None:
            raise LedgerError(f"device {device} earned {reward} but has no owner")
        credited[owner] = credited.get(owner, 0) + reward
    for owner, amount in credited.items():
        totals[owner] = totals.get(owner, 0) + amount
        if totals[owner] > UINT256_MAX:
            raise LedgerError(f"{owner}: cumulative total overflows uint256")
    nonzero = {a: v for a, v in sorted(totals.items()) if v > 0}
    return Ledger(nonzero, dict(sorted(credited.items())), previous_total)
