"""The DPK token: balances, allowances, vote delegation."""

from __future__ import annotations

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.types import TxReceipt

from depinkit.chain.client import Chain

Block = int | str


class TokenClient:
    """Typed calls on DepinToken (ERC20 + Votes + Capped + Burnable)."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract = chain.contract("DepinToken", address)
        self.fns = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def balance_of(self, account: str, *, block: Block = "latest") -> int:
        fn = self.fns.balanceOf(to_checksum_address(account))
        return int(self.chain.call(fn, block=block))

    def total_supply(self, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.fns.totalSupply(), block=block))

    def cap(self) -> int:
        return int(self.chain.call(self.fns.cap()))

    def initial_supply(self) -> int:
        return int(self.chain.call(self.fns.initialSupply()))

    def allowance(self, owner: str, spender: str) -> int:
        fn = self.fns.allowance(to_checksum_address(owner), to_checksum_address(spender))
        return int(self.chain.call(fn))

    def transfer(self, sender: LocalAccount, to: str, amount: int) -> TxReceipt:
        return self.chain.transact(sender, self.fns.transfer(to_checksum_address(to), amount))

    def approve(self, sender: LocalAccount, spender: str, amount: int) -> TxReceipt:
        fn = self.fns.approve(to_checksum_address(spender), amount)
        return self.chain.transact(sender, fn)

    def ensure_allowance(self, sender: LocalAccount, spender: str, amount: int) -> None:
        """Approve ``spender`` for ``amount`` unless it may already spend that much."""
        if self.allowance(sender.address, spender) < amount:
            self.approve(sender, spender, amount)

    def delegate(self, sender: LocalAccount, delegatee: str | None = None) -> TxReceipt:
        """Activate voting power (ERC20Votes counts only delegated balances)."""
        target = to_checksum_address(delegatee or sender.address)
        return self.chain.transact(sender, self.fns.delegate(target))

    def votes(self, account: str) -> int:
        return int(self.chain.call(self.fns.getVotes(to_checksum_address(account))))

    def has_role(self, role_name: str, account: str) -> bool:
        role = self.chain.call(getattr(self.fns, role_name)())
        return bool(self.chain.call(self.fns.hasRole(role, to_checksum_address(account))))
