"""RewardsDistributor: publish an epoch's root on an oracle quorum; claim lazily."""

from __future__ import annotations

from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.types import TxReceipt

from depinkit.chain import eip712
from depinkit.chain.client import Chain
from depinkit.core.merkle import MerkleTree

Block = int | str


class RewardsClient:
    """Typed calls on RewardsDistributor."""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.contract = chain.contract("RewardsDistributor", address)
        self.fns = self.contract.functions

    @property
    def address(self) -> str:
        return str(self.contract.address)

    # --- reads --------------------------------------------------------------------------
    def root(self, *, block: Block = "latest") -> bytes:
        return bytes(self.chain.call(self.fns.root(), block=block))

    def last_epoch(self, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.fns.lastEpoch(), block=block))

    def total_cumulative(self, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.fns.totalCumulative(), block=block))

    def claimed(self, account: str, *, block: Block = "latest") -> int:
        fn = self.fns.claimed(to_checksum_address(account))
        return int(self.chain.call(fn, block=block))

    def emitted_through(self, epoch: int, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.fns.emittedThrough(epoch), block=block))

    def current_epoch(self, *, block: Block = "latest") -> int:
        return int(self.chain.call(self.fns.currentEpoch(), block=block))

    def emission_cap(self) -> int:
        return int(self.chain.call(self.fns.emissionCap()))

    # --- roots --------------------------------------------------------------------------
    def root_digest(self, epoch: int, root: bytes, total_cumulative: int) -> bytes:
        """What each oracle signs for this root on this distributor and chain."""
        return eip712.reward_root_digest(
            self.chain.chain_id, self.address, epoch, root, total_cumulative
        )

    def submit_root(
        self,
        sender: LocalAccount,
        epoch: int,
        root: bytes,
        total_cumulative: int,
        signatures: Sequence[bytes],
    ) -> TxReceipt:
        """Publish ``root`` (signatures ordered by signer address: eip712.quorum_signatures)."""
        fn = self.fns.submitRoot(epoch, root, total_cumulative, list(signatures))
        return self.chain.transact(sender, fn)

    # --- claims -------------------------------------------------------------------------
    def claim(
        self, sender: LocalAccount, account: str, cumulative: int, proof: Sequence[bytes]
    ) -> TxReceipt:
        fn = self.fns.claim(to_checksum_address(account), cumulative, list(proof))
        return self.chain.transact(sender, fn)

    def claim_from_tree(self, sender: LocalAccount, tree: MerkleTree, account: str) -> TxReceipt:
        index = tree.index_of(account)
        return self.claim(sender, account, tree.value(index)[1], tree.proof(index))

    def claim_many(
        self,
        sender: LocalAccount,
        accounts: Sequence[str],
        amounts: Sequence[int],
        proofs: Sequence[Sequence[bytes]],
    ) -> TxReceipt:
        fn = self.fns.claimMany(
            [to_checksum_address(a) for a in accounts],
            list(amounts),
            [list(p) for p in proofs],
        )
        return self.chain.transact(sender, fn)
