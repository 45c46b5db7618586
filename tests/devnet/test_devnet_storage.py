"""`depinkit devnet --storage-providers`: a file put and got through the devnet's storage network.

The devnet runs as a subprocess, as a user runs it; once its providers answer, the test runs
the `depinkit store` commands the devnet printed (from `storage/README.txt`) as subprocesses,
then lets the devnet finish and reads the oracles' manifests: a storage provider earned
points in the storage network in the epoch of the put or later.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from devnet_kit import devnet_argv, running_devnet
from test_devnet import last_status, manifests
from typer.testing import CliRunner

from depinkit.chain import params as P
from depinkit.chain.deploy import Deployment
from depinkit.chain.params import EPOCH_GENESIS
from depinkit.cli import app
from depinkit.devnet.network import NETWORK, DeviceView, Snapshot
from depinkit.devnet.storage import STORAGE, storage_network
from depinkit.devnet.view import summary_line
from depinkit.networks.storage.module import StorageModule

EPOCH_S = 30  # the shortest epoch the devnet allows
PROVIDERS = 5  # 3-of-5 erasure coding needs five distinct providers
# Set-up (~40-70 s on two busy cores) is not counted: the duration starts once the devnet is
# up. It covers the put (~15 s), the epoch of the put and the next (the role forwards a deal
# in two consecutive epochs and proves it once per epoch), and that epoch's scoring.
DURATION_S = 120
SETUP_TIMEOUT_S = 150.0  # from start to providers answering /v1/info
STORE_TIMEOUT_S = 60  # one `depinkit store` command
FILE_BYTES = 300_000  # three segments' worth of random bytes


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes], Path]]:
    data, log = tmp_path / "net", tmp_path / "devnet.log"
    argv = devnet_argv(data, epoch_s=EPOCH_S, duration_s=DURATION_S, storage_providers=PROVIDERS)
    with running_devnet(argv, log, tmp_path) as process:
        yield data, process, log


def wait_for_providers(data: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    listing = data / "storage" / "providers.json"
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        if listing.exists() and (data / "storage" / "README.txt").exists():
            providers = json.loads(listing.read_text(encoding="utf-8"))
            assert len(providers) == PROVIDERS
            try:
                answers = [httpx.get(p["url"] + "/v1/info", timeout=2.0) for p in providers]
            except httpx.HTTPError:
                answers = []
            if answers and all(a.status_code == 200 for a in answers):
                for p, a in zip(providers, answers, strict=True):
                    assert a.json()["address"] == p["address"]
                return
        time.sleep(0.5)
    pytest.fail(f"providers not up after {SETUP_TIMEOUT_S:.0f}s:\n{log.read_text()}")


def store(command: str, cwd: Path, **words: str) -> str:
    """Run one printed `depinkit store ...` line with FILE/COPY filled in."""
    argv = shlex.split(command)
    assert argv[:2] == ["depinkit", "store"]
    argv = [words.get(w, w) for w in argv]
    done = subprocess.run(
        [sys.executable, "-m", "depinkit", *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=STORE_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_storage_network_halves_the_emission_over_the_modules_buckets() -> None:
    config = storage_network(EPOCH_S)
    assert config.name == STORAGE and config.weight_bps == P.BPS // 2
    assert set(config.splits) == set(StorageModule.buckets)
    assert sum(config.splits.values()) == P.BPS


def test_a_data_dir_deployed_without_storage_refuses_storage_providers(tmp_path: Path) -> None:
    data = tmp_path / "net"
    data.mkdir()
    Deployment(
        chain_id=31337,
        deployment_block=1,
        deployer="0x" + "11" * 20,
        contracts={},
        parameters={},
        network_parameters={NETWORK: {P.NET_WEIGHT: P.BPS}},
        oracles=[],
        threshold=1,
        governance={},
    ).save(data / "deployment.json")
    argv = ["devnet", "--data-dir", str(data), "--storage-providers", "2", "--no-live"]
    result = CliRunner().invoke(app, [*argv, "--duration", "1"])
    assert result.exit_code == 1
    assert "deployed without the storage network" in " ".join(result.output.split())
    assert not (data / "anvil-state.json").exists(), "refused before anything started"


def test_status_line_counts_storage_providers_apart() -> None:
    def view(index: int, network: str, reward: int) -> DeviceView:
        return DeviceView(index, "0x" + "22" * 20, "0x" + "33" * 20, "-", "active", 4, 0,
                          (3, 2), reward, 0, 0, network)  # fmt: skip

    snapshot = Snapshot(
        chain_id=31337, block=9, epoch=2, seconds_to_next_epoch=5, oracles_up=(True, True),
        agents_up=3, devices=(view(0, NETWORK, 7), view(0, STORAGE, 5), view(1, STORAGE, 6)),
        settled_epoch=1, root="0x", total_cumulative=18, claims_sent=0, providers_up=2,
        providers=2,
    )  # fmt: skip
    status = last_status(summary_line(snapshot))
    assert status["devices_active"] == "1" and status["acked"] == "4"
    assert status["storage_active"] == "2" and status["providers_up"] == "2"
    assert status["storage_stored"] == "6,4" and status["storage_reward"] == "11"


@pytest.mark.slow
@pytest.mark.anvil
def test_devnet_stores_a_file_and_pays_its_providers(
    tmp_path: Path, devnet: tuple[Path, subprocess.Popen[bytes], Path]
) -> None:
    data, process, log = devnet
    wait_for_providers(data, process, log)
    commands = {
        line.split()[2]: line
        for line in (data / "storage" / "README.txt").read_text().splitlines()
        if line.startswith("depinkit store ")
    }
    assert set(commands) == {"put", "ls", "get", "pay"}
    deployment = Deployment.load(data / "deployment.json")
    assert set(deployment.network_parameters) == {"uptime", "storage"}
    genesis = deployment.parameters[EPOCH_GENESIS]

    source = tmp_path / "photo.bin"
    source.write_bytes(bytes(range(256)) * (FILE_BYTES // 256))
    put_epoch = (int(time.time()) - genesis) // EPOCH_S
    file_id = store(commands["put"], tmp_path, FILE=source.name).strip().splitlines()[-1]
    assert len(file_id) == 64
    copy = tmp_path / "copy.bin"
    store(commands["get"], tmp_path, FILE=file_id, COPY=copy.name)
    assert copy.read_bytes() == source.read_bytes()
    assert "receipts" in store(commands["pay"], tmp_path, FILE=file_id)

    assert process.wait(timeout=DURATION_S + 120) == 0, log.read_text()
    output = log.read_text()
    assert "devnet stopped" in output
    status = last_status(output)
    assert int(status["storage_active"]) == PROVIDERS
    providers = {
        p["address"].lower() for p in json.loads((data / "storage/providers.json").read_text())
    }
    earned = [
        (m.epoch, d.device)
        for m in manifests(data, 0)
        if m.epoch >= put_epoch
        for d in m.devices
        if d.device.lower() in providers
        and any(b.network == "storage" and int(b.points) > 0 for b in d.buckets)
    ]
    assert earned, f"no storage provider earned storage points from epoch {put_epoch} on"
