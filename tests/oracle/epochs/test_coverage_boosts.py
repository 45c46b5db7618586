"""Boosted hexes and the governance denylist reach the coverage rewards, on a real chain.

Three groups of coverage hotspots far apart (Paris, Lyon, Marseille), each a beaconer and
its witnesses, report through a real oracle (HTTP ingest, SQLite, epoch pipeline on anvil).
Between two epochs a consumer buys a x3 boost of the Paris res-5 hex on HexBoosts (burning
DPK) and governance denies the Marseille witness; the epoch pipeline reads both at the next
epoch's start block. In that epoch each Paris hotspot earns three times the points of its
identical Lyon twin and the denied witness is rejected as ``denylisted``. The epoch after,
the one-epoch boost has expired and governance has lifted the denial: twins earn alike and
the witness is paid again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Final

import h3.api.basic_int as h3
import msgspec
import pytest
from eth_account import Account as EthAccount
from eth_utils import to_checksum_address

from depinkit.chain import (
    TOKEN,
    Anvil,
    Chain,
    Depin,
    DeployConfig,
    NetworkConfig,
    boost_cost,
    deny_action,
    deploy,
    dev_account,
    undeny_action,
)
from depinkit.core.envelope import Report, ReportDomain, sign_report
from depinkit.core.keys import Account
from depinkit.networks import NetworkRegistry
from depinkit.networks.coverage import (
    Beacon,
    CoverageModule,
    Witness,
    beacon_payload,
    beacon_window,
)
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.rewards import hex_scales
from depinkit.oracle.app import create_app
from depinkit.oracle.clock import FixedClock
from depinkit.oracle.epochs import SUBMITTED, ChainInputs
from depinkit.oracle.indexer import RegistryIndexer
from depinkit.oracle.rewards import RewardManifest, decode_manifest
from depinkit.oracle.server import ServerThread
from depinkit.oracle.settings import OracleSettings
from depinkit.oracle.store import Store

from .network import EPOCH_S, Net, Oracle

pytestmark = pytest.mark.anvil

COVERAGE: Final[str] = "coverage"
CITIES: Final[dict[str, tuple[float, float]]] = {
    "paris": (48.8566, 2.3522),
    "lyon": (45.7640, 4.8357),
    "marseille": (43.2965, 5.3698),
}
BOOST_RES: Final[int] = 5  # the boosted hex: ~250 km2 around Paris
MULTIPLIER: Final[int] = 3
WITNESS_STEPS: Final[tuple[tuple[int, int], ...]] = ((60, 0), (0, 60))  # ~3 km, IJ offsets
FREQ: Final[int] = 868_100_000  # Hz, EU868
WINDOW_S: Final[int] = EPOCH_S // 3
OWNER_TOKENS: Final[int] = 1_000 * TOKEN
BUYER_TOKENS: Final[int] = 10_000 * TOKEN


def _group(city: str, witnesses: int) -> list[int]:
    """Res-11 cells: a beaconer at the centre of the city's res-5 hex, witnesses ~3 km off."""
    origin = h3.cell_to_center_child(h3.latlng_to_cell(*CITIES[city], BOOST_RES), 11)
    i, j = h3.cell_to_local_ij(origin, origin)
    around = [h3.local_ij_to_cell(origin, i + di, j + dj) for di, dj in WITNESS_STEPS]
    return [origin, *around[:witnesses]]


@contextmanager
def coverage_network(tmp_path: Path) -> Iterator[tuple[Net, dict[str, list[Account]]]]:
    """anvil, the contracts with the coverage network, hotspots onboarded, one oracle."""
    with ExitStack() as stack:
        node = stack.enter_context(Anvil())
        chain = Chain.connect(node.url)
        key = Account.generate()
        sender = EthAccount.from_key(key.private_key)
        owners = [EthAccount.create() for _ in range(3)]
        chain.fund([sender.address] + [o.address for o in owners])
        parameters = {spec.name: spec.default for spec in CoverageModule.parameters}
        parameters[P.BEACON_INTERVAL_S] = EPOCH_S  # one beacon slot per epoch
        parameters[P.ENTROPY_WINDOW_S] = WINDOW_S
        config = DeployConfig(
            epoch_length_s=EPOCH_S,
            networks=(
                NetworkConfig(
                    name=COVERAGE,
                    splits={"coverage": 10_000, "data": 0},
                    parameters=parameters,
                ),
            ),
            oracles=(key.address,),
            threshold=1,
            timelock_delay_s=5,
            voting_period_blocks=5,
        )
        deployer = dev_account()
        deployment = deploy(chain, deployer, config)
        depin = Depin(chain, deployment)
        for owner in owners:
            depin.token.transfer(deployer, owner.address, OWNER_TOKENS)
        groups: dict[str, list[Account]] = {}
        for city, witnesses in (("paris", 2), ("lyon", 2), ("marseille", 1)):
            groups[city] = []
            for index, cell in enumerate(_group(city, witnesses)):
                device = Account.generate()
                # the beaconer and each witness belong to different owners
                depin.registry.onboard(owners[index], device, COVERAGE, cell)
                groups[city].append(device)
        networks = NetworkRegistry([CoverageModule()])
        domain = ReportDomain(chain_id=chain.chain_id, registry=deployment.registry)
        store = Store.open(f"sqlite:///{tmp_path / 'oracle.sqlite3'}", migrate=True)
        stack.callback(store.close)
        RegistryIndexer(
            chain.w3,
            deployment.registry,
            store,
            start_block=deployment.deployment_block,
            confirmations=0,
            max_block_range=10_000,
            network_names_=networks.names(),
        ).catch_up()
        clock = FixedClock(chain.now() * 1000)
        settings = OracleSettings(chain_id=chain.chain_id, registry=deployment.registry)
        app = create_app(settings=settings, store=store, networks=networks, clock=clock)
        server = stack.enter_context(ServerThread(app))
        oracle = Oracle(key, sender, store, server, clock, FixedClock(0), "")
        devices = [d for group in groups.values() for d in group]
        net = Net(chain, depin, domain, networks, [oracle], owners, devices, stack)
        yield net, groups


def _reports(net: Net, group: list[Account], epoch: int) -> list[Report]:
    """The group's beaconer beacons in slot 0 and every other member witnesses it."""
    entropy = net.start_block_hash(epoch)
    start_ms = net.epoch_start_s(epoch) * 1000
    end_ms = start_ms + EPOCH_S * 1000
    beaconer, witnesses = group[0], group[1:]
    opens, _ = beacon_window(
        entropy,
        beaconer.address,
        0,
        start_ms=start_ms,
        end_ms=end_ms,
        interval_s=EPOCH_S,
        window_s=WINDOW_S,
    )
    sent = Beacon(
        slot=0,
        payload=beacon_payload(entropy, beaconer.address, 0),
        frequency_hz=FREQ,
        tx_power_dbm=14,
        transmit_ms=opens + 1_000,
    )

    def signed(device: Account, kind: str, body: Beacon | Witness, at_ms: int) -> Report:
        return sign_report(
            device,
            net.domain,
            network=COVERAGE,
            kind=kind,
            seq=epoch,
            timestamp_ms=at_ms,
            epoch=epoch,
            body=body,
        )

    reports = [signed(beaconer, "beacon", sent, sent.transmit_ms + 10)]
    for witness in witnesses:
        heard = Witness(
            beaconer=beaconer.address,
            slot=0,
            payload=sent.payload,
            rssi_dbm10=-1100,
            snr_db10=55,
            frequency_hz=FREQ,
            received_ms=sent.transmit_ms + 300,
        )
        reports.append(signed(witness, "witness", heard, heard.received_ms + 10))
    return reports


def _report_epoch(net: Net, groups: dict[str, list[Account]], epoch: int) -> None:
    net.advance_to(net.epoch_start_s(epoch))  # mines the epoch's start block
    (oracle,) = net.oracles
    net.ingest(oracle, [r for group in groups.values() for r in _reports(net, group, epoch)])


def _points(manifest: RewardManifest) -> dict[str, int]:
    return {
        to_checksum_address(d.device): sum(
            int(b.points) for b in d.buckets if b.bucket == "coverage"
        )
        for d in manifest.devices
    }


def _rejections(manifest: RewardManifest) -> dict[str, list[str]]:
    return {
        str(to_checksum_address(d.device)): [r.reason for r in d.rejections]
        for d in manifest.devices
    }


def test_a_bought_boost_and_a_governance_denial_reach_the_next_epochs_rewards(
    tmp_path: Path,
) -> None:
    with coverage_network(tmp_path) as (net, groups):
        depin, chain = net.depin, net.chain
        paris, lyon, marseille = groups["paris"], groups["lyon"], groups["marseille"]
        boosted = h3.cell_to_parent(depin.registry.device(paris[0].address).h3_cell, BOOST_RES)
        cells = {d.address: depin.registry.device(d.address).h3_cell for d in net.devices}
        # Twins: same geometry, same HIP-17 scale (1), only Paris inside the boosted hex.
        assert set(hex_scales(cells.values(), P.HIP17_DEFAULTS).values()) == {1}
        assert all(h3.cell_to_parent(cells[d.address], BOOST_RES) == boosted for d in paris)
        assert all(h3.cell_to_parent(cells[d.address], BOOST_RES) != boosted for d in lyon)

        deployer = dev_account()
        depin.token.delegate(deployer)  # the genesis supply votes: enough for the quorum
        buyer = EthAccount.create()
        chain.fund(buyer.address)
        depin.token.transfer(deployer, buyer.address, BUYER_TOKENS)
        pipeline = net.pipeline(net.oracles[0])

        first = (chain.now() - net.genesis) // EPOCH_S + 1
        _report_epoch(net, groups, first)  # before anything: twins alike, witness paid

        gov, hexboosts = depin.governance, depin.boosts
        denied = marseille[1].address
        gov.enact(
            deployer,
            [deployer],
            [deny_action(chain, hexboosts.address, COVERAGE, [denied])],
            "Deny",
        )
        supply = depin.token.total_supply()
        boost, cost, _ = hexboosts.fund(buyer, COVERAGE, boosted, MULTIPLIER, 1)
        price = depin.params.get_network(COVERAGE, P.BOOST_PRICE)
        assert cost == boost_cost(price, BOOST_RES, MULTIPLIER, 1) > 0
        assert depin.token.total_supply() == supply - cost
        assert depin.token.balance_of(buyer.address) == BUYER_TOKENS - cost
        boosted_epoch = boost.first_epoch
        assert boost.last_epoch == boosted_epoch and boosted_epoch > first
        _report_epoch(net, groups, boosted_epoch)

        gov.enact(
            deployer,
            [deployer],
            [undeny_action(chain, hexboosts.address, COVERAGE, [denied])],
            "Lift the denial",
        )
        after = (chain.now() - net.genesis) // EPOCH_S + 1
        _report_epoch(net, groups, after)

        net.advance_to(net.epoch_start_s(after + 1) + 2)
        net.set_pipeline_clocks()
        pipeline.run_once()
        assert all(pipeline.state(e) == SUBMITTED for e in range(after + 1))

        inputs = ChainInputs(depin, net.networks)
        (oracle,) = net.oracles
        manifests: dict[int, RewardManifest] = {}
        for epoch in (first, boosted_epoch, after):
            stored = oracle.epochs.manifest(epoch)
            assert stored is not None
            manifests[epoch] = decode_manifest(stored[1])
            row = oracle.epochs.get(epoch)
            assert row is not None
            read = inputs.module_inputs(row.start_block, epoch)[COVERAGE]
            in_force = epoch == boosted_epoch
            assert read["boosts"] == ([[boosted, MULTIPLIER, boosted_epoch]] if in_force else [])
            assert read["denylist"] == ([denied] if in_force else [])

        twins = list(zip(paris, lyon, strict=True))
        for epoch in (first, after):  # no boost in force, nobody denied
            points = _points(manifests[epoch])
            assert all(points[p.address] == points[q.address] > 0 for p, q in twins)
            assert points[denied] > 0
            assert all(not r for r in _rejections(manifests[epoch]).values())

        points = _points(manifests[boosted_epoch])
        assert all(points[p.address] == MULTIPLIER * points[q.address] > 0 for p, q in twins)
        rewards = {
            str(to_checksum_address(d.device)): int(d.reward)
            for d in manifests[boosted_epoch].devices
        }
        assert all(rewards[p.address] > rewards[q.address] for p, q in twins)
        assert _rejections(manifests[boosted_epoch])[denied] == ["denylisted"]
        assert points.get(denied, 0) == 0
        # the denied witness no longer counts for its beaconer: a beacon nobody witnessed
        assert points.get(marseille[0].address, 0) == 0
        assert depin.rewards.root() == oracle.epochs.get(after).root  # type: ignore[union-attr]

        # A manifest from before HexBoosts: nothing injected, the modules keep what they carried
        contracts = {k: v for k, v in depin.deployment.contracts.items() if k != "HexBoosts"}
        older = Depin(chain, msgspec.structs.replace(depin.deployment, contracts=contracts))
        assert ChainInputs(older, net.networks).module_inputs(chain.block_number(), after) == {}
