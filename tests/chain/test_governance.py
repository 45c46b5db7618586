"""Governance end to end, and proof that only the timelock can change a rule."""

from __future__ import annotations

import pytest
from chainenv import Env

from depinkit.chain import (
    ProposalState,
    eip712,
    set_network_parameter_action,
    set_oracles_action,
    slash_action,
)
from depinkit.chain.errors import (
    AccessControlUnauthorizedAccount,
    ChainError,
    GovernorOnlyExecutor,
    GovernorUnexpectedProposalState,
    NotAnOracle,
    OwnableUnauthorizedAccount,
    TimelockUnauthorizedCaller,
    TimelockUnexpectedOperationState,
)
from depinkit.chain.params import network_key, param_key
from depinkit.core.keys import Account

REASON = b"governance".ljust(32, b"\x00")


def voters(env: Env) -> list:
    """The deployer holds the genesis supply (delegated), enough for the 4% quorum."""
    return [env.deployer, *env.users]


def test_change_a_reward_split_and_the_oracle_set(env: Env) -> None:
    depin, chain = env.depin, env.chain
    gov = depin.governance
    before_block = chain.block_number()
    assert depin.params.network("sensing", ["data", "usage"])["split.data"] == 6_000
    new_oracles = [Account.generate() for _ in range(2)]
    actions = [
        set_network_parameter_action(chain, depin.params.address, "sensing", "split.data", 5_000),
        set_network_parameter_action(chain, depin.params.address, "sensing", "split.usage", 5_000),
        set_oracles_action(chain, depin.oracles.address, [o.address for o in new_oracles], 2),
    ]
    pid = gov.enact(env.users[0], voters(env), actions, "Rebalance sensing; rotate oracles")
    assert gov.state(pid) is ProposalState.EXECUTED

    net = depin.params.network("sensing", ["data", "usage"])
    assert (net["split.data"], net["split.usage"]) == (5_000, 5_000)
    assert depin.params.get_network("sensing", "split.data", block=before_block) == 6_000
    assert depin.oracles.oracles() == [o.address for o in new_oracles]
    assert depin.oracles.threshold() == 2
    assert depin.oracles.oracles(block=before_block) == [o.address for o in env.oracles]

    # the old committee no longer publishes roots; the new one does
    env.advance_to_epoch(env.epoch_now() + 1)
    epoch = env.epoch_now() - 1
    digest = depin.rewards.root_digest(epoch, b"\x01" * 32, 1)
    with pytest.raises(NotAnOracle):
        depin.rewards.submit_root(
            env.users[0], epoch, b"\x01" * 32, 1, eip712.quorum_signatures(env.oracles[:3], digest)
        )
    depin.rewards.submit_root(
        env.users[0], epoch, b"\x01" * 32, 1, eip712.quorum_signatures(new_oracles, digest)
    )
    assert depin.rewards.root() == b"\x01" * 32


def test_step_by_step_life_cycle_and_timelock_wait(env: Env) -> None:
    depin, chain = env.depin, env.chain
    gov = depin.governance
    actions = [set_network_parameter_action(chain, depin.params.address, "uptime", "stake", 1)]
    description = "Cheaper uptime stake"
    pid = gov.propose(env.users[1], actions, description)
    assert gov.state(pid) is ProposalState.PENDING
    with pytest.raises(GovernorUnexpectedProposalState):
        gov.vote(env.users[0], pid)
    chain.mine(gov.voting_delay() + 1)
    assert gov.state(pid) is ProposalState.ACTIVE
    for voter in voters(env):
        gov.vote(voter, pid)
    with pytest.raises(GovernorUnexpectedProposalState):
        gov.queue(env.users[0], actions, description)  # still voting
    chain.mine(gov.voting_period() + 1)
    assert gov.state(pid) is ProposalState.SUCCEEDED
    gov.queue(env.users[0], actions, description)
    assert gov.state(pid) is ProposalState.QUEUED
    with pytest.raises(TimelockUnexpectedOperationState):
        gov.execute(env.users[0], actions, description)  # delay not over
    chain.advance_time(gov.timelock_delay() + 1)
    gov.execute(env.users[2], actions, description)  # anyone executes
    assert depin.params.get_network("uptime", "stake") == 1


def test_a_proposal_without_quorum_is_defeated(env: Env) -> None:
    depin, chain = env.depin, env.chain
    gov = depin.governance
    actions = [set_network_parameter_action(chain, depin.params.address, "uptime", "weight", 1)]
    pid = gov.propose(env.users[0], actions, "No one votes")
    chain.mine(gov.voting_delay() + gov.voting_period() + 2)
    assert gov.state(pid) is ProposalState.DEFEATED
    with pytest.raises(ChainError, match="DEFEATED"):
        gov.enact(env.users[0], [], actions, "No one votes either")


def test_slash_by_governance(env: Env) -> None:
    depin = env.depin
    device = Account.generate()
    depin.registry.onboard(env.users[0], device, "uptime", 0x8A2A1072B59FFFF)
    stake = depin.registry.device(device.address).stake
    action = slash_action(env.chain, depin.registry.address, device.address, stake, REASON)
    env.depin.governance.enact(env.users[0], voters(env), [action], "Slash a cheater")
    assert depin.registry.device(device.address).stake == 0


def test_no_account_but_the_timelock_can_change_a_rule(env: Env) -> None:
    depin, chain = env.depin, env.chain
    fns_params = depin.params.contract.functions
    fns_oracles = depin.oracles.contract.functions
    fns_registry = depin.registry.contract.functions
    fns_token = depin.token.contract.functions
    fns_timelock = depin.governance.timelock.functions
    fns_gov = depin.governance.governor.functions
    minter = chain.call(fns_token.MINTER_ROLE())
    admin = chain.call(fns_token.DEFAULT_ADMIN_ROLE())
    for caller in (env.deployer, env.users[0]):
        me = caller.address
        attempts = [
            (fns_params.set(param_key("epoch.length"), 1), OwnableUnauthorizedAccount),
            (
                fns_params.setMany([network_key("uptime", "split.uptime")], [1]),
                OwnableUnauthorizedAccount,
            ),
            (fns_params.transferOwnership(me), OwnableUnauthorizedAccount),
            (fns_oracles.setOracles([me], 1), OwnableUnauthorizedAccount),
            (fns_oracles.transferOwnership(me), OwnableUnauthorizedAccount),
            (fns_registry.setMaker(b"\x00" * 32, me, True), OwnableUnauthorizedAccount),
            (fns_registry.transferOwnership(me), OwnableUnauthorizedAccount),
            (fns_token.mint(me, 1), AccessControlUnauthorizedAccount),
            (fns_token.grantRole(minter, me), AccessControlUnauthorizedAccount),
            (fns_token.grantRole(admin, me), AccessControlUnauthorizedAccount),
            (
                fns_timelock.schedule(me, 0, b"", b"\x00" * 32, b"\x00" * 32, 10**6),
                AccessControlUnauthorizedAccount,
            ),
            (fns_timelock.updateDelay(0), TimelockUnauthorizedCaller),
            (fns_gov.updateQuorumNumerator(0), GovernorOnlyExecutor),
            (fns_gov.setVotingPeriod(1), GovernorOnlyExecutor),
        ]
        for fn, error in attempts:
            with pytest.raises(error):
                chain.transact(caller, fn)
    timelock = depin.deployment.timelock
    assert depin.params.owner() == timelock
    assert depin.oracles.owner() == timelock
    assert depin.registry.owner() == timelock
    assert depin.token.has_role("DEFAULT_ADMIN_ROLE", timelock)
    assert not depin.token.has_role("DEFAULT_ADMIN_ROLE", env.deployer.address)
    assert depin.token.has_role("MINTER_ROLE", depin.rewards.address)
    assert not depin.token.has_role("MINTER_ROLE", env.deployer.address)
    tl_admin = chain.call(fns_timelock.DEFAULT_ADMIN_ROLE())
    assert not chain.call(fns_timelock.hasRole(tl_admin, env.deployer.address))
    assert chain.call(fns_timelock.hasRole(tl_admin, timelock))  # self-administered
