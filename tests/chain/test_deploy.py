"""deploy(): wiring, initial parameters, the manifest round trip."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from chainenv import EPOCH_S, Env

from depinkit.chain import (
    CONTRACT_NAMES,
    Chain,
    Depin,
    DeployConfig,
    Deployment,
    NetworkConfig,
    deploy,
    dev_account,
    network_id,
    network_key,
    param_key,
    verify_deployment,
)
from depinkit.chain.errors import ChainError, ManifestError
from depinkit.core.keys import keccak256


def test_manifest_describes_the_chain(env: Env, tmp_path: Path) -> None:
    deployment = env.depin.deployment
    assert set(deployment.contracts) == set(CONTRACT_NAMES)
    assert deployment.chain_id == env.chain.chain_id
    assert deployment.oracles == [o.address for o in env.oracles]
    assert deployment.threshold == 3
    path = deployment.save(tmp_path / "deploy" / "manifest.json")
    loaded = Deployment.load(path)
    assert loaded == deployment
    verify_deployment(env.chain, loaded)


def test_initial_parameters_on_chain(env: Env) -> None:
    depin = env.depin
    on_chain = depin.params.globals()
    assert on_chain == depin.deployment.parameters
    assert on_chain["epoch.length"] == EPOCH_S
    assert on_chain["epoch.genesis"] <= env.chain.now()
    for name, values in depin.deployment.network_parameters.items():
        for key, value in values.items():
            assert depin.params.get_network(name, key) == value
    block = depin.deployment.deployment_block
    assert depin.params.get("epoch.length", block=block) == 0  # set after the first block
    assert depin.rewards.current_epoch() == env.epoch_now()


def test_key_derivation_matches_the_spec() -> None:
    assert param_key("epoch.length") == keccak256(b"epoch.length")
    assert network_id("uptime") == keccak256(b"uptime")
    assert network_key("uptime", "stake") == keccak256(keccak256(b"uptime") + b"stake")
    assert network_key(network_id("uptime"), "stake") == network_key("uptime", "stake")
    with pytest.raises(ChainError):
        network_key(b"short", "stake")


def test_token_supply_and_roles(env: Env) -> None:
    token = env.depin.token
    assert token.cap() == env.config.cap
    assert token.initial_supply() == env.config.initial_supply
    assert token.total_supply() == env.config.initial_supply
    assert env.depin.rewards.emission_cap() == env.config.cap - env.config.initial_supply


def test_manifest_against_another_chain_is_refused(env: Env) -> None:
    moved = msgspec.structs.replace(env.depin.deployment, chain_id=env.chain.chain_id + 1)
    with pytest.raises(ManifestError, match="chain"):
        verify_deployment(env.chain, moved)
    contracts = dict(env.depin.deployment.contracts, Credits="0x" + "12" * 20)
    with pytest.raises(ManifestError, match="no contract code"):
        verify_deployment(
            env.chain, msgspec.structs.replace(env.depin.deployment, contracts=contracts)
        )


def test_bad_manifests(tmp_path: Path) -> None:
    with pytest.raises(ManifestError):
        Deployment.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"chain_id": "one"}')
    with pytest.raises(ManifestError):
        Deployment.load(bad)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DeployConfig(initial_supply=2, cap=1), "initial supply"),
        (DeployConfig(epoch_length_s=0), "epoch length"),
        (DeployConfig(oracles=("0x" + "11" * 20,), threshold=2), "threshold"),
        (DeployConfig(networks=(NetworkConfig(name="x", splits={"a": 1}),)), "splits"),
        (DeployConfig(networks=(NetworkConfig(name="x", weight_bps=1),)), "weights"),
    ],
)
def test_bad_configs_deploy_nothing(config: DeployConfig, message: str) -> None:
    chain = Chain.tester()
    block = chain.block_number()
    with pytest.raises(ChainError, match=message):
        deploy(chain, dev_account(), config)
    assert chain.block_number() == block


def test_default_deploy_on_plain_web3() -> None:
    """deploy() accepts a bare Web3 too (bench/gas.py uses it that way)."""
    chain = Chain.tester()
    deployment = deploy(chain.w3, dev_account())
    assert deployment.oracles == [dev_account().address]
    assert deployment.threshold == 1
    assert deployment.network_parameters["uptime"]["split.uptime"] == 10_000


def test_network_module_parameters_are_deployed_and_governed() -> None:
    """A network's own parameters (uptime's slot length) start on chain like the rest."""
    chain = Chain.tester()
    config = DeployConfig(networks=(NetworkConfig(name="uptime", parameters={"slot_s": 10}),))
    deployment = deploy(chain, dev_account(), config)
    assert deployment.network_parameters["uptime"]["slot_s"] == 10
    assert Depin(chain, deployment).params.get_network("uptime", "slot_s") == 10
