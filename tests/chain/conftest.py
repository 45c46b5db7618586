"""Fixtures for the settlement-layer tests: one deployment per backend and session.

Every test that uses ``env`` runs twice: on the in-process py-evm chain and on a
real anvil process started once per test session (per xdist worker). Each test runs
between a snapshot and a revert, so tests never see each other's transactions.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chainenv import BOOST_PRICE, EPOCH_S, MAX_BOOST, Env
from eth_account import Account as EthAccount

from depinkit.chain import (
    TOKEN,
    Anvil,
    Chain,
    Depin,
    DeployConfig,
    NetworkConfig,
    deploy,
    dev_account,
)
from depinkit.core.keys import Account

BACKENDS = [
    pytest.param("tester", id="tester"),
    pytest.param("anvil", id="anvil", marks=pytest.mark.anvil),
]
TIMELOCK_DELAY_S = 5  # short, so governance tests move little time
USER_TOKENS = 10_000 * TOKEN  # each test user starts with 10,000 DPK


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node


@pytest.fixture(scope="session", params=BACKENDS)
def chain(request: pytest.FixtureRequest) -> Chain:
    if request.param == "tester":
        return Chain.tester()
    node: Anvil = request.getfixturevalue("anvil_node")
    return Chain.connect(node.url)


def make_config(oracles: list[Account], maker: Account) -> DeployConfig:
    return DeployConfig(
        epoch_length_s=EPOCH_S,
        networks=(
            NetworkConfig(name="uptime", weight_bps=7_000, splits={"uptime": 10_000}),
            NetworkConfig(
                name="sensing",
                stake=50 * TOKEN,
                require_maker=True,
                weight_bps=3_000,
                splits={"data": 6_000, "usage": 4_000},
                makers=(maker.address,),
                parameters={"boost_price": BOOST_PRICE, "max_boost": MAX_BOOST},
            ),
        ),
        oracles=tuple(o.address for o in oracles),
        threshold=3,
        timelock_delay_s=TIMELOCK_DELAY_S,
        voting_delay_blocks=1,
        voting_period_blocks=5,
        quorum_percent=4,
    )


@pytest.fixture(scope="session")
def env(chain: Chain) -> Env:
    deployer = dev_account()
    oracles = [Account.generate() for _ in range(5)]
    maker = Account.generate()
    config = make_config(oracles, maker)
    deployment = deploy(chain, deployer, config)
    depin = Depin(chain, deployment)
    users = [EthAccount.create() for _ in range(3)]
    chain.fund([u.address for u in users])
    for user in users:
        depin.token.transfer(deployer, user.address, USER_TOKENS)
        depin.token.delegate(user)
    depin.token.delegate(deployer)
    chain.mine(1)
    return Env(chain, depin, deployer, oracles, maker, users, config)


@pytest.fixture(autouse=True)
def _isolate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Snapshot before and revert after each test that uses the shared deployment."""
    if "env" not in request.fixturenames:
        yield
        return
    env: Env = request.getfixturevalue("env")
    snapshot = env.chain.snapshot()
    yield
    env.chain.revert(snapshot)
