"""What `depinkit devnet` runs by default: every network, except on a devnet deployed without it."""

from __future__ import annotations

from pathlib import Path

from depinkit.chain import params as P
from depinkit.chain.deploy import Deployment
from depinkit.devnet import defaults
from depinkit.devnet.network import NETWORK, fleet_sizes
from depinkit.devnet.storage import STORAGE

EVERY_DEFAULT = (defaults.STORAGE_PROVIDERS, defaults.COMPUTE_PROVIDERS, defaults.HOTSPOTS)


def _deployed(data: Path, networks: list[str]) -> None:
    data.mkdir()
    Deployment(
        chain_id=31337,
        deployment_block=1,
        deployer="0x" + "11" * 20,
        contracts={},
        parameters={},
        network_parameters={n: {P.NET_WEIGHT: 1} for n in networks},
        oracles=[],
        threshold=1,
        governance={},
    ).save(data / "deployment.json")


def test_a_new_devnet_runs_every_network(tmp_path: Path) -> None:
    assert fleet_sizes(tmp_path / "new", None, None, None) == EVERY_DEFAULT
    assert all(size > 0 for size in EVERY_DEFAULT)


def test_a_resumed_devnet_runs_the_networks_it_was_deployed_with(tmp_path: Path) -> None:
    _deployed(tmp_path / "net", [NETWORK, STORAGE])
    assert fleet_sizes(tmp_path / "net", None, None, None) == (defaults.STORAGE_PROVIDERS, 0, 0)


def test_sizes_given_are_kept_as_given(tmp_path: Path) -> None:
    _deployed(tmp_path / "net", [NETWORK])
    assert fleet_sizes(tmp_path / "net", 2, 0, 3) == (2, 0, 3)  # the start refuses 2 and 3
    assert fleet_sizes(tmp_path / "new", 0, 1, 0) == (0, 1, 0)
