"""Cumulative reward totals per owner account, and their Merkle tree.

The RewardsDistributor keeps one root of ``(account, cumulative amount)`` leaves and pays a
claim as ``cumulative - already claimed``; so the oracles carry, per owner, the total of
everything ever earned. An epoch credits each device's reward to the owner that the
registry view passed in names for that device, and the new total is the old one plus the
credit: totals never go down.

Accounts with a total of zero get no leaf: they have nothing to claim. With no account at
all the root is 32 zero bytes (the contract accepts it; nobody can prove against it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, Future
from types import MappingProxyType
from typing import Final

import msgspec

from depinkit.core import merkle
from depinkit.oracle.rewards.accounts import (
    canonical_address,
    canonical_addresses,
    canonical_owners,
    sorted_by_key,
)
from depinkit.oracle.rewards.allocate import Allocation
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
    """account -> amount with lowercase accounts; LedgerError on a bad amount or a twin."""
    amounts = list(totals.values())
    if not all(type(v) is int for v in amounts) or (
        amounts and not 0 <= min(amounts) <= max(amounts) <= UINT256_MAX
    ):
        raise LedgerError("amounts must be ints in [0, 2**256 - 1]")
    out = dict(zip(canonical_addresses(list(totals), LedgerError), amounts, strict=True))
    if len(out) != len(amounts):
        raise LedgerError("an account is listed twice (address case)")
    return out


def _raw_accounts(totals: dict[str, int]) -> list[bytes]:
    """The 20-byte accounts of ``totals`` (lowercase 0x hex keys), in order.

    core.merkle parses a hex account with a Python call each; one fromhex of the whole
    column and a slice per account is several times cheaper at a million owners.
    """
    raw = bytes.fromhex("".join(totals).replace("0x", ""))  # "x" is not hex: only prefixes
    width = merkle.ADDRESS_BYTES
    return [raw[i : i + width] for i in range(0, len(raw), width)]


def _tree(totals: dict[str, int]) -> merkle.MerkleTree:
    """The tree of ``totals`` (lowercase accounts)."""
    return merkle.build(zip(_raw_accounts(totals), totals.values(), strict=True))


PARALLEL_ROOT_LEAVES: Final[int] = (
    200_000  # below this a worker's start-up costs more than it saves
)


class Ledger:
    """Cumulative totals after one epoch, their tree, and claims against it. Immutable.

    ``totals`` and ``credited`` are copies; ``owners`` (the registry view, possibly every
    device) a read-only view.

    Built by :func:`credit_epoch`, which validates; the constructor trusts its arguments.
    """

    __slots__ = (
        "_credited",
        "_owners",
        "_previous_total",
        "_root",
        "_root_future",
        "_total",
        "_totals",
        "_tree",
    )

    def __init__(
        self,
        totals: dict[str, int],
        credited: dict[str, int],
        previous_total: int,
        owners: dict[str, str] | None = None,
    ) -> None:
        self._owners = owners if owners is not None else {}
        self._totals = totals
        self._total = sum(totals.values())
        self._credited = credited
        self._previous_total = previous_total
        self._tree: merkle.MerkleTree | None = None  # built on first use (proofs, root)
        self._root: bytes | None = None if totals else EMPTY_ROOT
        self._root_future: Future[bytes] | None = None

    def compute_root_in(self, executor: Executor) -> None:
        """Start hashing the root in ``executor`` (another process) while the caller works.

        The root of a million leaves is three million keccak calls, and the manifest of the
        same epoch is as much work again in this process: with two cores they overlap. The
        worker gets the leaves' ABI encodings as one bytes object and returns 32 bytes; the
        result is the root :func:`merkle.build` gives (tested), so every oracle signs the same.
        """
        if self._root is not None or self._root_future is not None:
            return
        packed = merkle.pack_leaves(_raw_accounts(self._totals), list(self._totals.values()))
        self._root_future = executor.submit(merkle.root_of_packed, packed)

    def __len__(self) -> int:
        """Accounts with a non-zero total: the tree's leaves."""
        return len(self._totals)

    @property
    def totals(self) -> dict[str, int]:
        """Every account with a non-zero cumulative total, lowercase, in address order."""
        return dict(self._totals)

    def iter_totals(self) -> Iterator[tuple[str, int]]:
        """``(account, cumulative)`` in address order, without copying the totals."""
        return iter(self._totals.items())

    @property
    def credited(self) -> dict[str, int]:
        """What this epoch added per owner (owners of rewarded devices only)."""
        return dict(self._credited)

    def owner_of(self, device: str) -> str | None:
        """The owner the epoch credited ``device``'s rewards to (None: not in the view)."""
        return self._owners.get(canonical_address(device, LedgerError))

    @property
    def owners(self) -> Mapping[str, str]:
        """The registry view used, device -> owner, both lowercase."""
        return MappingProxyType(self._owners)

    @property
    def previous_total(self) -> int:
        return self._previous_total

    @property
    def total(self) -> int:
        """Σ cumulative: the ``totalCumulative`` the root is submitted with."""
        return self._total

    @property
    def root(self) -> bytes:
        if self._root is None:
            if self._root_future is not None:
                self._root = self._root_future.result()
                self._root_future = None
            else:
                tree = self.tree
                assert tree is not None  # totals are non-empty here
                self._root = tree.root
        return self._root

    @property
    def tree(self) -> merkle.MerkleTree | None:
        if self._tree is None and self._totals:
            self._tree = _tree(self._totals)
        return self._tree

    def cumulative(self, account: str) -> int:
        """An account's total (0 when it never earned); any spelling of the address."""
        return self._totals.get(canonical_address(account, LedgerError), 0)

    def proof(self, account: str) -> list[bytes]:
        """The Merkle proof of ``(account, cumulative(account))``; LedgerError without a leaf."""
        key = canonical_address(account, LedgerError)
        tree = self.tree
        if tree is None or key not in self._totals:
            raise LedgerError(f"no cumulative total for {key}")
        return tree.proof(key)

    def claim(self, account: str) -> Claim:
        key = canonical_address(account, LedgerError)
        return Claim(
            account=key,
            cumulative=str(self.cumulative(key)),
            proof=["0x" + p.hex() for p in self.proof(key)],
            root="0x" + self.root.hex(),
        )


def credit_epoch(
    previous: Mapping[str, int],
    rewards: Mapping[str, int] | Allocation,
    owners: Mapping[str, str],
) -> Ledger:
    """New cumulative totals: ``previous`` plus each device's reward, credited to its owner.

    ``previous``: owner -> cumulative total before this epoch. ``rewards``: device -> base
    units this epoch, or the epoch's :class:`Allocation` (whose rewards are validated
    already, which saves a pass over every device). ``owners``: device -> owner account at
    the epoch (the registry view). A device with a non-zero reward and no owner is refused
    with LedgerError: its reward would otherwise vanish, or be minted to nobody.
    """
    totals = _normalized_amounts(previous)
    previous_total = sum(totals.values())
    owner_of = canonical_owners(owners, LedgerError)
    if isinstance(rewards, Allocation):
        per_device = rewards.rewards
    else:
        per_device = _normalized_amounts(rewards)
    credited: dict[str, int] = {}
    credited_get = credited.get
    for device, owner, reward in zip(
        per_device, map(owner_of.get, per_device), per_device.values(), strict=True
    ):
        if reward == 0:
            continue
        if owner is None:
            raise LedgerError(f"device {device} earned {reward} but has no owner")
        credited[owner] = credited_get(owner, 0) + reward
    for owner, amount in credited.items():
        totals[owner] = totals.get(owner, 0) + amount
        if totals[owner] > UINT256_MAX:
            raise LedgerError(f"{owner}: cumulative total overflows uint256")
    nonzero = sorted_by_key({a: v for a, v in totals.items() if v > 0})
    # every credited owner has a non-zero total: take their order from it, not a second sort
    in_order = dict.fromkeys(filter(credited.__contains__, nonzero), 0)
    in_order.update(credited)
    return Ledger(nonzero, in_order, previous_total, owner_of)
