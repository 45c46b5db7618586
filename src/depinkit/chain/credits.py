"""Credits: burn DPK for non-transferable usage credits at an oracle-signed USD price."""

from __future__ import annotations

from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.types import TxReceipt

from depinkit.chain import eip712
from depinkit.chain.client import Chain
from depinkit.chain.token import TokenClient


def credits_for(token_amount: int, price_usd_e8: int, credit_price_usd_e8: int) -> int:
    """Credits (18 decimals) bought by ``token_amount`` base units, rounded down as on chain."""
    return token_amount * price_usd_e8 // credit_price_usd_e8


class CreditsClient:
    """Typed calls on Credits."""

    def __init__(self, chain: Chain, address: str, token: TokenClient) -> None:
        self.chain = chain
        self.token = token
        self.contract = chain.contract("Credits", address)
        self.fns = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def credits_of(self, account: str, *, block: int | str = "latest") -> int:
        fn = self.fns.credits(to_checksum_address(account))
        return int(self.chain.call(fn, block=block))

    def price_digest(self, price_usd_e8: int, timestamp: int) -> bytes:
        """What each oracle signs to vouch for a token price on this Credits contract."""
        return eip712.token_price_digest(self.chain.chain_id, self.address, price_usd_e8, timestamp)

    def buy(
        self,
        buyer: LocalAccount,
        token_amount: int,
        price_usd_e8: int,
        price_timestamp: int,
        signatures: Sequence[bytes],
        *,
        beneficiary: str | None = None,
        approve: bool = True,
    ) -> TxReceipt:
        """Burn ``token_amount`` of the buyer's DPK for credits to ``beneficiary``."""
        if approve:
            self.token.ensure_allowance(buyer, self.address, token_amount)
        fn = self.fns.buyCredits(
            to_checksum_address(beneficiary or buyer.address),
            token_amount,
            price_usd_e8,
            price_timestamp,
            list(signatures),
        )
        return self.chain.transact(buyer, fn)
