"""The oracle committee on chain: who signs, and how many signatures make a quorum."""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils import to_checksum_address

from depinkit.chain.client import Chain

Block = int | str


class OracleSetClient:
    """Reads of OracleSet; changes go through governance (see governance.set_oracles_action)."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract = chain.contract("OracleSet", address)
        self.fns = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def oracles(self, *, block: Block = "latest") -> list[str]:
        return [to_checksum_address(a) for a in self.chain.call(self.fns.oracles(), block=block)]

    def threshold(self, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.fns.threshold(), block=block))

    def is_oracle(self, account: str, *, block: Block = "latest") -> bool:
        fn = self.fns.isOracle(to_checksum_address(account))
        return bool(self.chain.call(fn, block=block))

    def verify_quorum(self, digest: bytes, signatures: Sequence[bytes]) -> None:
        """Raise the contract's error (NotEnoughSignatures, NotAnOracle...) unless valid."""
        self.chain.call(self.fns.verifyQuorum(digest, list(signatures)))

    def owner(self) -> str:
        return str(self.chain.call(self.fns.owner()))
