"""The reverse auction and the money of leases; hypothesis properties for every invariant."""

from __future__ import annotations

import contextlib

import pytest
from compute_module_kit import CONSUMER, DOMAIN
from hypothesis import given
from hypothesis import strategies as st

from depinkit.core.keys import Account, keccak256
from depinkit.networks.compute.market import (
    Bid,
    CreditAccount,
    Lease,
    MarketError,
    Order,
    best_tier,
    cost,
    eligible,
    lease_id,
    pick,
)
from depinkit.networks.receipts import ReceiptBook, ReplayedReceipt, sign_receipt

P = [Account.from_key(bytes([i + 1]) * 32).address for i in range(6)]
JOB = keccak256(b"job")


def order(**kw: object) -> Order:
    values: dict[str, object] = {"job_id": JOB, "fuel_limit": 10**7, "max_price_per_mfuel": 100}
    values.update(kw)
    return Order(**values)  # type: ignore[arg-type]


def test_cheapest_eligible_bid_wins() -> None:
    bids = [
        Bid(P[0], 90, tier=2, region="eu", capabilities=("wasi-p1",)),
        Bid(P[1], 50, tier=0, region="eu", capabilities=("wasi-p1",)),
        Bid(P[2], 40, tier=1, region="us", capabilities=("wasi-p1",)),
        Bid(P[3], 30, tier=1, region="eu", capabilities=()),
        Bid(P[4], 120, tier=2, region="eu", capabilities=("wasi-p1",)),  # over the ceiling
        Bid(P[5], 5, tier=2, region="eu", capabilities=("wasi-p1",)),  # under the floor
    ]
    o = order(min_tier=1, regions=("eu",), capabilities=("wasi-p1",))
    assert pick(o, bids, min_price=10) == bids[0]
    assert pick(order(), bids, min_price=10) == bids[3]
    assert pick(order(), bids, min_price=10, exclude=[P[3], P[2]]) == bids[1]
    assert pick(order(max_price_per_mfuel=10), bids, min_price=10) is None


def test_ties_go_to_higher_tier_then_spread_by_job() -> None:
    bids = [Bid(p, 50, tier=1) for p in P[:4]] + [Bid(P[4], 50, tier=2)]
    assert pick(order(), bids, min_price=0) == bids[4]
    winners = {
        pick(order(job_id=keccak256(bytes([i]))), bids[:4], min_price=0).provider  # type: ignore[union-attr]
        for i in range(40)
    }
    assert len(winners) > 1  # equal bids share the work
    assert eligible(order(), list(reversed(bids)), min_price=0) == eligible(
        order(), bids, min_price=0
    )


def test_best_tier_policy_prefers_trust_over_price() -> None:
    bids = [Bid(P[0], 10, tier=0), Bid(P[1], 90, tier=2), Bid(P[2], 50, tier=2)]
    assert pick(order(), bids, min_price=0, policy=best_tier) == bids[2]
    assert pick(order(), [], min_price=0, policy=best_tier) is None


def test_no_free_slot_or_memory_is_ineligible() -> None:
    bids = [
        Bid(P[0], 10, free_slots=0),
        Bid(P[1], 20, memory_mib=64),
        Bid(P[2], 30, memory_mib=512),
    ]
    assert pick(order(memory_mib=256), bids, min_price=0) == bids[2]


def test_policy_must_pick_an_eligible_bid() -> None:
    with pytest.raises(MarketError):
        pick(order(), [Bid(P[0], 10)], min_price=0, policy=lambda o, b: Bid(P[1], 1))


def test_cost_rounds_up() -> None:
    assert cost(1, 1) == 1
    assert cost(100, 1_000_000) == 100
    assert cost(100, 1_500_001) == 151
    assert cost(0, 10**9) == 0


def test_lease_ids_differ_by_attempt_and_provider() -> None:
    ids = {lease_id(JOB, CONSUMER.address, p, a) for p in P for a in range(3)}
    assert len(ids) == len(P) * 3


def test_fuel_exhaustion_pays_the_limit_and_no_more() -> None:
    account = CreditAccount(10**9)
    lease = Lease(
        order=order(), bid=Bid(P[0], 100), consumer=CONSUMER.address, attempt=0, account=account
    )
    assert lease.reserved == 1_000
    assert lease.charge(10**12) == 1_000  # fuel beyond the limit is never paid for
    assert lease.close() == 0
    assert account.spent == 1_000 and account.available == 10**9 - 1_000


def test_reserve_beyond_balance_fails() -> None:
    with pytest.raises(MarketError):
        Lease(
            order=order(),
            bid=Bid(P[0], 100),
            consumer=CONSUMER.address,
            attempt=0,
            account=CreditAccount(999),
        )


@given(
    balance=st.integers(0, 10**12),
    leases=st.lists(
        st.tuples(
            st.integers(0, 1_000),  # price
            st.integers(1, 10**9),  # fuel limit
            st.lists(st.integers(0, 2 * 10**9), max_size=5),  # reported cumulative fuels
            st.booleans(),  # forfeit
        ),
        max_size=6,
    ),
)
def test_money_is_conserved(balance: int, leases: list[tuple[int, int, list[int], bool]]) -> None:
    """Receipts never exceed the reservation, payments + refunds == reserved, and the
    consumer's credits are neither created nor destroyed."""
    account = CreditAccount(balance)
    for attempt, (price, limit, fuels, forfeit) in enumerate(leases):
        o = order(fuel_limit=limit, max_price_per_mfuel=1_000)
        try:
            lease = Lease(
                order=o,
                bid=Bid(P[0], price),
                consumer=CONSUMER.address,
                attempt=attempt,
                account=account,
            )
        except MarketError:
            assert cost(price, limit) > account.available
            continue
        last = 0
        for fuel in sorted(fuels):
            paid = lease.charge(fuel)
            assert last <= paid <= lease.reserved
            last = paid
        refund = lease.close(forfeit=forfeit)
        assert lease.paid + refund == lease.reserved
        assert lease.paid == (0 if forfeit else last)
        assert account.total == balance
        assert account.reserved == 0 or attempt < len(leases)
    assert account.reserved == 0
    assert account.available + account.spent == balance


@given(cumulatives=st.lists(st.integers(1, 10**6), min_size=1, max_size=12))
def test_nothing_is_paid_twice(cumulatives: list[int]) -> None:
    """However receipts of one lease are replayed or reordered, the book pays their maximum."""
    book = ReceiptBook({CONSUMER.address: 10**7})
    channel = lease_id(JOB, CONSUMER.address, P[0], 0)
    total = 0
    for c in cumulatives:
        receipt = sign_receipt(
            CONSUMER, DOMAIN, network="compute", payee=P[0], channel=channel, cumulative=c
        )
        with contextlib.suppress(ReplayedReceipt):
            total += book.apply(receipt)
    assert total == max(cumulatives)
    assert book.balance(CONSUMER.address) == 10**7 - max(cumulatives)


def test_closed_lease_takes_no_charge_and_closes_once() -> None:
    account = CreditAccount(10**6)
    lease = Lease(
        order=order(), bid=Bid(P[0], 1), consumer=CONSUMER.address, attempt=0, account=account
    )
    assert lease.charge(5) == 1  # a few fuel units still cost one nanocredit (rounded up)
    lease2 = Lease(
        order=order(), bid=Bid(P[1], 1), consumer=CONSUMER.address, attempt=1, account=account
    )
    lease2.charge(3_000_000)
    with pytest.raises(MarketError):
        lease2.charge(1_000_000)  # cumulative fuel cannot go down
    lease2.close()
    with pytest.raises(MarketError):
        lease2.close()
    with pytest.raises(MarketError):
        lease2.charge(3_000_000)
