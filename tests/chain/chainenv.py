"""The shared test environment type (kept out of conftest.py so tests can import it)."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from depinkit.chain import Chain, Depin, DeployConfig
from depinkit.core.keys import Account

EPOCH_S = 60  # devnet epoch length used by the suite
BOOST_PRICE = 10**12  # sensing's boost_price: base units per res-11 cell, epoch and multiplier unit
MAX_BOOST = 10  # sensing's max_boost


@dataclass
class Env:
    """A deployed system and the keys that act on it."""

    chain: Chain
    depin: Depin
    deployer: LocalAccount
    oracles: list[Account]  # 5 oracle keys, threshold 3
    maker: Account
    users: list[LocalAccount]  # funded with ETH and DPK, votes delegated
    config: DeployConfig

    @property
    def genesis(self) -> int:
        return self.depin.deployment.parameters["epoch.genesis"]

    def advance_to_epoch(self, epoch: int, offset_s: int = 1) -> None:
        """Move the chain clock to ``offset_s`` seconds into ``epoch``."""
        target = self.genesis + epoch * EPOCH_S + offset_s
        now = self.chain.now()
        if target > now:
            self.chain.advance_time(target - now)

    def epoch_now(self) -> int:
        return (self.chain.now() - self.genesis) // EPOCH_S
