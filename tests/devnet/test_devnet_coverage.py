"""`depinkit devnet --hotspots`: hotspots beacon and witness on the simulated radio and earn.

The devnet runs as a subprocess, as a user runs it: the radio medium, five hotspot agents
(three owners) and the oracles. Once it stopped, the test reads the oracles' manifests: in a
settled epoch the hotspots earned coverage rewards for beacons and witnesses, and each one's
``details`` entry gives its asserted hex (as on chain), its HIP-17 scale (1/2 where both
hotspots of a res-8 hex earned, 1 for a lone one), boost and trust, which give its points
back. The fast tests check the placement and the deployed configuration without a devnet.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
from fractions import Fraction
from pathlib import Path

import h3
import pytest
from devnet_kit import devnet_argv
from rich.console import Console
from test_devnet import last_status, manifests
from typer.testing import CliRunner

from depinkit.chain import params as P
from depinkit.chain.anvil import Anvil
from depinkit.chain.depin import Depin
from depinkit.chain.deploy import Deployment
from depinkit.cli import app
from depinkit.devnet.compute import COMPUTE
from depinkit.devnet.coverage import (
    COVERAGE,
    HOTSPOTS_PER_OWNER,
    MAX_HOTSPOTS,
    coverage_network,
    entropy_window_s,
    hotspot_cell,
    owner_index,
)
from depinkit.devnet.layout import Layout
from depinkit.devnet.network import (
    NETWORK,
    DeviceView,
    DevnetError,
    DevnetOptions,
    Snapshot,
    deployed_networks,
)
from depinkit.devnet.storage import STORAGE
from depinkit.devnet.view import render, summary_line
from depinkit.networks.coverage.module import BOOST, HEX, SCALE, TRUST, UNITS, CoverageModule
from depinkit.networks.coverage.parameters import (
    BEACON_INTERVAL_S,
    ENTROPY_WINDOW_S,
    HIP17_DEFAULTS,
    MAX_WITNESS_DISTANCE_M,
    MIN_WITNESS_DISTANCE_CELLS,
    PARAMETERS,
)
from depinkit.networks.coverage.rewards import hex_scales
from depinkit.networks.coverage.score import COVERAGE as COVERAGE_BUCKET
from depinkit.networks.coverage.score import POINTS_PER_UNIT

EPOCH_S = 30  # the shortest epoch the devnet allows
HOTSPOTS = 5  # two pairs sharing a res-8 hex each, and one alone; three owners
# Set-up (~40-70 s on two busy cores) is not counted: the duration starts once the devnet is
# up, so it holds the rest of the first epoch, one whole epoch and that epoch's settlement.
DURATION_S = 80
DEFAULTS = {spec.name: spec.default for spec in PARAMETERS}


def test_hotspots_are_far_enough_apart_yet_in_range_and_paired_across_owners() -> None:
    cells = [hotspot_cell(i) for i in range(MAX_HOTSPOTS)]
    assert len(set(cells)) == MAX_HOTSPOTS and all(h3.get_resolution(c) == 11 for c in cells)
    distances = [h3.grid_distance(a, b) for a, b in itertools.combinations(cells, 2)]
    assert min(distances) >= DEFAULTS[MIN_WITNESS_DISTANCE_CELLS] + 2
    # res-11 cells are ~50 m apart: the farthest pair is well inside the maximum distance
    assert max(distances) * 50 < DEFAULTS[MAX_WITNESS_DISTANCE_M] // 10
    by_hex: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        by_hex.setdefault(h3.cell_to_parent(cell, 8), []).append(index)
    assert sorted(map(len, by_hex.values())) == [2] * (MAX_HOTSPOTS // 2)
    for first, second in by_hex.values():
        assert owner_index(first) != owner_index(second), "partners witness each other"
    owners = [owner_index(i) for i in range(MAX_HOTSPOTS)]
    assert max(owners.count(o) for o in owners) == HOTSPOTS_PER_OWNER
    assert [hotspot_cell(i) for i in range(3)] == cells[:3], "more hotspots move none"


def test_pairs_share_a_res8_hex_so_hip17_halves_them() -> None:
    table = HIP17_DEFAULTS
    cells = [h3.str_to_int(hotspot_cell(i)) for i in range(HOTSPOTS)]
    scales = hex_scales(cells, table)
    assert [scales[c] for c in cells] == [Fraction(1, 2)] * 4 + [Fraction(1)]


def test_the_coverage_network_beacons_every_epoch_with_every_parameter_written() -> None:
    config = coverage_network(EPOCH_S, 2_500)
    assert config.name == COVERAGE and config.weight_bps == 2_500
    assert set(config.splits) == set(CoverageModule.buckets)
    assert sum(config.splits.values()) == P.BPS
    # an unset key reads as 0 on chain: every module parameter is explicit
    assert set(config.parameters) == {spec.name for spec in CoverageModule.parameters}
    assert config.parameters[BEACON_INTERVAL_S] == EPOCH_S  # one beacon slot per epoch
    assert config.parameters[ENTROPY_WINDOW_S] == entropy_window_s(EPOCH_S) == EPOCH_S // 3
    for name, value in config.parameters.items():
        if name not in (BEACON_INTERVAL_S, ENTROPY_WINDOW_S):
            assert value == DEFAULTS[name], name
    every = deployed_networks(
        DevnetOptions(Path("x"), storage_providers=1, compute_providers=1, hotspots=3)
    )
    assert [n.name for n in every] == [NETWORK, STORAGE, COMPUTE, COVERAGE]
    assert sum(n.weight_bps for n in every) == P.BPS
    assert {n.weight_bps for n in every} == {P.BPS // 4}
    alone = deployed_networks(DevnetOptions(Path("x"), hotspots=2))
    assert [(n.name, n.weight_bps) for n in alone] == [(NETWORK, P.BPS // 2), (COVERAGE, 5_000)]


@pytest.mark.parametrize("count", [-1, MAX_HOTSPOTS + 1])
def test_a_hotspot_count_out_of_range_is_refused(count: int) -> None:
    with pytest.raises(DevnetError, match="--hotspots"):
        DevnetOptions(Path("x"), hotspots=count).check()


def test_a_data_dir_deployed_without_coverage_refuses_hotspots(tmp_path: Path) -> None:
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
    argv = ["devnet", "--data-dir", str(data), "--hotspots", "3", "--no-live"]
    result = CliRunner().invoke(app, [*argv, "--duration", "1"])
    assert result.exit_code == 1
    assert "deployed without the coverage network" in " ".join(result.output.split())
    assert not (data / "anvil-state.json").exists(), "refused before anything started"


def test_table_and_status_line_count_hotspots() -> None:
    def view(index: int, network: str, reward: int) -> DeviceView:
        return DeviceView(index, "0x" + "22" * 20, "0x" + "33" * 20, hotspot_cell(index),
                          "active", 4, 0, (3, 2), reward, 0, 0, network)  # fmt: skip

    snapshot = Snapshot(
        chain_id=31337, block=9, epoch=2, seconds_to_next_epoch=5, oracles_up=(True, True),
        agents_up=3, devices=(view(0, NETWORK, 7), view(0, COVERAGE, 5), view(1, COVERAGE, 6)),
        settled_epoch=1, root="0x", total_cumulative=18, claims_sent=0, hotspots_up=1,
        hotspots=2,
    )  # fmt: skip
    status = last_status(summary_line(snapshot))
    assert status["devices_active"] == "1" and status["acked"] == "4"
    assert status["coverage_active"] == "2" and status["hotspots_up"] == "1"
    assert status["coverage_stored"] == "6,4" and status["coverage_reward"] == "11"
    console = Console(width=200, record=True)
    console.print(render(snapshot))
    text = console.export_text()
    assert "hotspots 1/2 up" in text and hotspot_cell(1) in text
    assert "medium down" not in text and status["medium_up"] == "1"
    down = dataclasses.replace(snapshot, medium_up=False)
    assert last_status(summary_line(down))["medium_up"] == "0"
    console.print(render(down))
    assert "radio medium down" in console.export_text()


@pytest.mark.slow
@pytest.mark.anvil
def test_devnet_hotspots_beacon_witness_and_earn_per_hex(tmp_path: Path) -> None:
    data = tmp_path / "net"
    argv = devnet_argv(data, epoch_s=EPOCH_S, duration_s=DURATION_S, hotspots=HOTSPOTS)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=DURATION_S + 300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "devnet stopped" in done.stdout
    status = last_status(done.stdout)
    assert status["hotspots_up"] == str(HOTSPOTS) and status["coverage_active"] == str(HOTSPOTS)

    deployment = Deployment.load(data / "deployment.json")
    assert set(deployment.network_parameters) == {NETWORK, COVERAGE}
    deployed = deployment.network_parameters[COVERAGE]
    assert deployed[BEACON_INTERVAL_S] == EPOCH_S and deployed[ENTROPY_WINDOW_S] == EPOCH_S // 3

    hotspots = json.loads((data / COVERAGE / "hotspots.json").read_text(encoding="utf-8"))
    assert [h["cell"] for h in hotspots] == [hotspot_cell(i) for i in range(HOTSPOTS)]
    assert len({h["owner"] for h in hotspots}) == 3
    cells = {h["address"].lower(): h["cell"] for h in hotspots}
    with Anvil(state=Layout(data).anvil_state) as anvil:  # the cells the chain holds
        depin = Depin.connect(anvil.url, Layout(data).manifest)
        for h in hotspots:
            assert h3.int_to_str(depin.registry.device(h["address"]).h3_cell) == h["cell"]
    by_hex: dict[str, list[str]] = {}
    for address, cell in cells.items():
        by_hex.setdefault(h3.cell_to_parent(cell, 8), []).append(address)
    partner = {
        a: b for group in by_hex.values() if len(group) == 2 for a, b in (group, group[::-1])
    }

    earned: dict[int, set[str]] = {}
    same_owner_rejected = False
    for manifest in manifests(data, 0):
        details = {d.device: d.values for d in manifest.details if d.network == COVERAGE}
        for entry in manifest.devices:
            if entry.device not in cells:
                continue
            same_owner_rejected |= any(r.reason == "same_owner" for r in entry.rejections)
            points = [
                b.points
                for b in entry.buckets
                if (b.network, b.bucket) == (COVERAGE, COVERAGE_BUCKET)
            ]
            if not points or points[0] == 0:
                assert entry.device not in details
                continue
            assert int(entry.reward) > 0 and entry.accepted >= 2  # a beacon and a witness
            earned.setdefault(manifest.epoch, set()).add(entry.device)
            values = details[entry.device]
            assert set(values) == {HEX, SCALE, BOOST, TRUST, UNITS}
            assert values[HEX] == cells[entry.device], "the asserted cell"
            paired = partner.get(entry.device) in details
            assert values[SCALE] == ("1/2" if paired else "1"), (manifest.epoch, values)
            assert values[BOOST] == "1" and values[TRUST] == "1"
            units = Fraction(values[UNITS])
            assert units > 1, "a beacon heard by others, and witnesses of theirs"
            product = POINTS_PER_UNIT * units * Fraction(values[SCALE])
            assert points[0] == product.numerator // product.denominator
        assert set(details) <= cells.keys()
    assert earned, f"no hotspot earned coverage rewards:\n{done.stdout}"
    best = max(earned.values(), key=len)
    assert len(best) >= HOTSPOTS - 1, f"one settled epoch rewards (nearly) every hotspot: {earned}"
    assert set().union(*earned.values()) == set(cells), "every hotspot earned at least once"
    assert same_owner_rejected, "one owner's hotspots hear each other, and never count"
