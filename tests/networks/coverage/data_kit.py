"""A real chain for data-transfer tests: anvil, the contracts with the coverage network,
registered hotspots and a consumer holding credits bought at an oracle-signed price."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h3
from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount

from depinkit.chain import (
    TOKEN,
    Anvil,
    Chain,
    Depin,
    DeployConfig,
    Deployment,
    deploy,
    dev_account,
    eip712,
)
from depinkit.chain.deploy import NetworkConfig
from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.coverage import parameters as P
from depinkit.networks.receipts import CHAIN_UNITS_PER_NANOCREDIT

EPOCH_S = 60
PRICE_PER_PACKET = 2_000_000  # nanocredits, set on chain (the default is 1,000,000)
TOKEN_PRICE_USD_E8 = 100_000_000  # USD 1 per DPK
CREDIT_PRICE_USD_E8 = 1_000_000  # USD 0.01 per credit (the deploy default)
OWNER_TOKENS = 1_000 * TOKEN


def position_cell(lat: float, lng: float) -> int:
    """The res-12 H3 cell a hotspot at (lat, lng) asserts."""
    return int(h3.latlng_to_cell(lat, lng, 12), 16)


@dataclass
class DataChain:
    chain: Chain
    depin: Depin
    deployment: Deployment
    deployment_path: Path
    domain: ReportDomain
    oracle: Account  # signs token prices (threshold 1)
    owner: LocalAccount  # owns every hotspot
    consumer: Account  # holds credits
    consumer_eth: LocalAccount

    @property
    def rpc(self) -> str:
        return str(self.chain.w3.provider.endpoint_uri)  # type: ignore[attr-defined]

    def onboard(self, hotspot: Account, lat: float, lng: float, network: str = "coverage") -> None:
        self.depin.registry.onboard(self.owner, hotspot, network, position_cell(lat, lng))

    def buy_packets(self, packets: int) -> int:
        """Buy credits for exactly ``packets`` packets at the governed price; nanocredits."""
        nanocredits = packets * PRICE_PER_PACKET
        chain_units = nanocredits * CHAIN_UNITS_PER_NANOCREDIT
        tokens = chain_units * CREDIT_PRICE_USD_E8 // TOKEN_PRICE_USD_E8
        assert tokens * TOKEN_PRICE_USD_E8 // CREDIT_PRICE_USD_E8 == chain_units
        ts = self.chain.now()
        digest = self.depin.credits.price_digest(TOKEN_PRICE_USD_E8, ts)
        signatures = eip712.quorum_signatures([self.oracle], digest)
        self.depin.credits.buy(self.consumer_eth, tokens, TOKEN_PRICE_USD_E8, ts, signatures)
        return nanocredits


@contextmanager
def data_chain(tmp_path: Path, *, packet_copies: int = 1) -> Iterator[DataChain]:
    """Anvil with the contracts, the coverage network (price and copies set on chain)."""
    with Anvil() as node:
        chain = Chain.connect(node.url)
        oracle = Account.generate()
        owner: LocalAccount = EthAccount.create()
        consumer_eth: LocalAccount = EthAccount.create()
        chain.fund([owner.address, consumer_eth.address])
        deployer = dev_account()
        config = DeployConfig(
            epoch_length_s=EPOCH_S,
            networks=(
                NetworkConfig(
                    name="coverage",
                    splits={"coverage": 5_000, "data": 5_000},
                    parameters={
                        P.PRICE_PER_PACKET: PRICE_PER_PACKET,
                        P.PACKET_COPIES: packet_copies,
                    },
                ),
            ),
            oracles=(oracle.address,),
            threshold=1,
        )
        deployment = deploy(chain, deployer, config)
        depin = Depin(chain, deployment)
        depin.token.transfer(deployer, owner.address, OWNER_TOKENS)
        depin.token.transfer(deployer, consumer_eth.address, OWNER_TOKENS)
        path = deployment.save(tmp_path / "deployment.json")
        yield DataChain(
            chain=chain,
            depin=depin,
            deployment=deployment,
            deployment_path=path,
            domain=ReportDomain(chain_id=chain.chain_id, registry=deployment.registry),
            oracle=oracle,
            owner=owner,
            consumer=Account.from_key(bytes(consumer_eth.key)),
            consumer_eth=consumer_eth,
        )


def offsets(lat: float, lng: float, metres_east: Sequence[float]) -> list[tuple[float, float]]:
    """Points ``metres_east`` of (lat, lng) on its parallel (small distances)."""
    per_degree = 111_320.0 * math.cos(math.radians(lat))
    return [(lat, lng + m / per_degree) for m in metres_east]
