"""`depinkit agent init --rpc ...` onboards the device on a real anvil chain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depinkit.chain import Anvil, Chain, Depin, deploy, dev_account
from depinkit.chain.registry import DeviceStatus
from depinkit.cli.agent import app
from depinkit.core.keys import Account, save_keystore

runner = CliRunner()
OWNER_PASSPHRASE = "owner passphrase"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    with Anvil() as node:
        manifest = tmp_path_factory.mktemp("chain") / "deployment.json"
        deploy(Chain.connect(node.url), dev_account()).save(manifest)
        yield node.url, manifest


def owner_keystore(tmp_path: Path) -> tuple[str, Path]:
    owner = Account.from_key(bytes(dev_account().key))  # the deployer holds the stake tokens
    path = tmp_path / "owner.json"
    save_keystore(owner, path, OWNER_PASSPHRASE, iterations=1024)
    return owner.address, path


@pytest.mark.anvil
def test_init_onboards_on_chain(tmp_path: Path, deployed: tuple[str, Path]) -> None:
    rpc, manifest = deployed
    owner, key = owner_keystore(tmp_path)
    result = runner.invoke(
        app,
        [
            "init", "--data-dir", str(tmp_path / "dev"),
            "--oracle", "a=http://127.0.0.1:9",
            "--owner", owner, "--h3-cell", "8928308280fffff",
            "--rpc", rpc, "--manifest", str(manifest), "--owner-key", str(key),
            "--scrypt-n", "1024",
        ],
        env={"DEPINKIT_OWNER_PASSPHRASE": OWNER_PASSPHRASE},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "onboarded on chain" in result.output
    device = result.output.split("device ")[1].split()[0]
    depin = Depin.connect(rpc, manifest)
    record = depin.registry.device(device)
    assert record.status == DeviceStatus.ACTIVE and record.owner == owner
    assert record.h3_cell == 0x8928308280FFFFF
    config_text = (tmp_path / "dev" / "agent.toml").read_text()
    assert f"chain_id = {depin.chain.chain_id}" in config_text
    assert depin.deployment.registry in config_text


@pytest.mark.anvil
def test_init_on_chain_refuses_a_wrong_owner_key(
    tmp_path: Path, deployed: tuple[str, Path]
) -> None:
    rpc, manifest = deployed
    _, key = owner_keystore(tmp_path)
    result = runner.invoke(
        app,
        [
            "init", "--data-dir", str(tmp_path / "dev"),
            "--oracle", "a=http://127.0.0.1:9",
            "--owner", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "--h3-cell", "8928308280fffff",
            "--rpc", rpc, "--manifest", str(manifest), "--owner-key", str(key),
        ],
        env={"DEPINKIT_OWNER_PASSPHRASE": OWNER_PASSPHRASE},
    )  # fmt: skip
    assert result.exit_code == 1 and "not --owner" in result.output
    assert not (tmp_path / "dev").exists()


def test_init_on_chain_needs_all_three_options(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "init", "--data-dir", str(tmp_path / "dev"), "--oracle", "a=http://127.0.0.1:9",
            "--owner", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "--h3-cell", "8928308280fffff", "--rpc", "http://127.0.0.1:9",
        ],
    )  # fmt: skip
    assert result.exit_code == 1 and "together" in result.output
