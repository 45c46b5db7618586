"""`depinkit devnet --compute-providers`: a frame rendered on the devnet's compute network.

The devnet runs as a subprocess, as a user runs it; once its providers answer, the test runs
the `depinkit compute run` command the devnet printed (from `compute/README.txt`) as a
subprocess, two providers and verification on, and compares the frame with one rendered in
this process. Then it lets the devnet finish and reads the oracles' manifests: a compute
provider earned points in the compute network.
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
from depinkit.cli import app
from depinkit.devnet.compute import (
    COMPUTE,
    EXAMPLE_ARGS,
    EXAMPLE_MODULE,
    compute_network,
)
from depinkit.devnet.network import NETWORK, DeviceView, DevnetOptions, Snapshot, deployed_networks
from depinkit.devnet.storage import STORAGE
from depinkit.devnet.view import summary_line
from depinkit.networks.compute.jobs import Job, JobLimits
from depinkit.networks.compute.module import ComputeModule
from depinkit.networks.compute.parameters import AVAILABILITY_SLOT_S
from depinkit.networks.compute.runner import Runner

EPOCH_S = 30  # the shortest epoch the devnet allows
PROVIDERS = 2  # verification re-runs a new provider's job on another one
# Set-up (~40-70 s on two busy cores) is not counted: the duration starts once the devnet is
# up. It covers the run (~15 s), offers in at least one whole epoch and that epoch's scoring.
DURATION_S = 90
SETUP_TIMEOUT_S = 150.0  # from start to providers answering /v1/info
RUN_TIMEOUT_S = 120  # the `depinkit compute run` command (two renders of one frame)


@pytest.fixture
def devnet(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes], Path]]:
    data, log = tmp_path / "net", tmp_path / "devnet.log"
    argv = devnet_argv(data, epoch_s=EPOCH_S, duration_s=DURATION_S, compute_providers=PROVIDERS)
    with running_devnet(argv, log, tmp_path) as process:
        yield data, process, log


def wait_for_providers(data: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    listing = data / "compute" / "providers.json"
    deadline = time.monotonic() + SETUP_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        if listing.exists() and (data / "compute" / "README.txt").exists():
            providers = json.loads(listing.read_text(encoding="utf-8"))
            assert len(providers) == PROVIDERS
            try:
                answers = [httpx.get(p["url"] + "/v1/info", timeout=2.0) for p in providers]
            except httpx.HTTPError:
                answers = []
            if answers and all(a.status_code == 200 for a in answers):
                for p, a in zip(providers, answers, strict=True):
                    assert a.json()["provider"] == p["address"]
                return
        time.sleep(0.5)
    pytest.fail(f"providers not up after {SETUP_TIMEOUT_S:.0f}s:\n{log.read_text()}")


def direct_frame() -> dict[str, bytes]:
    """The frame rendered in this process: what the network must reproduce byte for byte."""
    limits = JobLimits(
        fuel=10**10, memory_bytes=256 * 1024 * 1024, wall_ms=120_000, output_bytes=64 * 1024 * 1024
    )
    job = Job(
        module=EXAMPLE_MODULE.read_bytes(),
        args=["render", *EXAMPLE_ARGS],
        inputs={},
        limits=limits,
    )
    return dict(Runner().execute(job).outputs)


def test_networks_split_the_emission_evenly() -> None:
    config = compute_network(EPOCH_S, P.BPS // 2)
    assert config.name == COMPUTE and config.weight_bps == P.BPS // 2
    assert set(config.splits) == set(ComputeModule.buckets)
    assert sum(config.splits.values()) == P.BPS
    # every module parameter explicit: an unset key reads as 0 on chain
    assert set(config.parameters) == {spec.name for spec in ComputeModule.parameters}
    assert config.parameters[AVAILABILITY_SLOT_S] == EPOCH_S // 3
    both = deployed_networks(DevnetOptions(Path("x"), storage_providers=5, compute_providers=2))
    assert [n.name for n in both] == [NETWORK, STORAGE, COMPUTE]
    assert sum(n.weight_bps for n in both) == P.BPS
    assert max(n.weight_bps for n in both) - min(n.weight_bps for n in both) <= 1
    alone = deployed_networks(DevnetOptions(Path("x")))
    assert [(n.name, n.weight_bps) for n in alone] == [(NETWORK, P.BPS)]


def test_a_data_dir_deployed_without_compute_refuses_compute_providers(tmp_path: Path) -> None:
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
    argv = ["devnet", "--data-dir", str(data), "--compute-providers", "2", "--no-live"]
    result = CliRunner().invoke(app, [*argv, "--duration", "1"])
    assert result.exit_code == 1
    assert "deployed without the compute network" in " ".join(result.output.split())
    assert not (data / "anvil-state.json").exists(), "refused before anything started"


def test_status_line_counts_compute_providers_apart() -> None:
    def view(index: int, network: str, reward: int) -> DeviceView:
        return DeviceView(index, "0x" + "22" * 20, "0x" + "33" * 20, "-", "active", 4, 0,
                          (3, 2), reward, 0, 0, network)  # fmt: skip

    snapshot = Snapshot(
        chain_id=31337, block=9, epoch=2, seconds_to_next_epoch=5, oracles_up=(True, True),
        agents_up=4, devices=(view(0, NETWORK, 7), view(0, STORAGE, 5), view(0, COMPUTE, 6),
                              view(1, COMPUTE, 8)),
        settled_epoch=1, root="0x", total_cumulative=26, claims_sent=0, providers_up=1,
        providers=1, compute_up=2, compute=2,
    )  # fmt: skip
    status = last_status(summary_line(snapshot))
    assert status["devices_active"] == "1" and status["acked"] == "4"
    assert status["storage_active"] == "1" and status["storage_reward"] == "5"
    assert status["compute_active"] == "2" and status["compute_up"] == "2"
    assert status["compute_stored"] == "6,4" and status["compute_reward"] == "14"


@pytest.mark.slow
@pytest.mark.anvil
def test_devnet_renders_a_frame_and_pays_its_providers(
    tmp_path: Path, devnet: tuple[Path, subprocess.Popen[bytes], Path]
) -> None:
    data, process, log = devnet
    wait_for_providers(data, process, log)
    commands = [
        line
        for line in (data / "compute" / "README.txt").read_text().splitlines()
        if line.startswith("depinkit compute run ")
    ]
    assert len(commands) == 1
    deployment = Deployment.load(data / "deployment.json")
    assert set(deployment.network_parameters) == {NETWORK, COMPUTE}

    argv = shlex.split(commands[0])
    assert argv.count("--provider") == PROVIDERS and "--verify-ppm" not in argv
    done = subprocess.run(
        [sys.executable, "-m", "depinkit", *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified by a re-run" in done.stderr, done.stderr
    frames = tmp_path / "frames"
    assert {p.name: p.read_bytes() for p in frames.iterdir()} == direct_frame()

    assert process.wait(timeout=DURATION_S + 120) == 0, log.read_text()
    output = log.read_text()
    assert "devnet stopped" in output
    status = last_status(output)
    assert int(status["compute_active"]) == PROVIDERS
    providers = {
        p["address"].lower() for p in json.loads((data / "compute/providers.json").read_text())
    }
    earned = {
        d.device.lower()
        for m in manifests(data, 0)
        for d in m.devices
        if d.device.lower() in providers
        and any(b.network == COMPUTE and int(b.points) > 0 for b in d.buckets)
    }
    assert earned, "no compute provider earned points in the compute network"
    available = {
        d.device.lower()
        for m in manifests(data, 0)
        for d in m.devices
        if any(b.network == COMPUTE and b.bucket == "availability" for b in d.buckets)
    }
    assert available == providers, "both providers' offers counted as availability"
