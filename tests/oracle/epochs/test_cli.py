"""`depinkit oracle settle --once` and `claim` as real processes against real anvil."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from depinkit.chain import TOKEN
from depinkit.core.keys import Account
from depinkit.core.keystore import save_keystore
from depinkit.oracle.epochs import SUBMITTED

from .network import local_network

pytestmark = pytest.mark.anvil

PASSPHRASE = "correct horse"
FAST_SCRYPT_N = 2**4  # tests only: the standard work factor costs a second per unlock
CLAIM_APP = "import typer; from depinkit.cli.claim import claim; typer.run(claim)"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_settle_once_then_claim(tmp_path: Path) -> None:
    with local_network(tmp_path, oracles=1, threshold=1, devices=1) as net:
        net.advance_to(net.epoch_start_s(1))
        oracle = net.oracles[0]
        net.ingest(oracle, [net.heartbeat(net.devices[0], 1, seq=1)])
        net.advance_to(net.epoch_start_s(2) + 15)
        manifest = net.depin.deployment.save(tmp_path / "deployment.json")
        oracle_key = save_keystore(
            oracle.key, tmp_path / "oracle.json", PASSPHRASE, iterations=FAST_SCRYPT_N
        )
        owner = net.owners[0]
        owner_key = save_keystore(
            Account.from_key(bytes(owner.key)),
            tmp_path / "owner.json",
            PASSPHRASE,
            iterations=FAST_SCRYPT_N,
        )
        env = {**os.environ, "DEPINKIT_PASSPHRASE": PASSPHRASE}
        rpc = net.chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
        done = _run(
            [
                sys.executable, "-m", "depinkit", "oracle", "settle",
                "--rpc", rpc, "--manifest", str(manifest), "--db", oracle.db_url,
                "--key-file", str(oracle_key), "--once", "1", "--grace", "5",
            ],
            env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"epoch 1: {SUBMITTED}" in done.stdout
        assert net.depin.rewards.last_epoch() == 1

        before = net.depin.token.balance_of(owner.address)
        claimed = _run(
            [
                sys.executable, "-c", CLAIM_APP,
                "--rpc", rpc, "--manifest", str(manifest), "--oracle", oracle.url,
                "--account", owner.address, "--key-file", str(owner_key),
            ],
            env,
        )  # fmt: skip
        assert claimed.returncode == 0, claimed.stderr
        assert net.depin.token.balance_of(owner.address) - before == 1_600 * TOKEN

        again = _run(
            [
                sys.executable, "-c", CLAIM_APP,
                "--rpc", rpc, "--manifest", str(manifest), "--oracle", oracle.url,
                "--account", owner.address, "--key-file", str(owner_key),
            ],
            env,
        )  # fmt: skip
        assert again.returncode == 1
        assert "nothing to claim" in again.stderr
