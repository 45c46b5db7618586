"""Governance: proposals on DepinGovernor, executed through the TimelockController.

Every rule change (parameters, oracle set, makers, direct slashes) is an :class:`Action`
(target, value, calldata) in a proposal. ``enact`` walks a proposal through the whole life
cycle on a test chain (mining blocks and moving time), which tests and the devnet use.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.types import TxReceipt

from depinkit.chain.client import Chain
from depinkit.chain.errors import ChainError
from depinkit.chain.params import network_id, network_key, param_key


class ProposalState(enum.IntEnum):
    """OpenZeppelin IGovernor.ProposalState."""

    PENDING = 0
    ACTIVE = 1
    CANCELED = 2
    DEFEATED = 3
    SUCCEEDED = 4
    QUEUED = 5
    EXPIRED = 6
    EXECUTED = 7


class Vote(enum.IntEnum):
    """GovernorCountingSimple support values."""

    AGAINST = 0
    FOR = 1
    ABSTAIN = 2


@dataclass(frozen=True)
class Action:
    """One call the timelock makes when a proposal executes."""

    target: str
    calldata: bytes
    value: int = 0


def _encode(chain: Chain, name: str, address: str, fn: str, args: Sequence[Any]) -> Action:
    data = chain.contract(name, address).encode_abi(fn, args=list(args))
    return Action(to_checksum_address(address), bytes.fromhex(data[2:]))


def set_parameters_action(chain: Chain, parameters: str, values: Mapping[bytes, int]) -> Action:
    """Parameters.setMany over raw keys (see params.param_key / params.network_key)."""
    return _encode(
        chain, "Parameters", parameters, "setMany", [list(values), list(values.values())]
    )


def set_parameter_action(chain: Chain, parameters: str, name: str, value: int) -> Action:
    return _encode(chain, "Parameters", parameters, "set", [param_key(name), value])


def set_network_parameter_action(
    chain: Chain, parameters: str, network: str, name: str, value: int
) -> Action:
    return _encode(chain, "Parameters", parameters, "set", [network_key(network, name), value])


def set_oracles_action(
    chain: Chain, oracle_set: str, oracles: Iterable[str], threshold: int
) -> Action:
    members = [to_checksum_address(o) for o in oracles]
    return _encode(chain, "OracleSet", oracle_set, "setOracles", [members, threshold])


def set_maker_action(
    chain: Chain, registry: str, network: str, maker: str, approved: bool
) -> Action:
    args = [network_id(network), to_checksum_address(maker), approved]
    return _encode(chain, "DeviceRegistry", registry, "setMaker", args)


def slash_action(chain: Chain, registry: str, device: str, amount: int, reason: bytes) -> Action:
    args = [to_checksum_address(device), amount, reason]
    return _encode(chain, "DeviceRegistry", registry, "slash", args)


def _columns(actions: Sequence[Action]) -> tuple[list[str], list[int], list[bytes]]:
    return (
        [a.target for a in actions],
        [a.value for a in actions],
        [a.calldata for a in actions],
    )


class GovernanceClient:
    """Typed calls on DepinGovernor and its TimelockController."""

    def __init__(self, chain: Chain, governor: str, timelock: str) -> None:
        self.chain = chain
        self.governor = chain.contract("DepinGovernor", governor)
        self.timelock = chain.contract("TimelockController", timelock)
        self.fns = self.governor.functions

    def proposal_id(self, actions: Sequence[Action], description: str) -> int:
        targets, values, calldatas = _columns(actions)
        fn = self.fns.hashProposal(targets, values, calldatas, keccak(text=description))
        return int(self.chain.call(fn))

    def state(self, proposal_id: int) -> ProposalState:
        return ProposalState(int(self.chain.call(self.fns.state(proposal_id))))

    def propose(self, proposer: LocalAccount, actions: Sequence[Action], description: str) -> int:
        if not actions:
            raise ChainError("a proposal needs at least one action")
        targets, values, calldatas = _columns(actions)
        self.chain.transact(proposer, self.fns.propose(targets, values, calldatas, description))
        return self.proposal_id(actions, description)

    def vote(self, voter: LocalAccount, proposal_id: int, support: Vote = Vote.FOR) -> TxReceipt:
        return self.chain.transact(voter, self.fns.castVote(proposal_id, int(support)))

    def queue(self, sender: LocalAccount, actions: Sequence[Action], description: str) -> TxReceipt:
        targets, values, calldatas = _columns(actions)
        fn = self.fns.queue(targets, values, calldatas, keccak(text=description))
        return self.chain.transact(sender, fn)

    def execute(
        self, sender: LocalAccount, actions: Sequence[Action], description: str
    ) -> TxReceipt:
        targets, values, calldatas = _columns(actions)
        fn = self.fns.execute(targets, values, calldatas, keccak(text=description))
        return self.chain.transact(sender, fn)

    def voting_delay(self) -> int:
        return int(self.chain.call(self.fns.votingDelay()))

    def voting_period(self) -> int:
        return int(self.chain.call(self.fns.votingPeriod()))

    def timelock_delay(self) -> int:
        return int(self.chain.call(self.timelock.functions.getMinDelay()))

    def _mine_past(self, block: int) -> None:
        self.chain.mine(max(block - self.chain.block_number() + 1, 0))

    def enact(
        self,
        proposer: LocalAccount,
        voters: Sequence[LocalAccount],
        actions: Sequence[Action],
        description: str,
    ) -> int:
        """Propose, vote FOR with ``voters``, queue, wait the delay, execute (test chains).

        Voters must have delegated their votes before the proposal is made.
        """
        pid = self.propose(proposer, actions, description)
        self._mine_past(int(self.chain.call(self.fns.proposalSnapshot(pid))))
        for voter in voters:
            self.vote(voter, pid)
        self._mine_past(int(self.chain.call(self.fns.proposalDeadline(pid))))
        state = self.state(pid)
        if state != ProposalState.SUCCEEDED:
            raise ChainError(f"proposal did not pass: {state.name}")
        self.queue(proposer, actions, description)
        self.chain.advance_time(self.timelock_delay() + 1)
        self.execute(proposer, actions, description)
        return pid
