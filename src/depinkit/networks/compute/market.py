"""The compute market: a reverse auction, leases, and the money of a lease (pure).

docs/networks/compute.md, "Market". As on Akash, the consumer states an order (a job's
fuel limit, a price ceiling per million fuel, the capabilities, tier and regions it
requires); every eligible provider bids a price at or under the ceiling; the consumer's
policy picks one (default: the cheapest, ties to the higher tier, then by a hash of job
and provider so equal bids share the work deterministically). The pick becomes a
:class:`Lease` whose whole possible cost is reserved from the consumer's credits:

    reserved = cost(price, fuel_limit)          cost(p, f) = ceil(p * f / 1e6)

As fuel is reported, the lease's cumulative payment rises to ``cost(price, fuel)``
(never above ``reserved``); the consumer signs a receipt for each new cumulative. When
the lease closes, ``refund = reserved - paid`` returns to the consumer. All amounts are
nanocredits; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final

import msgspec

from depinkit.core.keys import address_bytes, keccak256
from depinkit.networks.compute.schemas import HASH_BYTES, MAX_FUEL, MAX_PRICE
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import MAX_CUMULATIVE

MFUEL: Final[int] = 1_000_000  # fuel units per priced unit ("million fuel")
LEASE_TAG: Final[bytes] = b"depinkit/compute/lease/v1"  # domain separation of lease ids
TIE_TAG: Final[bytes] = b"depinkit/compute/tie/v1"  # domain separation of tie-breaking hashes


class MarketError(NetworkError):
    """An order, bid or lease operation that breaks the market's rules."""


class Order(msgspec.Struct, frozen=True):
    """What a consumer asks for one job."""

    job_id: bytes
    fuel_limit: int
    max_price_per_mfuel: int  # nanocredits: the ceiling
    min_tier: int = 0
    regions: tuple[str, ...] = ()  # empty: any region
    capabilities: tuple[str, ...] = ()  # every one required
    memory_mib: int = 0

    def __post_init__(self) -> None:
        if len(self.job_id) != HASH_BYTES:
            raise MarketError(f"job id must be {HASH_BYTES} bytes")
        if not 1 <= self.fuel_limit <= MAX_FUEL:
            raise MarketError(f"fuel limit must be in [1, 2**63-1], got {self.fuel_limit}")
        if not 0 <= self.max_price_per_mfuel <= MAX_PRICE:
            raise MarketError(f"price ceiling out of range: {self.max_price_per_mfuel}")


class Bid(msgspec.Struct, frozen=True):
    """A provider's answer to an order: its price and what it is (from its offer and tier)."""

    provider: str  # EIP-55 address
    price_per_mfuel: int  # nanocredits
    tier: int = 0
    region: str = ""
    capabilities: tuple[str, ...] = ()
    free_slots: int = 1
    memory_mib: int = 0
    url: str = ""  # where the provider's service listens (the client's business, not priced)


Policy = Callable[[Order, Sequence[Bid]], Bid | None]
"""A consumer policy: picks one of the eligible bids (already filtered), or none."""


def cost(price_per_mfuel: int, fuel: int) -> int:
    """Nanocredits for ``fuel`` units at ``price_per_mfuel``, rounded up (never free work)."""
    if price_per_mfuel < 0 or fuel < 0:
        raise MarketError("price and fuel must be non-negative")
    return -(-price_per_mfuel * fuel // MFUEL)


def eligible(
    order: Order, bids: Iterable[Bid], *, min_price: int, exclude: Iterable[str] = ()
) -> list[Bid]:
    """Bids that may win: in [min_price, ceiling], a free slot, the tier, region, capabilities
    and memory the order requires, and not from an excluded provider (one bid per provider:
    the cheapest, then the first by address)."""
    skip = set(exclude)
    best: dict[str, Bid] = {}
    for bid in bids:
        if (
            bid.provider in skip
            or not min_price <= bid.price_per_mfuel <= order.max_price_per_mfuel
            or bid.free_slots < 1
            or bid.tier < order.min_tier
            or (order.regions and bid.region not in order.regions)
            or not set(order.capabilities) <= set(bid.capabilities)
            or bid.memory_mib < order.memory_mib
        ):
            continue
        kept = best.get(bid.provider)
        if kept is None or _rank(order, bid) < _rank(order, kept):
            best[bid.provider] = bid
    return sorted(best.values(), key=lambda b: _rank(order, b))


def _rank(order: Order, bid: Bid) -> tuple[int, int, bytes, str]:
    tie = keccak256(TIE_TAG + order.job_id + address_bytes(bid.provider))
    return (bid.price_per_mfuel, -bid.tier, tie, bid.url)


def cheapest(order: Order, bids: Sequence[Bid]) -> Bid | None:
    """The default policy: the first eligible bid (cheapest, then higher tier, then hash)."""
    return bids[0] if bids else None


def best_tier(order: Order, bids: Sequence[Bid]) -> Bid | None:
    """A policy for consumers who pay for trust: the highest tier first, cheapest within it
    (Render dispatches by tier this way)."""
    if not bids:
        return None
    top = max(b.tier for b in bids)
    return next(b for b in bids if b.tier == top)


def pick(
    order: Order,
    bids: Iterable[Bid],
    *,
    min_price: int,
    exclude: Iterable[str] = (),
    policy: Policy = cheapest,
) -> Bid | None:
    """The winning bid of an auction, or None when no provider is eligible."""
    candidates = eligible(order, bids, min_price=min_price, exclude=exclude)
    chosen = policy(order, candidates)
    if chosen is not None and chosen not in candidates:
        raise MarketError("the policy picked a bid that is not eligible")
    return chosen


def lease_id(
    job_id: bytes, consumer: str, provider: str, attempt: int, nonce: bytes = b""
) -> bytes:
    """The lease's 32-byte id, also the receipt channel: one per job, provider, attempt and
    consumer nonce (the nonce keeps a job run again later off the old lease's channel, whose
    receipts the oracles remember)."""
    return keccak256(
        LEASE_TAG
        + job_id
        + address_bytes(consumer)
        + address_bytes(provider)
        + attempt.to_bytes(4, "big")
        + nonce
    )


class CreditAccount:
    """A consumer's credits as its client sees them: available, reserved by leases, spent."""

    def __init__(self, balance: int) -> None:
        if type(balance) is not int or balance < 0:
            raise MarketError(f"balance must be a non-negative integer, got {balance!r}")
        self.available = balance
        self.reserved = 0
        self.spent = 0

    def reserve(self, amount: int) -> None:
        if amount < 0 or amount > self.available:
            raise MarketError(f"cannot reserve {amount} nanocredits with {self.available} free")
        self.available -= amount
        self.reserved += amount

    def release(self, reserved: int, paid: int) -> None:
        """A lease closed: ``paid`` of its ``reserved`` is spent, the rest is free again."""
        if not 0 <= paid <= reserved <= self.reserved:
            raise MarketError(f"cannot release {reserved} (paid {paid}) of {self.reserved}")
        self.reserved -= reserved
        self.spent += paid
        self.available += reserved - paid

    @property
    def total(self) -> int:
        return self.available + self.reserved + self.spent


class Lease:
    """One job on one provider at one price, and what has been paid on it so far.

    ``paid`` only rises, never above ``reserved``; a closed lease takes no more charges.
    """

    def __init__(
        self,
        *,
        order: Order,
        bid: Bid,
        consumer: str,
        attempt: int,
        account: CreditAccount,
        nonce: bytes = b"",
    ) -> None:
        if bid.price_per_mfuel > order.max_price_per_mfuel:
            raise MarketError("a lease cannot be priced above the order's ceiling")
        self.id = lease_id(order.job_id, consumer, bid.provider, attempt, nonce)
        self.job_id = order.job_id
        self.consumer = consumer
        self.provider = bid.provider
        self.price_per_mfuel = bid.price_per_mfuel
        self.fuel_limit = order.fuel_limit
        self.reserved = cost(bid.price_per_mfuel, order.fuel_limit)
        if self.reserved > MAX_CUMULATIVE:
            raise MarketError(f"lease would reserve {self.reserved} > 2**63-1 nanocredits")
        self.paid = 0
        self.refund = 0
        self.closed = False
        self._account = account
        account.reserve(self.reserved)

    def charge(self, fuel_used: int) -> int:
        """Raise the cumulative payment to the cost of ``fuel_used`` (cumulative fuel of the
        job); returns the new cumulative. Fuel beyond the limit is never paid for."""
        if self.closed:
            raise MarketError("the lease is closed")
        if fuel_used < 0:
            raise MarketError("fuel used cannot be negative")
        owed = min(cost(self.price_per_mfuel, min(fuel_used, self.fuel_limit)), self.reserved)
        if owed < self.paid:
            raise MarketError(f"cumulative fuel went down: owed {owed} < paid {self.paid}")
        self.paid = owed
        return self.paid

    def close(self, *, forfeit: bool = False) -> int:
        """End the lease; with ``forfeit`` (the provider was proven wrong, or never delivered)
        nothing is paid. Returns the refund."""
        if self.closed:
            raise MarketError("the lease is already closed")
        if forfeit:
            self.paid = 0
        self.closed = True
        self.refund = self.reserved - self.paid
        self._account.release(self.reserved, self.paid)
        return self.refund
