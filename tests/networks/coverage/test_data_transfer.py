"""Paid data transfer end to end, with real processes.

A real anvil chain holds the coverage network (price per packet set on chain) and a consumer
with credits bought at an oracle-signed price; the simulated radio medium runs as a process
(log-distance path loss, exponent 3.5, shadowing and fading off so who hears whom is exact);
two hotspots run as ``depinkit agent run`` processes with the coverage role; the consumer's
packet router runs as ``depinkit coverage router``; three IoT end devices transmit with
``depinkit coverage send``: one heard only by hotspot A, one only by hotspot B, one by both.
The hotspots deliver what they hear, the router pays each packet once, the hotspots hand in
their newest receipts as ``receipt`` reports to a real oracle ingest service (HTTP, SQLite).

The oracle epoch computation (verify, score, allocate, credit spends) is then driven
in-process on the stored reports, with parameters, devices and credit balances read from
the chain, as tests/oracle/epochs/ do: the hotspots' data-bucket points are the price times
the packets each relayed and was paid for, and the consumer's spend equals the receipts.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import msgspec
import pytest
from data_kit import PRICE_PER_PACKET, DataChain, data_chain, offsets, position_cell
from radio_processes import medium_process
from typer.testing import CliRunner

from depinkit.cli import app
from depinkit.core.envelope import decode_report
from depinkit.core.keys import Account, to_checksum
from depinkit.core.keystore import load_keystore
from depinkit.networks import default_registry
from depinkit.networks.coverage import RECEIPT, PacketReceipt
from depinkit.networks.coverage.radio.server import MediumOperator
from depinkit.networks.coverage.router import ReceivedUplink, Stats
from depinkit.oracle.app import create_app
from depinkit.oracle.epochs import ChainInputs
from depinkit.oracle.epochs.compute import CreditBalances, epoch_rewards
from depinkit.oracle.indexer import RegistryIndexer
from depinkit.oracle.server import ServerThread
from depinkit.oracle.settings import OracleSettings
from depinkit.oracle.store import ReportRow, Store

pytestmark = pytest.mark.anvil

DEPINKIT = [sys.executable, "-m", "depinkit"]
START_TIMEOUT_S = 60.0
DELIVERY_TIMEOUT_S = 120.0  # from the last uplink to every receipt report stored
EPOCH_LENGTH_S = 3600  # the agents' epochs (`agent init` default)
ORIGIN = (48.85, 2.35)
# metres east of ORIGIN: hotspots A and B 3 km apart; with exponent 3.5 and 14 dBm + 2 x 2 dBi
# a frame reaches 2.1 km, so X (100 m from A) and Y (100 m from B) are heard by one hotspot
# each and Z (1.5 km from both) by both.
A, B, X, Y, Z = offsets(*ORIGIN, [0.0, 3_000.0, -100.0, 3_100.0, 1_500.0])
SENDS = {"X": (X, 4), "Y": (Y, 2), "Z": (Z, 3)}  # device -> (position, uplinks)
DEVICES = {name: (f"2601{i:04x}", bytes([i + 1]) * 16) for i, name in enumerate(SENDS)}
CREDIT_PACKETS = 20  # credits bought: for 20 packets, more than are sent


def first_line(proc: subprocess.Popen[bytes], log: Path, prefix: str) -> str:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout=START_TIMEOUT_S):
            raise RuntimeError(f"no address printed:\n{log.read_text()}")
    finally:
        selector.close()
    line = proc.stdout.readline().decode().strip()
    if not line.startswith(prefix):
        raise RuntimeError(f"unexpected first line {line!r}:\n{log.read_text()}")
    return line.removeprefix(prefix)


def start(stack: ExitStack, argv: list[str], log: Path, **kw: object) -> subprocess.Popen[bytes]:
    err = stack.enter_context(log.open("wb"))
    proc = subprocess.Popen(argv, stderr=err, start_new_session=True, **kw)  # type: ignore[call-overload]

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    stack.callback(stop)
    return proc


def init_hotspot(
    data_dir: Path, net: DataChain, ingest: str, position: tuple[float, float]
) -> Account:
    """`depinkit agent init` for a hotspot, onboarded on chain at ``position``."""
    result = CliRunner().invoke(
        app,
        [
            "agent",
            "init",
            "--data-dir",
            str(data_dir),
            "--chain-id",
            str(net.chain.chain_id),
            "--registry",
            net.deployment.registry,
            "--owner",
            net.owner.address,
            "--h3-cell",
            f"{position_cell(*position):x}",
            "--network",
            "coverage",
            "--oracle",
            f"a={ingest}",
            "--scrypt-n",
            "1024",
        ],
        env={"DEPINKIT_AGENT_PASSPHRASE": None},
    )
    assert result.exit_code == 0, result.output
    passphrase = (data_dir / "passphrase").read_text().splitlines()[0]
    device = load_keystore(data_dir / "device.json", passphrase)
    net.onboard(device, *position)
    return device


def hotspot_config(data_dir: Path, medium: str, router: str, position: tuple[float, float]) -> None:
    text = (data_dir / "agent.toml").read_text()
    head = text[: text.index("[[roles]]")]
    roles = (
        "[[roles]]\n"
        'name = "coverage"\n'
        "interval_s = 0.5\n"
        "[roles.options]\n"
        f'medium_url = "{medium}"\n'
        f'position = "{position[0]},{position[1]}"\n'
        f'routers = ["{router}"]\n'
    )
    (data_dir / "agent.toml").write_text(head + roles)


def stored_receipts(store: Store) -> tuple[list[ReportRow], dict[str, int]]:
    """Every stored row, and the newest stored receipt cumulative per hotspot."""
    rows: list[ReportRow] = []
    after = None
    while True:
        page = store.list_reports(after=after, limit=500)
        if not page:
            break
        rows += page
        after = page[-1].id
    newest: dict[str, int] = {}
    for row in rows:
        if row.kind != RECEIPT:
            continue
        body = msgspec.msgpack.decode(decode_report(row.raw).body, type=PacketReceipt)
        newest[row.device] = max(newest.get(row.device, 0), body.receipt.cumulative)
    return rows, newest


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as s:
        yield s


def test_hotspots_earn_for_relaying_what_the_consumer_pays(
    tmp_path: Path, stack: ExitStack
) -> None:
    net = stack.enter_context(data_chain(tmp_path))
    bought = net.buy_packets(CREDIT_PACKETS)
    networks = default_registry()

    # the oracle's ingest service: real HTTP, SQLite, devices indexed from the chain
    db_url = f"sqlite:///{tmp_path / 'oracle.sqlite3'}"
    store = Store.open(db_url, migrate=True)
    stack.callback(store.close)
    settings = OracleSettings(chain_id=net.chain.chain_id, registry=net.deployment.registry)
    ingest = stack.enter_context(
        ServerThread(create_app(settings=settings, store=store, networks=networks))
    )
    hotspots = {
        name: init_hotspot(tmp_path / name, net, ingest.url, pos)
        for name, pos in (("A", A), ("B", B))
    }
    RegistryIndexer(
        net.chain.w3, net.deployment.registry, store,
        start_block=net.deployment.deployment_block, confirmations=0,
        max_block_range=10_000, network_names_=networks.names(),
    ).catch_up()  # fmt: skip

    medium = stack.enter_context(
        medium_process(
            tmp_path,
            extra=("--path-loss-exponent", "3.5", "--shadowing-db", "0", "--fading-db", "0"),
        )
    )

    # the consumer's packet router, as a process
    (tmp_path / "consumer.key").write_text(net.consumer.private_key.hex())
    (tmp_path / "devices.json").write_text(
        json.dumps({addr: key.hex() for addr, key in DEVICES.values()})
    )
    router_proc = start(
        stack,
        [
            *DEPINKIT,
            "coverage",
            "router",
            "--rpc",
            net.rpc,
            "--deployment",
            str(net.deployment_path),
            "--devices",
            str(tmp_path / "devices.json"),
            "--key-file",
            str(tmp_path / "consumer.key"),
            "--port",
            "0",
        ],
        tmp_path / "router.log",
        stdout=subprocess.PIPE,
    )
    router = first_line(router_proc, tmp_path / "router.log", "router listening on ")

    # two hotspot agents
    env = {**os.environ, "DEPINKIT_AGENT_SENDER_IDLE_POLL_S": "0.05"}
    agents = []
    for name, pos in (("A", A), ("B", B)):
        hotspot_config(tmp_path / name, medium, router, pos)
        agents.append(
            start(
                stack,
                [*DEPINKIT, "agent", "run", "-c", str(tmp_path / name)],
                tmp_path / f"agent-{name}.log",
                env=env,
            )
        )
    operator = MediumOperator(medium)
    deadline = time.monotonic() + START_TIMEOUT_S
    while set(operator.radios()) != {h.address for h in hotspots.values()}:
        for proc, name in zip(agents, "AB", strict=True):
            assert proc.poll() is None, (tmp_path / f"agent-{name}.log").read_text()
        assert time.monotonic() < deadline, "the hotspots did not place themselves on the medium"
        time.sleep(0.2)

    # the IoT end devices transmit
    for name, (pos, count) in SENDS.items():
        devaddr, key = DEVICES[name]
        sent = subprocess.run(
            [
                *DEPINKIT,
                "coverage",
                "send",
                "--medium",
                medium,
                "--devaddr",
                devaddr,
                "--key",
                key.hex(),
                "--position",
                f"{pos[0]},{pos[1]}",
                "--count",
                str(count),
                "--interval-s",
                "0.3",
                "--payload",
                "0102",
            ],
            capture_output=True,
            timeout=START_TIMEOUT_S,
        )
        assert sent.returncode == 0, sent.stderr.decode()
        assert [json.loads(line)["fcnt"] for line in sent.stdout.splitlines()] == list(
            range(1, count + 1)
        )

    # who heard what, from the medium's own log
    heard: dict[str, set[bytes]] = {h.address: set() for h in hotspots.values()}
    for transmission in operator.transmissions():
        for delivery in transmission.deliveries:
            if delivery.receiver in heard:
                heard[delivery.receiver].add(delivery.frame.payload)
    a, b = hotspots["A"].address, hotspots["B"].address
    assert (len(heard[a]), len(heard[b]), len(heard[a] & heard[b])) == (7, 5, 3)

    # every packet is paid once, and each hotspot's newest receipt reaches the oracle
    packets = sum(count for _, count in SENDS.values())
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        stats = msgspec.json.decode(httpx.get(f"{router}/v1/stats").content, type=Stats)
        rows, newest = stored_receipts(store)
        cumulative = {h: s.cumulative for h, s in stats.hotspots.items() if s.cumulative}
        if stats.packets == packets and newest == cumulative:
            break
        for proc, name in zip(agents, "AB", strict=True):
            assert proc.poll() is None, (tmp_path / f"agent-{name}.log").read_text()
        assert time.monotonic() < deadline, (stats, newest)
        time.sleep(0.3)
    # the consumer has its data: each uplink once, as its first delivery carried it
    uplinks = msgspec.json.decode(
        httpx.get(f"{router}/v1/uplinks").content, type=list[ReceivedUplink]
    )
    assert sorted((u.devaddr, u.fcnt) for u in uplinks) == sorted(
        (DEVICES[name][0], fcnt) for name, (_, count) in SENDS.items()
        for fcnt in range(1, count + 1)
    )  # fmt: skip
    assert {u.payload for u in uplinks} == {b"\x01\x02"}
    paid = {h: s.paid for h, s in stats.hotspots.items()}
    assert stats.spent == packets * PRICE_PER_PACKET
    assert sum(paid.values()) == packets
    assert len(heard[a] - heard[b]) <= paid[a] <= len(heard[a])  # X's 4, and some of Z's 3
    assert len(heard[b] - heard[a]) <= paid[b] <= len(heard[b])  # Y's 2, and the rest of Z's

    # the oracles' epoch computation on the stored reports, with chain inputs
    inputs = ChainInputs(net.depin, networks)
    block = net.chain.w3.eth.block_number
    by_epoch: dict[int, list[ReportRow]] = {}
    for row in rows:
        by_epoch.setdefault(row.epoch, []).append(row)
    states: dict[str, bytes] = {}
    spent: dict[str, int] = {}
    previous: dict[str, int] = {}
    carry = 0
    points: dict[str, int] = {}
    for epoch in sorted(by_epoch):
        outcome = epoch_rewards(
            epoch=epoch,
            start_ms=epoch * EPOCH_LENGTH_S * 1000,
            end_ms=(epoch + 1) * EPOCH_LENGTH_S * 1000,
            entropy=inputs.start_block(inputs.epoch_clock(), 0)[1],
            rows=by_epoch[epoch],
            networks=networks,
            parameters=inputs.parameters(block),
            devices=inputs.devices({r.device for r in by_epoch[epoch]}, block),
            previous=previous,
            carry_in=carry,
            prior_states=states,
            credits=CreditBalances(lambda c: inputs.credits_bought(c, block), spent),
            domain=inputs.domain,
        )
        manifest = outcome.rewards.manifest
        for entry in manifest.devices:
            assert entry.rejected == 0, entry.rejections
            for bucket in entry.buckets:
                if (bucket.network, bucket.bucket) == ("coverage", "data"):
                    device = to_checksum(entry.device)
                    points[device] = points.get(device, 0) + int(bucket.points)
                    assert int(bucket.reward) > 0
        for (consumer, _network), amount in outcome.spent.items():
            spent[consumer] = spent.get(consumer, 0) + amount
        states = dict(outcome.states)
        previous = dict(outcome.rewards.ledger.totals)
        carry = outcome.rewards.allocation.carry_out

    # data points: the price times the packets each hotspot was paid for
    assert points == {h: n * PRICE_PER_PACKET for h, n in paid.items() if n}
    # the consumer's spend: what the receipts say, what the router signed away
    assert spent == {net.consumer.address: sum(newest.values())}
    assert sum(newest.values()) == stats.spent == packets * PRICE_PER_PACKET
    balance = CreditBalances(lambda c: inputs.credits_bought(c, block), spent)
    assert balance[net.consumer.address] == bought - stats.spent
