"""Governance reaches the rewards: a passed proposal halving the uptime network's weight.

The proposal goes the whole way on a real anvil (propose, vote, queue, the timelock's wait,
execute through DepinGovernor and its TimelockController). The epoch pipeline reads the
parameters at each epoch's start block, so every epoch that began before the execution
keeps the full weight even when it is scored afterwards, and the first epoch that began
after it pays half the pool and carries the other half, as its manifest shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from depinkit.chain import ProposalState, dev_account, set_network_parameter_action
from depinkit.oracle.epochs import COLLECTED, SUBMITTED, ChainInputs, EpochPipeline
from depinkit.oracle.rewards import RewardManifest, decode_manifest

from .network import EPOCH_S, Net, Oracle, local_network

pytestmark = pytest.mark.anvil

FULL_BPS: Final[int] = 10_000  # uptime's weight at deployment: the whole pool
HALF_BPS: Final[int] = 5_000  # the weight the proposal sets


def _manifest(oracle: Oracle, epoch: int) -> RewardManifest:
    stored = oracle.epochs.manifest(epoch)
    assert stored is not None
    return decode_manifest(stored[1])


def _uptime_share(manifest: RewardManifest) -> tuple[int, int]:
    """(share, paid) of the uptime network in ``manifest``."""
    (uptime,) = [n for n in manifest.networks if n.network == "uptime"]
    return int(uptime.share), int(uptime.paid)


def _heartbeats(net: Net, oracle: Oracle, epoch: int) -> None:
    """Both devices online in ``epoch`` (equal points: the pool divides without remainder)."""
    net.ingest(oracle, [net.heartbeat(d, epoch, seq=epoch) for d in net.devices])


def _settle(net: Net, pipeline: EpochPipeline, through: int) -> None:
    net.advance_to(net.epoch_start_s(through + 1) + 2)
    net.set_pipeline_clocks()
    pipeline.run_once()
    assert all(pipeline.state(e) == SUBMITTED for e in range(through + 1))


def test_a_passed_weight_proposal_changes_the_next_epochs_allocation(tmp_path: Path) -> None:
    with local_network(tmp_path, oracles=1, threshold=1, devices=2) as net:
        depin, chain = net.depin, net.chain
        deployer = dev_account()  # holds the genesis supply: enough for the 4 % quorum
        depin.token.delegate(deployer)
        (oracle,) = net.oracles
        pipeline = net.pipeline(oracle)

        net.advance_to(net.epoch_start_s(1))
        _heartbeats(net, oracle, 1)
        _settle(net, pipeline, through=1)  # also opens epoch 2: its start block is fixed
        assert pipeline.state(2) == COLLECTED
        _heartbeats(net, oracle, 2)

        action = set_network_parameter_action(
            chain, depin.params.address, "uptime", "weight", HALF_BPS
        )
        gov = depin.governance
        pid = gov.enact(deployer, [deployer], [action], "Halve the uptime network's weight")
        assert gov.state(pid) is ProposalState.EXECUTED
        executed_block = chain.block_number()  # enact's last transaction is the execution
        assert depin.params.get_network("uptime", "weight") == HALF_BPS
        assert depin.params.get_network("uptime", "weight", block=executed_block - 1) == FULL_BPS
        # The timelock's wait moved the chain on: the execution lands in a later epoch, whose
        # start block (like epoch 2's) came before it. The next epoch is the first after it.
        executed_in = (chain.now() - net.genesis) // EPOCH_S
        assert executed_in >= 2
        inputs = ChainInputs(depin, net.networks)
        executed_in_start, _ = inputs.start_block(inputs.epoch_clock(), executed_in)
        # Parameters are read after the start block's transactions: in the rare run where the
        # execution is the first block of its epoch, that epoch is already the first new one.
        first_new = executed_in if executed_in_start == executed_block else executed_in + 1
        for epoch in range(3, first_new):
            _heartbeats(net, oracle, epoch)
        net.advance_to(net.epoch_start_s(first_new))
        _heartbeats(net, oracle, first_new)
        _settle(net, pipeline, through=first_new)

        manifests = {e: _manifest(oracle, e) for e in range(1, first_new + 1)}
        rows = {e: oracle.epochs.get(e) for e in range(1, first_new + 1)}
        for epoch, manifest in manifests.items():
            row = rows[epoch]
            assert row is not None
            pool = int(manifest.emission) + int(manifest.carry_in)
            share, paid = _uptime_share(manifest)
            assert int(manifest.paid) + int(manifest.carry_out) == pool  # nothing lost
            if epoch < first_new:
                # Began before the execution (scored after it from epoch 2 on): old weight.
                assert row.start_block < executed_block
                assert manifest.parameters.weights == {"uptime": FULL_BPS}
                assert share == paid == pool and int(manifest.carry_out) == 0
            else:
                assert row.start_block >= executed_block
                assert manifest.parameters.weights == {"uptime": HALF_BPS}
                assert share == paid == pool * HALF_BPS // FULL_BPS
                assert int(manifest.carry_out) == pool - share

        before, after = manifests[first_new - 1], manifests[first_new]
        assert int(before.emission) == int(after.emission)
        assert int(after.carry_in) == int(before.carry_out) == 0
        old_share, _ = _uptime_share(before)
        new_share, _ = _uptime_share(after)
        assert new_share * 2 == old_share  # half the emission goes out ...
        assert int(after.carry_out) == old_share - new_share  # ... the other half is carried
        rewards_before = {d.device: int(d.reward) for d in before.devices}
        rewards_after = {d.device: int(d.reward) for d in after.devices}
        assert rewards_before.keys() == rewards_after.keys() and len(rewards_after) == 2
        assert all(rewards_after[d] * 2 == rewards_before[d] for d in rewards_before)
        assert depin.rewards.root() == rows[first_new].root  # type: ignore[union-attr]
