"""Gas used by the settlement contracts' hot paths, against their targets.

Deploys with depinkit.chain.deploy on py-evm (eth-tester, Cancun rules: the EVM version the
contracts are compiled for) or on a JSON-RPC node (--rpc, e.g. anvil), and prints one JSON
document: tx gasUsed (21,000 base included) for first and repeat claims against a 2**20-leaf
tree (proof depth 20), submitRoot with M = 3 and M = 7 oracle signatures, onboarding, buying
credits, and plain DepinToken transfers measured in the same run as the baseline.

The tree has 2**20 leaves: the claimants' leaves are real StandardMerkleTree leaves, the other
1,048,574 are distinct random 32-byte leaf hashes (synthetic accounts). The contract cannot tell
the difference; what sets a claim's cost is the proof depth. The claimants' leaves sit at fixed
positions, so the repeat claim's root is recomputed along one path instead of a rebuild.

Usage: python bench/gas.py [--depth 20] [--rpc http://127.0.0.1:8545]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from Crypto.Hash import keccak as _keccak
from eth.vm.forks import CancunVM
from eth_abi import encode as abi_encode
from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from depinkit.chain import (
    TOKEN,
    Chain,
    DeployConfig,
    Deployment,
    NetworkConfig,
    deploy,
    dev_account,
    eip712,
    network_id,
)
from depinkit.core.keys import Account

TREE_DEPTH: Final[int] = 20  # 2**20 = 1,048,576 leaves >= the 1,000,000 accounts of the target
TX_GAS_LIMIT: Final[int] = 8_000_000  # explicit limit: no estimation, gasUsed is exact
EPOCH_LENGTH_S: Final[int] = 3_600  # one hour per epoch on the bench chain
EPOCHS_BEFORE_NOW: Final[int] = 10  # genesis this far back, so epochs 0..9 have ended
EMISSION_PER_EPOCH: Final[int] = 1_000_000 * TOKEN  # generous: any bench total fits the schedule
ORACLE_COUNT: Final[int] = 7  # N; submitRoot is measured with M = 3 and M = 7 of them
DEV_FUNDS_WEI: Final[int] = 10_000 * 10**18  # what the dev account gets on the in-process chain
USER_FUNDS_WEI: Final[int] = 10**19  # 10 ETH of gas money per bench user
TX_BASE_GAS: Final[int] = 21_000  # every transaction pays this before any calldata or code
BOOST_NETWORK: Final[str] = "uptime"  # the bench's one network; HexBoosts takes any
BOOST_PARAMETERS: Final[dict[str, int]] = {"boost_price": 10**12, "max_boost": 10}
BOOST_HEXES: Final[tuple[int, int]] = (0x8828308281FFFFF, 0x882830828DFFFFF)  # two res-8 hexes
H3_CELL: Final[int] = 0x8A2A1072B59FFFF  # an H3 resolution-10 cell

TARGETS: Final[dict[str, int]] = {
    "claim_first": 90_000,
    "claim_first_fresh_recipient": 90_000,
    "claim_repeat": 60_000,
    "submit_root_m3": 150_000,
}


def _hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash: keccak of the two children, smaller first."""
    data = a + b if a < b else b + a
    return _keccak.new(digest_bits=256, data=data).digest()


def leaf_hash(account: str, amount: int) -> bytes:
    """StandardMerkleTree leaf: keccak256(bytes.concat(keccak256(abi.encode(account, amount))))."""
    return keccak(keccak(abi_encode(["address", "uint256"], [account, amount])))


@dataclass
class FixedTree:
    """A complete binary tree stored level by level; leaves can be replaced in O(depth)."""

    levels: list[list[bytes]]

    @classmethod
    def build(cls, leaves: list[bytes]) -> FixedTree:
        levels = [leaves]
        hash_pair = _hash_pair
        while len(levels[-1]) > 1:
            below = levels[-1]
            levels.append([hash_pair(below[i], below[i + 1]) for i in range(0, len(below), 2)])
        return cls(levels)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        siblings = []
        for level in self.levels[:-1]:
            siblings.append(level[index ^ 1])
            index //= 2
        return siblings

    def replace(self, index: int, leaf: bytes) -> None:
        self.levels[0][index] = leaf
        for depth in range(1, len(self.levels)):
            index //= 2
            below = self.levels[depth - 1]
            self.levels[depth][index] = _hash_pair(below[2 * index], below[2 * index + 1])


@dataclass(frozen=True)
class Gas:
    """A transaction's gasUsed, and the part of it the call itself spent.

    ``execution`` excludes the intrinsic cost (the 21,000 base and the calldata), which is
    what Solidity gas reports (e.g. forge's) quote for a function; ``used`` is what the
    sender pays for the whole transaction. Both are printed: see docs/decisions.
    """

    used: int
    intrinsic: int

    @property
    def execution(self) -> int:
        return self.used - self.intrinsic


def intrinsic_gas(calldata: bytes) -> int:
    """EIP-2028 intrinsic gas of a call: 21,000 plus 4 per zero and 16 per non-zero byte."""
    zeros = calldata.count(0)
    return TX_BASE_GAS + 4 * zeros + 16 * (len(calldata) - zeros)


@dataclass
class Bench:
    """One deployment, the oracle keys its OracleSet trusts, and the M it was deployed with."""

    chain: Chain
    deployment: Deployment
    oracles: list[Account]
    threshold: int

    def contract(self, name: str) -> Any:
        return self.chain.contract(name, self.deployment.address(name))

    def send(self, fn: Any, sender: LocalAccount | None = None) -> Gas:
        """Send a contract call as a transaction with a fixed gas limit; the gas it used."""
        receipt = self.chain.transact(sender or dev_account(), fn, gas=TX_GAS_LIMIT)
        tx = self.chain.w3.eth.get_transaction(receipt["transactionHash"])
        return Gas(used=int(receipt["gasUsed"]), intrinsic=intrinsic_gas(bytes(tx["input"])))

    def user(self, tokens: int) -> LocalAccount:
        """A fresh funded account holding ``tokens`` base units of DPK (none when 0)."""
        account = EthAccount.create()
        self.chain.fund(account.address, USER_FUNDS_WEI)
        if tokens:
            self.send(self.contract("DepinToken").functions.transfer(account.address, tokens))
        return account


def connect(rpc: str | None) -> Chain:
    """An in-process Cancun py-evm chain with the dev account funded, or the node at ``rpc``."""
    if rpc:
        return Chain.connect(rpc)
    backend = PyEVMBackend(vm_configuration=((0, CancunVM),))
    tester = EthereumTester(backend)
    funder = tester.get_accounts()[0]
    tester.send_transaction(
        {"from": funder, "to": dev_account().address, "value": DEV_FUNDS_WEI, "gas": 21_000}
    )
    return Chain(Web3(EthereumTesterProvider(tester)))


def start(rpc: str | None, threshold: int) -> Bench:
    chain = connect(rpc)
    oracles = sorted(
        (Account.generate() for _ in range(ORACLE_COUNT)), key=lambda a: int(a.address, 16)
    )
    config = DeployConfig(
        epoch_length_s=EPOCH_LENGTH_S,
        epoch_genesis=chain.now() - EPOCHS_BEFORE_NOW * EPOCH_LENGTH_S,
        emission_initial=EMISSION_PER_EPOCH,
        oracles=tuple(o.address for o in oracles),
        threshold=threshold,
        networks=(NetworkConfig(name=BOOST_NETWORK, parameters=BOOST_PARAMETERS),),
    )
    deployment = deploy(chain, dev_account(), config)
    return Bench(chain=chain, deployment=deployment, oracles=oracles, threshold=threshold)


def submit_root(bench: Bench, epoch: int, root: bytes, total: int) -> Gas:
    distributor = bench.contract("RewardsDistributor")
    digest = eip712.reward_root_digest(
        bench.chain.chain_id, distributor.address, epoch, root, total
    )
    signatures = eip712.quorum_signatures(bench.oracles[: bench.threshold], digest)
    return bench.send(distributor.functions.submitRoot(epoch, root, total, signatures))


def measure_claims(bench: Bench, depth: int, log: Callable[[str], None]) -> dict[str, Gas]:
    """First and repeat claims against a 2**depth-leaf tree.

    Two claimants: one that already holds DPK (every device owner does: onboarding locks stake
    in DPK) and one fresh address whose token balance slot the claim creates (worst case).
    """
    distributor = bench.contract("RewardsDistributor")
    fresh = to_checksum_address("0x" + os.urandom(20).hex())
    holder = bench.user(TOKEN).address
    fresh_index, holder_index = (1 << depth) - 3, 1 << (depth - 1)
    amount = 1_234 * TOKEN
    started = time.perf_counter()
    leaves = [os.urandom(32) for _ in range(1 << depth)]
    leaves[fresh_index] = leaf_hash(fresh, amount)
    leaves[holder_index] = leaf_hash(holder, amount)
    tree = FixedTree.build(leaves)
    log(f"built a {1 << depth}-leaf tree in {time.perf_counter() - started:.1f} s")
    epoch = int(distributor.functions.lastEpoch().call()) + 1
    total = int(distributor.functions.totalCumulative().call()) + 500_000 * TOKEN
    submit_root(bench, epoch, tree.root, total)
    claim = distributor.functions.claim
    first_holder = bench.send(claim(holder, amount, tree.proof(holder_index)))
    first_fresh = bench.send(claim(fresh, amount, tree.proof(fresh_index)))
    more = 777 * TOKEN
    tree.replace(fresh_index, leaf_hash(fresh, amount + more))
    submit_root(bench, epoch + 1, tree.root, total + more)
    repeat = bench.send(claim(fresh, amount + more, tree.proof(fresh_index)))
    return {
        "claim_first": first_holder,
        "claim_first_fresh_recipient": first_fresh,
        "claim_repeat": repeat,
    }


def measure_submit_root(bench: Bench) -> dict[str, Gas]:
    """The very first root (every slot created) and a later one (the steady state)."""
    distributor = bench.contract("RewardsDistributor")
    m = bench.threshold
    figures = {}
    if not any(distributor.functions.root().call()):  # no root yet: measure the first one
        figures[f"submit_root_m{m}_first"] = submit_root(bench, 0, os.urandom(32), 1_000 * TOKEN)
    epoch = int(distributor.functions.lastEpoch().call()) + 1
    total = int(distributor.functions.totalCumulative().call()) + 1_000 * TOKEN
    figures[f"submit_root_m{m}"] = submit_root(bench, epoch, os.urandom(32), total)
    return figures


def measure_onboard(bench: Bench) -> Gas:
    registry = bench.contract("DeviceRegistry")
    owner = bench.user(1_000 * TOKEN)
    stake_approval = bench.contract("DepinToken").functions.approve(registry.address, 2**256 - 1)
    bench.send(stake_approval, owner)
    device = Account.generate()
    network = keccak(text="uptime")
    deadline = bench.chain.now() + 3_600
    digest = eip712.onboard_digest(
        bench.chain.chain_id,
        registry.address,
        device=device.address,
        owner=owner.address,
        network=network,
        h3_cell=H3_CELL,
        nonce=0,
        deadline=deadline,
    )
    onboard = registry.functions.onboard(
        device.address, network, H3_CELL, deadline, device.sign_digest(digest), b""
    )
    return bench.send(onboard, owner)


def measure_buy_credits(bench: Bench) -> Gas:
    credits = bench.contract("Credits")
    buyer = bench.user(1_000 * TOKEN)
    bench.send(bench.contract("DepinToken").functions.approve(credits.address, 2**256 - 1), buyer)
    price, stamp = 50_000_000, bench.chain.now()  # USD 0.50 per DPK, signed just now
    digest = eip712.token_price_digest(bench.chain.chain_id, credits.address, price, stamp)
    signatures = eip712.quorum_signatures(bench.oracles[: bench.threshold], digest)
    buy = credits.functions.buyCredits(buyer.address, 10 * TOKEN, price, stamp, signatures)
    return bench.send(buy, buyer)


def measure_fund_boost(bench: Bench) -> dict[str, Gas]:
    """HexBoosts.fundBoost of a res-8 hex: the network's first boost, and the steady state
    (the third: the second is the first to write the pruning cursor)."""
    boosts = bench.contract("HexBoosts")
    buyer = bench.user(1_000 * TOKEN)
    bench.send(bench.contract("DepinToken").functions.approve(boosts.address, 2**256 - 1), buyer)
    fund = boosts.functions.fundBoost
    network = network_id(BOOST_NETWORK)
    first = bench.send(fund(network, BOOST_HEXES[0], 2, 10), buyer)
    bench.send(fund(network, BOOST_HEXES[1], 2, 10), buyer)
    steady = bench.send(fund(network, BOOST_HEXES[0], 3, 10), buyer)
    return {"fund_boost_first": first, "fund_boost": steady}


def measure_transfer(bench: Bench) -> dict[str, Gas]:
    """Baseline: DepinToken (ERC20Votes) transfers to a fresh and to a funded recipient."""
    transfer = bench.contract("DepinToken").functions.transfer
    fresh = to_checksum_address("0x" + os.urandom(20).hex())
    return {
        "erc20_transfer_fresh": bench.send(transfer(fresh, TOKEN)),
        "erc20_transfer_funded": bench.send(transfer(fresh, TOKEN)),
    }


def run(depth: int, log: Callable[[str], None], rpc: str | None = None) -> dict[str, Any]:
    figures: dict[str, Gas] = {}
    for_m7 = start(rpc, 7)
    figures.update(measure_submit_root(for_m7))
    bench = start(rpc, 3)
    figures.update(measure_submit_root(bench))
    figures.update(measure_claims(bench, depth, log))
    figures["onboard"] = measure_onboard(bench)
    figures["buy_credits_m3"] = measure_buy_credits(bench)
    figures.update(measure_fund_boost(bench))
    figures.update(measure_transfer(bench))
    results = {}
    for name, gas in sorted(figures.items()):
        entry: dict[str, Any] = {"gasUsed": gas.used, "executionGas": gas.execution}
        if name in TARGETS:
            entry["target"] = TARGETS[name]
            entry["metOnGasUsed"] = gas.used <= TARGETS[name]
            entry["metOnExecutionGas"] = gas.execution <= TARGETS[name]
        results[name] = entry
    return {
        "chain": "py-evm (eth-tester), Cancun" if rpc is None else f"JSON-RPC node {rpc}",
        "tree_leaves": 1 << depth,
        "proof_depth": depth,
        "oracles": ORACLE_COUNT,
        "figures": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gas of the settlement contracts vs targets.")
    parser.add_argument("--depth", type=int, default=TREE_DEPTH, help="proof depth (tree 2**d)")
    parser.add_argument("--rpc", help="JSON-RPC URL of a dev node (anvil) instead of py-evm")
    args = parser.parse_args(argv)
    report = run(args.depth, lambda line: print(line, file=sys.stderr), args.rpc)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
