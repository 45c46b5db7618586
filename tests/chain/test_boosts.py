"""HexBoosts: boosts bought by burning DPK or granted by governance, and the denylist.

Runs on both backends (py-evm in process and anvil). The money property: a purchase burns
exactly price x multiplier x epochs x res-11 cells from the buyer, and no other balance moves.
"""

from __future__ import annotations

from typing import Final

import h3.api.basic_int as h3
import pytest
from chainenv import BOOST_PRICE, MAX_BOOST, Env
from eth_account import Account as EthAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from depinkit.chain import (
    ProposalState,
    boost_cost,
    deny_action,
    grant_boost_action,
    network_id,
    undeny_action,
)
from depinkit.chain.boosts import MAX_BOOST_RES
from depinkit.chain.errors import (
    BoostPriceUnset,
    ERC20InsufficientAllowance,
    ERC20InsufficientBalance,
    InvalidHexCell,
    MultiplierAboveMax,
    MultiplierTooLow,
    OwnableUnauthorizedAccount,
    ZeroAddress,
    ZeroEpochs,
)

NET: Final[str] = "sensing"  # the suite's network with a boost price (uptime has none)
PARIS: Final[tuple[float, float]] = (48.8566, 2.3522)
FUND_GAS_LIMIT: Final[int] = 200_000  # a burn from a delegated holder is ~102k of it


def cell(res: int, lat: float = PARIS[0], lng: float = PARIS[1]) -> int:
    return int(h3.latlng_to_cell(lat, lng, res))


def voters(env: Env) -> list:
    return [env.deployer, *env.users]


def test_deployed_and_owned_by_the_timelock(env: Env) -> None:
    boosts = env.depin.boosts
    assert boosts.owner() == env.depin.deployment.timelock
    assert env.chain.call(boosts.fns.token()) == env.depin.token.address
    assert env.chain.call(boosts.fns.parameters()) == env.depin.params.address
    assert boosts.current_epoch() == env.epoch_now()
    assert boosts.boosts(NET) == [] and boosts.denylist(NET) == []


def _candidate(base: int, res: int, digits: list[int]) -> int:
    """An H3-shaped index: cell mode, ``res``, ``base``, digits then 7s (maybe invalid)."""
    value = (1 << 59) | (res << 52) | (base << 45)
    for r in range(1, 16):
        digit = digits[r - 1] if r <= res else 7
        value |= digit << ((15 - r) * 3)
    return value


@st.composite
def h3_like(draw: st.DrawFn) -> int:
    kind = draw(st.sampled_from(["random", "shaped", "flipped"]))
    if kind == "random":
        return draw(st.integers(0, 2**64 - 1))
    base = draw(st.integers(0, 127))
    res = draw(st.integers(0, 15))
    digits = draw(st.lists(st.integers(0, 7), min_size=15, max_size=15))
    value = _candidate(base, res, digits)
    if kind == "flipped":
        value ^= 1 << draw(st.integers(0, 63))
    return value


@given(st.lists(h3_like(), min_size=10, max_size=10))
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_cell_check_agrees_with_h3(env: Env, candidates: list[int]) -> None:
    for value in candidates:
        expected = bool(h3.is_valid_cell(value)) and h3.get_resolution(value) <= MAX_BOOST_RES
        assert env.depin.boosts.is_boostable_cell(value) == expected, hex(value)


def test_cell_check_on_every_pentagon_and_resolution(env: Env) -> None:
    boosts = env.depin.boosts
    for pentagon in h3.get_pentagons(11)[:3]:
        assert boosts.is_boostable_cell(pentagon)
        base = h3.get_base_cell_number(pentagon)
        deleted = _candidate(base, 2, [0, 1] + [0] * 13)  # the pentagon's missing K axis
        assert not h3.is_valid_cell(deleted) and not boosts.is_boostable_cell(deleted)
    for res in range(16):
        assert boosts.is_boostable_cell(cell(res)) == (res <= MAX_BOOST_RES)


def test_a_purchase_burns_the_quote_and_starts_next_epoch(env: Env) -> None:
    depin, buyer = env.depin, env.users[0]
    hexagon = cell(8)
    cost = boost_cost(BOOST_PRICE, 8, 3, 5)
    assert cost == BOOST_PRICE * 3 * 5 * 7**3
    assert depin.boosts.quote(NET, hexagon, 3, 5) == cost
    before, supply = depin.token.balance_of(buyer.address), depin.token.total_supply()
    current = depin.boosts.current_epoch()
    record, paid, receipt = depin.boosts.fund(buyer, NET, hexagon, 3, 5)
    assert paid == cost
    assert int(receipt["gasUsed"]) < FUND_GAS_LIMIT
    assert depin.token.balance_of(buyer.address) == before - cost
    assert depin.token.total_supply() == supply - cost
    assert (record.cell, record.multiplier) == (hexagon, 3)
    assert (record.first_epoch, record.last_epoch) == (current + 1, current + 5)
    assert depin.boosts.boosts(NET) == [record]
    assert depin.boosts.boosts("uptime") == []  # per network
    assert depin.boosts.boosts_in_force(NET, current) == []  # not the epoch it was bought in
    assert depin.boosts.boosts_in_force(NET, current + 1) == [[hexagon, 3, current + 5]]
    assert depin.boosts.boosts_in_force(NET, current + 5) == [[hexagon, 3, current + 5]]
    assert depin.boosts.boosts_in_force(NET, current + 6) == []
    before_block = int(receipt["blockNumber"]) - 1
    assert depin.boosts.boosts(NET, block=before_block) == []


@pytest.mark.parametrize(
    ("hexagon", "multiplier", "epochs", "error"),
    [
        (0, 2, 1, InvalidHexCell),
        (cell(8) ^ (1 << 63), 2, 1, InvalidHexCell),  # reserved bit set
        (cell(12), 2, 1, InvalidHexCell),  # finer than a hotspot's cell
        (cell(8) ^ (1 << 59), 2, 1, InvalidHexCell),  # mode 0: not a cell
        (cell(8), 0, 1, MultiplierTooLow),
        (cell(8), 1, 1, MultiplierTooLow),
        (cell(8), MAX_BOOST + 1, 1, MultiplierAboveMax),
        (cell(8), 2, 0, ZeroEpochs),
    ],
)
def test_bad_purchases_revert_and_move_nothing(
    env: Env, hexagon: int, multiplier: int, epochs: int, error: type[Exception]
) -> None:
    depin, buyer = env.depin, env.users[0]
    depin.token.approve(buyer, depin.boosts.address, 10**30)
    before = depin.token.balance_of(buyer.address)
    with pytest.raises(error):
        depin.boosts.quote(NET, hexagon, multiplier, epochs)
    with pytest.raises(error):
        depin.boosts.fund(buyer, NET, hexagon, multiplier, epochs, approve=False)
    assert depin.token.balance_of(buyer.address) == before
    assert depin.boosts.boosts(NET) == []


def test_no_price_no_sale(env: Env) -> None:
    with pytest.raises(BoostPriceUnset):
        env.depin.boosts.fund(env.users[0], "uptime", cell(8), 2, 1)


def test_allowance_and_balance_are_needed(env: Env) -> None:
    depin, buyer = env.depin, env.users[0]
    cost = depin.boosts.quote(NET, cell(7), 2, 3)
    depin.token.approve(buyer, depin.boosts.address, cost - 1)
    with pytest.raises(ERC20InsufficientAllowance):
        depin.boosts.fund(buyer, NET, cell(7), 2, 3, approve=False)
    pauper = EthAccount.create()
    env.chain.fund(pauper.address)
    depin.token.transfer(buyer, pauper.address, cost - 1)
    with pytest.raises(ERC20InsufficientBalance):
        depin.boosts.fund(pauper, NET, cell(7), 2, 3)
    assert depin.token.balance_of(pauper.address) == cost - 1
    assert depin.boosts.boosts(NET) == []


def test_only_governance_grants_and_denies(env: Env) -> None:
    fns, stranger = env.depin.boosts.fns, env.users[1]
    network = network_id(NET)
    for fn in (
        fns.grantBoost(network, cell(8), 2, 1),
        fns.deny(network, [stranger.address]),
        fns.undeny(network, [stranger.address]),
    ):
        with pytest.raises(OwnableUnauthorizedAccount):
            env.chain.transact(stranger, fn)
    assert env.depin.boosts.denylist(NET) == [] and env.depin.boosts.boosts(NET) == []


def test_governance_grants_a_boost_and_keeps_the_denylist(env: Env) -> None:
    depin, chain = env.depin, env.chain
    gov, address = depin.governance, depin.boosts.address
    a, b = (EthAccount.create().address for _ in range(2))
    supply = depin.token.total_supply()
    hexagon = cell(6)
    actions = [
        grant_boost_action(chain, address, NET, hexagon, MAX_BOOST, 4),
        deny_action(chain, address, NET, [a, b, a]),  # a repeat is harmless
    ]
    pid = gov.enact(env.deployer, voters(env), actions, "Boost a hex; deny two hotspots")
    assert gov.state(pid) is ProposalState.EXECUTED
    executed = chain.block_number()
    assert depin.token.total_supply() == supply  # granted, not bought
    (granted,) = depin.boosts.boosts(NET)
    assert (granted.cell, granted.multiplier) == (hexagon, MAX_BOOST)
    assert granted.last_epoch - granted.first_epoch == 3
    assert depin.boosts.denylist(NET) == sorted([a, b])
    assert depin.boosts.is_denied(NET, a) and not depin.boosts.is_denied("uptime", a)
    logs = depin.boosts.contract.events.DenylistChanged().get_logs(from_block=executed)
    assert [(log["args"]["account"], log["args"]["denied"]) for log in logs] == [
        (a, True),
        (b, True),
    ]

    pid = gov.enact(env.deployer, voters(env), [undeny_action(chain, address, NET, [a])], "Undeny")
    assert gov.state(pid) is ProposalState.EXECUTED
    assert depin.boosts.denylist(NET) == [b]
    assert depin.boosts.denylist(NET, block=executed) == sorted([a, b])  # history by block

    zero = deny_action(chain, address, NET, ["0x" + "00" * 20])
    with pytest.raises(ZeroAddress):  # the timelock's call reverts: the proposal cannot execute
        gov.enact(env.deployer, voters(env), [zero], "Deny nobody")
    assert depin.boosts.denylist(NET) == [b]


def test_expired_boosts_are_pruned_by_later_writes_and_by_anyone(env: Env) -> None:
    depin, buyer = env.depin, env.users[0]
    first, _, _ = depin.boosts.fund(buyer, NET, cell(9), 2, 1)
    second, _, _ = depin.boosts.fund(buyer, NET, cell(9, 40.0, -74.0), 2, 1)
    ended = max(first.last_epoch, second.last_epoch) + 1
    env.advance_to_epoch(ended)
    assert len(depin.boosts.boosts(NET)) == 2  # expired, still stored
    assert depin.boosts.boosts_in_force(NET, ended) == []
    third, _, receipt = depin.boosts.fund(buyer, NET, cell(10), 2, 2)
    pruned = depin.boosts.contract.events.BoostPruned().process_receipt(receipt, errors=DISCARD)
    assert {e["args"]["id"] for e in pruned} == {first.id, second.id}
    assert depin.boosts.boosts(NET) == [third]
    env.advance_to_epoch(third.last_epoch)  # its last epoch: still in force, kept
    assert depin.boosts.prune(env.users[2], NET, 0, 10) == 0
    assert depin.boosts.boosts(NET) == [third]
    env.advance_to_epoch(third.last_epoch + 1)
    assert depin.boosts.prune(env.users[2], NET, 0, 10) == 1
    assert depin.boosts.boosts(NET) == []
    assert depin.boosts.prune(env.users[2], NET, 0, 10) == 0


def test_reads_page_through_long_lists(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    depin, buyer = env.depin, env.users[0]
    monkeypatch.setattr("depinkit.chain.boosts.PAGE", 2)  # exercise paging with few entries
    records = [depin.boosts.fund(buyer, NET, cell(9, 10.0 + i, 10.0), 2, 3)[0] for i in range(5)]
    assert depin.boosts.boosts(NET) == records


@st.composite
def purchases(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """(resolution, multiplier, epochs) of a few purchases."""
    return draw(
        st.lists(
            st.tuples(st.integers(4, 11), st.integers(2, MAX_BOOST), st.integers(1, 500)),
            min_size=1,
            max_size=4,
        )
    )


@given(bought=purchases())
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_tokens_burned_equal_price_times_what_was_bought(
    env: Env, bought: list[tuple[int, int, int]]
) -> None:
    chain, depin = env.chain, env.depin
    snapshot = chain.snapshot()
    try:
        buyer, others = env.users[0], [env.users[1].address, env.deployer.address]
        watched = [*others, depin.boosts.address, depin.rewards.address, depin.registry.address]
        depin.token.approve(buyer, depin.boosts.address, 10**30)
        balances = {a: depin.token.balance_of(a) for a in watched}
        start_balance = depin.token.balance_of(buyer.address)
        start_supply = depin.token.total_supply()
        expected = 0
        for i, (res, multiplier, epochs) in enumerate(bought):
            hexagon = cell(res, 10.0 + i, 20.0)
            _, paid, _ = depin.boosts.fund(buyer, NET, hexagon, multiplier, epochs, approve=False)
            assert paid == BOOST_PRICE * multiplier * epochs * 7 ** (11 - res)
            expected += paid
            assert depin.token.balance_of(buyer.address) == start_balance - expected
        assert depin.token.total_supply() == start_supply - expected
        assert {a: depin.token.balance_of(a) for a in watched} == balances
        assert len(depin.boosts.boosts(NET)) == len(bought)
    finally:
        chain.revert(snapshot)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """Purchases ("fund", epochs, 0), clock moves ("wait", epochs, 0) and prunes
    ("prune", start, count), in any order."""
    steps = st.one_of(
        st.tuples(st.just("fund"), st.integers(1, 3), st.just(0)),
        st.tuples(st.just("wait"), st.integers(1, 2), st.just(0)),
        st.tuples(st.just("prune"), st.integers(0, 4), st.integers(0, 6)),
    )
    return draw(st.lists(steps, min_size=1, max_size=8))


@given(history=histories())
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_pruning_never_drops_a_boost_before_its_last_epoch(
    env: Env, history: list[tuple[str, int, int]]
) -> None:
    """Whatever the order of purchases, time and prunes, every boost bought is stored until
    its last epoch has passed, and nothing else is stored."""
    chain, depin = env.chain, env.depin
    snapshot = chain.snapshot()
    try:
        buyer = env.users[0]
        depin.token.approve(buyer, depin.boosts.address, 10**30)
        bought: dict[int, int] = {}  # id -> last epoch
        for i, (action, a, b) in enumerate(history):
            if action == "fund":
                record, _, _ = depin.boosts.fund(
                    buyer, NET, cell(9, 10.0 + i, 30.0), 2, a, approve=False
                )
                bought[record.id] = record.last_epoch
            elif action == "wait":
                env.advance_to_epoch(env.epoch_now() + a)
            else:
                depin.boosts.prune(env.users[1], NET, a, b)
            now = depin.boosts.current_epoch()
            stored = {r.id: r.last_epoch for r in depin.boosts.boosts(NET)}
            assert stored.items() <= bought.items()
            assert {i for i, last in bought.items() if last >= now} <= stored.keys()
    finally:
        chain.revert(snapshot)
