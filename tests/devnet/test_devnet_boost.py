"""A boosted hex pays more, end to end with real processes.

The devnet runs anvil, an oracle and four hotspot agents on the simulated radio medium (two
pairs, each pair in one res-8 hex). While it runs, a consumer buys a x10 boost of the first
pair's hex with `depinkit coverage boost` (HexBoosts burns its DPK). From the boost's first
epoch on, the oracle's manifests show that pair's hotspots with boost 10, their points ten
times units x scale, and rewards above the other pair's; before it, everybody has boost 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Final

import h3
import pytest
from devnet_kit import devnet_argv
from test_devnet import manifests

from depinkit.chain import dev_account
from depinkit.devnet.layout import Layout

HOTSPOTS: Final[int] = 4  # hotspots 0 and 2 share a res-8 hex, 1 and 3 another
EPOCH_S: Final[int] = 30
DURATION_S: Final[int] = 170
MULTIPLIER: Final[int] = 10  # the coverage network's max_boost: the clearest difference
POINTS_PER_UNIT: Final[int] = 1_000_000
WAIT_S: Final[float] = 120.0


def _anvil_url(state: Path, devnet: subprocess.Popen[str]) -> str:
    """The RPC URL of the anvil the devnet started on ``state`` (read from its command line)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and devnet.poll() is None:
        for proc in Path("/proc").iterdir():
            try:
                args = (proc / "cmdline").read_bytes().decode().split("\0")
            except (OSError, UnicodeDecodeError):
                continue
            if "--state" in args and str(state) in args and "--port" in args:
                return f"http://127.0.0.1:{args[args.index('--port') + 1]}"
        time.sleep(0.5)
    raise AssertionError("the devnet's anvil did not start")


def _wait_for(path: Path, devnet: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        assert devnet.poll() is None and time.monotonic() < deadline, f"no {path.name}"
        time.sleep(0.5)


@pytest.mark.slow
@pytest.mark.anvil
def test_a_boost_bought_on_the_devnet_multiplies_that_hexs_rewards(tmp_path: Path) -> None:
    data = tmp_path / "net"
    layout = Layout(data)
    argv = devnet_argv(
        data, epoch_s=EPOCH_S, duration_s=DURATION_S, oracles=1, threshold=1, hotspots=HOTSPOTS
    )
    devnet = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = _anvil_url(layout.anvil_state, devnet)
        listed = data / "coverage" / "hotspots.json"
        _wait_for(listed, devnet)
        _wait_for(layout.manifest, devnet)
        hotspots = json.loads(listed.read_text(encoding="utf-8"))
        hexagon = h3.cell_to_parent(hotspots[0]["cell"], 8)
        key = tmp_path / "consumer.hex"
        key.write_text(dev_account().key.hex() + "\n")  # the devnet's deployer holds the DPK
        command = [
            sys.executable, "-m", "depinkit", "coverage", "boost",
            "--rpc", url, "--deployment", str(layout.manifest), "--key-file", str(key),
            "--hex", hexagon, "--multiplier", str(MULTIPLIER), "--epochs", "1000", "--json",
        ]  # fmt: skip
        bought = subprocess.run(command, capture_output=True, text=True, timeout=WAIT_S)
        assert bought.returncode == 0, bought.stderr
        first = json.loads(bought.stdout)["first_epoch"]
        out, _ = devnet.communicate(timeout=DURATION_S + 300)
    finally:
        if devnet.poll() is None:
            devnet.terminate()
            devnet.wait(timeout=60)
    assert devnet.returncode == 0, out
    assert "devnet stopped" in out

    cells = {h["address"].lower(): h["cell"] for h in hotspots}
    boosted = {a for a, c in cells.items() if h3.cell_to_parent(c, 8) == hexagon}
    assert len(boosted) == 2
    seen_boosted_epoch = False
    for manifest in manifests(data, 0):
        details = {d.device: d.values for d in manifest.details if d.network == "coverage"}
        if not details:
            continue
        rewards = {d.device: int(d.reward) for d in manifest.devices}
        for device, values in details.items():
            multiplier = MULTIPLIER if manifest.epoch >= first and device in boosted else 1
            assert values["boost"] == str(multiplier), (manifest.epoch, device, values)
            (entry,) = [d for d in manifest.devices if d.device == device]
            points = sum(int(b.points) for b in entry.buckets if b.bucket == "coverage")
            product = POINTS_PER_UNIT * Fraction(values["units"]) * Fraction(values["scale"])
            assert points == (product * multiplier).numerator // (product * multiplier).denominator
        if manifest.epoch >= first and set(details) == set(cells):
            seen_boosted_epoch = True
            low = max(rewards[d] for d in cells if d not in boosted)
            assert all(rewards[d] > low for d in boosted), (manifest.epoch, rewards)
    assert seen_boosted_epoch, f"no settled epoch with the boost and every hotspot:\n{out}"
