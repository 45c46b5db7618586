"""`depinkit chain deploy` and `depinkit chain info` against a real anvil."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depinkit.chain import Anvil, Deployment
from depinkit.cli import app

pytestmark = pytest.mark.anvil


def test_deploy_then_info(anvil_node: Anvil, tmp_path: Path) -> None:
    runner = CliRunner()
    manifest = tmp_path / "deployment.json"
    oracle = "0x" + "11" * 20
    result = runner.invoke(
        app,
        [
            "chain",
            "deploy",
            "--rpc",
            anvil_node.url,
            "--manifest",
            str(manifest),
            "--oracle",
            oracle,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    deployment = Deployment.load(manifest)
    assert deployment.oracles == ["0x1111111111111111111111111111111111111111"]
    assert json.loads(result.output)["DepinToken"] == deployment.token

    again = runner.invoke(
        app, ["chain", "deploy", "--rpc", anvil_node.url, "--manifest", str(manifest)]
    )
    assert again.exit_code == 1
    assert "exists" in again.output

    shown = runner.invoke(
        app, ["chain", "info", "--rpc", anvil_node.url, "--manifest", str(manifest), "--json"]
    )
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert rows["threshold"] == 1
    assert rows["latest root"] == "none"
    assert rows["epoch.length"] == 60


def test_info_with_a_missing_manifest_fails_cleanly(anvil_node: Anvil, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["chain", "info", "--rpc", anvil_node.url, "--manifest", str(tmp_path / "none.json")]
    )
    assert result.exit_code == 1
    assert "cannot read manifest" in result.output


def test_deploy_with_a_keystore(
    anvil_node: Anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from depinkit.chain import Chain
    from depinkit.core.keys import Account
    from depinkit.core.keystore import save_keystore

    deployer = Account.generate()
    key_file = save_keystore(deployer, tmp_path / "deployer.json", "pw", iterations=2**4)
    Chain.connect(anvil_node.url).fund(deployer.address, 10**19)
    manifest = tmp_path / "m.json"
    runner = CliRunner()
    monkeypatch.setenv("DEPINKIT_PASSPHRASE", "wrong")
    failed = runner.invoke(
        app,
        [
            "chain",
            "deploy",
            "--rpc",
            anvil_node.url,
            "--manifest",
            str(manifest),
            "--key-file",
            str(key_file),
        ],
    )
    assert failed.exit_code == 1
    assert not manifest.exists()
    monkeypatch.setenv("DEPINKIT_PASSPHRASE", "pw")
    result = runner.invoke(
        app,
        [
            "chain",
            "deploy",
            "--rpc",
            anvil_node.url,
            "--manifest",
            str(manifest),
            "--key-file",
            str(key_file),
            "--epoch-length",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    deployment = Deployment.load(manifest)
    assert deployment.deployer == deployer.address
    assert deployment.parameters["epoch.length"] == 30
