"""The hotspot role: what it beacons and witnesses is what the coverage verifier accepts.

The in-process tests run the role over a whole epoch on a simulated timeline; the
process tests put three hotspots on the real medium server (and one behind a fake
Semtech gateway on loopback UDP) and check the reports they produce.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h3
import msgspec
import pytest
from radio_processes import medium_process

from depinkit.agent.config import RoleSettings
from depinkit.agent.errors import RoleError
from depinkit.agent.roles import Produced, RoleContext
from depinkit.core.envelope import ReportDomain, report_id, sign_report
from depinkit.core.keys import Account, keccak256
from depinkit.networks import DeviceView, EpochContext, ReceivedReport
from depinkit.networks.beacon import Beacon
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.beacon import beacon_payload, beacon_window
from depinkit.networks.coverage.geo import fspl_db10, lattice_q
from depinkit.networks.coverage.module import CoverageModule
from depinkit.networks.coverage.radio import Frame, RadioError, ReceivedFrame
from depinkit.networks.coverage.radio.gateway import SemtechRadio
from depinkit.networks.coverage.radio.medium import InProcessRadio, Medium, RadioSpec
from depinkit.networks.coverage.radio.onair import decode_beacon_frame, encode_beacon_frame
from depinkit.networks.coverage.radio.semtech import (
    MAX_DATAGRAM_BYTES,
    PullData,
    PullResp,
    PushData,
    PushPayload,
    Rxpk,
    TxAck,
    decode,
    encode,
)
from depinkit.networks.coverage.radio.server import MediumOperator
from depinkit.networks.coverage.role import HotspotRole, coverage_role_factory
from depinkit.networks.coverage.schemas import BEACON, WITNESS
from depinkit.networks.coverage.schemas import Beacon as BeaconBody
from depinkit.networks.coverage.schemas import Witness as WitnessBody
from depinkit.networks.coverage.verify import asserted_cells

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
EPOCH = 11
EPOCH_S = 3_600  # one beacon slot per epoch: interval = epoch length
WINDOW_S = 60  # entropy window
EU868 = 868_100_000
ENTROPY = keccak256(b"start block of epoch 11")
ACCOUNTS = tuple(Account.from_key(bytes([i + 1]) * 32) for i in range(3))
OWNERS = tuple(Account.from_key(bytes([i + 101]) * 32).address for i in range(3))
LISBON = (38.7223, -9.1393)
# True positions: a few km apart, as res-12 cells (asserted on chain and placed on the medium)
CELLS = tuple(
    h3.latlng_to_cell(LISBON[0] + dlat, LISBON[1] + dlng, 12)
    for dlat, dlng in ((0.0, 0.0), (0.030, 0.010), (-0.010, 0.045))
)
PARAMS = {P.BEACON_INTERVAL_S: EPOCH_S, P.ENTROPY_WINDOW_S: WINDOW_S, P.REGION: 1}


def beacon_at(start_ms: int) -> Beacon:
    return Beacon(
        epoch=EPOCH,
        start_ms=start_ms,
        end_ms=start_ms + EPOCH_S * 1000,
        block=99,
        entropy="0x" + ENTROPY.hex(),
        parameters={"coverage": dict(PARAMS)},
    )


def window(account: Account, start_ms: int) -> tuple[int, int]:
    return beacon_window(ENTROPY, account.address, 0, start_ms=start_ms,
                         end_ms=start_ms + EPOCH_S * 1000, interval_s=EPOCH_S,
                         window_s=WINDOW_S)  # fmt: skip


def epoch_context(start_ms: int) -> EpochContext:
    module = CoverageModule()
    return EpochContext(
        network=module.name,
        epoch=EPOCH,
        start_ms=start_ms,
        end_ms=start_ms + EPOCH_S * 1000,
        entropy=ENTROPY,
        parameters={**module.defaults(), **PARAMS},
        devices={
            a.address: DeviceView(owner=o, network=module.name, h3_cell=h3.str_to_int(c))
            for a, o, c in zip(ACCOUNTS, OWNERS, CELLS, strict=True)
        },
        domain=DOMAIN,
    )


def role_ctx(account: Account, now_ms: int, started_ms: int) -> RoleContext:
    return RoleContext(
        device=account.address,
        now_ms=now_ms,
        epoch=EPOCH,
        started_ms=started_ms,
        data_dir=Path("."),
        rng=random.Random(0),
    )


def signed(account: Account, produced: Sequence[Produced], now_ms: int) -> list[ReceivedReport]:
    out = []
    for network, kind, body in produced:
        report = sign_report(account, DOMAIN, network=network, kind=kind, seq=now_ms,
                             timestamp_ms=now_ms, epoch=EPOCH, body=body)  # fmt: skip
        out.append(ReceivedReport(id=report_id(DOMAIN, report), report=report))
    return out


def rssi_bound_dbm10(ctx: EpochContext, beaconer: str, witness: str, tx_dbm: int) -> int:
    """The verifier's free-space bound for this pair (signal_too_strong above it)."""
    cells = asserted_cells(ctx)
    i, j = h3.api.basic_int.cell_to_local_ij(cells[beaconer], cells[witness])
    oi, oj = h3.api.basic_int.cell_to_local_ij(cells[beaconer], cells[beaconer])
    q = lattice_q(i - oi, j - oj)
    return tx_dbm * 10 + ctx.param(P.FSPL_MARGIN_DB10) - fspl_db10(q, EU868)


class FixedBeacons:
    def __init__(self, beacon: Beacon | None) -> None:
        self.value = beacon

    def beacon(self, epoch: int) -> Beacon | None:
        return self.value if self.value is not None and self.value.epoch == epoch else None


# -- a whole epoch on an in-process medium --------------------------------------------


def test_an_epoch_of_three_hotspots_is_accepted_by_the_verifier() -> None:
    start = 1_800_000_000_000
    now = [start]
    medium = Medium(seed=3)
    for account, cell in zip(ACCOUNTS, CELLS, strict=True):
        medium.register(account.address, RadioSpec(cell=cell))
    roles = [
        HotspotRole(
            FixedBeacons(beacon_at(start)),
            lambda d: InProcessRadio(medium, d, lambda: now[0]),
            interval_s=10.0,
        )
        for _ in ACCOUNTS
    ]
    reports: list[ReceivedReport] = []
    for now[0] in range(start, start + EPOCH_S * 1000, 10_000):  # every 10 s, as scheduled
        for account, role in zip(ACCOUNTS, roles, strict=True):
            reports += signed(account, role.produce(role_ctx(account, now[0], start)), now[0])
    kinds = sorted((r.report.device, r.report.kind) for r in reports)
    assert kinds == sorted((a.address, k) for a in ACCOUNTS for k in (BEACON, WITNESS, WITNESS))

    ctx = epoch_context(start)
    module = CoverageModule()
    verdicts = module.verify(ctx, reports)
    assert all(v.accepted for v in verdicts), [(v.reason, v.detail) for v in verdicts]
    for item in reports:
        if item.report.kind != BEACON:
            continue
        body = msgspec.msgpack.decode(item.report.body, type=BeaconBody)
        opens, closes = window(next(a for a in ACCOUNTS if a.address == item.report.device), start)
        assert opens <= body.transmit_ms < closes and body.frequency_hz == EU868
    coverage = module.score(ctx, verdicts)["coverage"]
    assert sorted(coverage) == sorted(a.address for a in ACCOUNTS)
    assert all(points > 0 for points in coverage.values()), coverage


def test_nothing_to_beacon_without_the_epoch_beacon_but_still_witnesses() -> None:
    heard = ReceivedFrame(
        payload=encode_beacon_frame(ACCOUNTS[1].address, 0, b"\x07" * 16),
        frequency_hz=EU868, rssi=-1000, snr=50, received_ms=5_000,
    )  # fmt: skip
    radio = ScriptedRadio([heard])
    role = HotspotRole(FixedBeacons(None), lambda _d: radio)
    (produced,) = role.produce(role_ctx(ACCOUNTS[0], 6_000, 0))
    assert produced.kind == WITNESS and radio.sent == []
    assert produced.body == WitnessBody(beaconer=ACCOUNTS[1].address, slot=0,
                                        payload=b"\x07" * 16, rssi_dbm10=-1000, snr_db10=50,
                                        frequency_hz=EU868, received_ms=5_000)  # fmt: skip


class ScriptedRadio:
    """A radio whose air is a list the test writes; transmit can fail on demand."""

    def __init__(self, frames: list[ReceivedFrame], fail: int = 0) -> None:
        self.frames = frames
        self.fail = fail
        self.sent: list[Frame] = []
        self.asked: list[int] = []

    def transmit(self, frame: Frame) -> int:
        if self.fail:
            self.fail -= 1
            raise RadioError("gateway busy")
        self.sent.append(frame)
        return 1_234

    def receive(self, since_ms: int) -> list[ReceivedFrame]:
        self.asked.append(since_ms)
        return [f for f in self.frames if f.received_ms >= since_ms]


def test_witnesses_only_others_beacons_once_each() -> None:
    me, other = ACCOUNTS[0].address, ACCOUNTS[1].address
    beacon = encode_beacon_frame(other, 3, b"\x01" * 16)

    def frame(payload: bytes, at: int, rssi: int = -900) -> ReceivedFrame:
        return ReceivedFrame(payload, EU868, rssi, 20, at)

    radio = ScriptedRadio([
        frame(encode_beacon_frame(me, 3, b"\x02" * 16), 100),  # its own beacon echoed
        frame(b"\x40" + b"\x00" * 20, 110),  # a LoRaWAN uplink
        frame(beacon, 120),
        frame(beacon, 121),  # the same beacon again (a second gateway channel)
        frame(encode_beacon_frame(other, 4, b"\x03" * 16), 130, rssi=-3000),  # impossible
    ])  # fmt: skip
    role = HotspotRole(FixedBeacons(None), lambda _d: radio)
    first = role.produce(role_ctx(ACCOUNTS[0], 200, started_ms=50))
    assert [(d.kind, d.body.slot) for d in first] == [(WITNESS, 3)]  # type: ignore[attr-defined]
    assert role.produce(role_ctx(ACCOUNTS[0], 300, started_ms=50)) == []
    assert radio.asked == [50, 130], "reads from agent start, then from the last frame"


def test_a_failed_transmit_is_retried_within_the_window(caplog: pytest.LogCaptureFixture) -> None:
    start = 1_800_000_000_000
    opens, closes = window(ACCOUNTS[0], start)
    radio = ScriptedRadio([], fail=1)
    role = HotspotRole(FixedBeacons(beacon_at(start)), lambda _d: radio, tx_power_dbm=16)
    assert role.produce(role_ctx(ACCOUNTS[0], opens - 1, start)) == [], "window not open yet"
    assert role.produce(role_ctx(ACCOUNTS[0], opens, start)) == [], "transmit failed"
    assert "gateway busy" in caplog.text
    (draft,) = role.produce(role_ctx(ACCOUNTS[0], opens + 10_000, start))
    assert draft.body == BeaconBody(slot=0, payload=beacon_payload(ENTROPY, ACCOUNTS[0].address,
                                    0), frequency_hz=EU868, tx_power_dbm=16,
                                    transmit_ms=1_234)  # fmt: skip
    on_air = decode_beacon_frame(radio.sent[0].payload)
    assert on_air == (ACCOUNTS[0].address, 0, draft.body.payload)  # type: ignore[attr-defined]
    assert role.produce(role_ctx(ACCOUNTS[0], opens + 20_000, start)) == [], "once per slot"
    late = HotspotRole(FixedBeacons(beacon_at(start)), lambda _d: ScriptedRadio([]))
    assert late.produce(role_ctx(ACCOUNTS[0], closes, start)) == [], "window closed"


def test_factory_options() -> None:
    build = coverage_role_factory(["http://127.0.0.1:9"])
    with pytest.raises(RoleError, match="unknown options"):
        build(RoleSettings(name="coverage", options={"colour": "blue"}))
    with pytest.raises(RoleError, match="needs medium_url"):
        build(RoleSettings(name="coverage", options={"radio": "medium"}))
    for position in ("nowhere", "91,0", "1,2,3"):
        with pytest.raises(RoleError, match="bad position"):
            build(RoleSettings("coverage", options={"medium_url": "u", "position": position}))
    with pytest.raises(RoleError, match="bad listen"):
        build(RoleSettings("coverage", options={"radio": "semtech", "listen": "host:port"}))
    with pytest.raises(RoleError, match="unknown radio"):
        build(RoleSettings(name="coverage", options={"radio": "smoke-signals"}))
    role = build(RoleSettings(name="coverage", interval_s=7.0,
                              options={"medium_url": "http://127.0.0.1:9"}))  # fmt: skip
    assert role.name == "coverage" and role.interval_s == 7.0
    # the medium is unreachable: the run logs it and produces nothing, never raises
    assert role.produce(role_ctx(ACCOUNTS[0], 1_000, 0)) == []


# -- three hotspots on the real medium process -------------------------------------------


@pytest.fixture
def beacon_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """The oracles' beacon endpoint on loopback, answering from a dict (body per path)."""
    bodies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def test_three_hotspots_on_the_medium_server(
    tmp_path: Path, beacon_server: tuple[str, dict[str, bytes]]
) -> None:
    oracle_url, bodies = beacon_server
    alice, bob, carol = ACCOUNTS
    # An epoch on the wall clock in which alice's beacon window is open now, the others' not.
    offset = window(alice, 0)[0]
    start = wall_ms() - offset - 1_000
    for other in (bob, carol):
        opens, closes = window(other, start)
        assert closes <= wall_ms() or opens > wall_ms() + 30_000, "pick another ENTROPY"
    bodies[f"/v1/epochs/{EPOCH}/beacon"] = msgspec.json.encode(beacon_at(start))

    with medium_process(tmp_path, seed=11) as medium_url:
        operator = MediumOperator(medium_url)
        for account, cell in zip(ACCOUNTS[:2], CELLS, strict=False):  # the harness places two
            operator.register(account.address, RadioSpec(cell=cell))
        build = coverage_role_factory([oracle_url])
        options = {"radio": "medium", "medium_url": medium_url}
        roles = {a.address: build(RoleSettings("coverage", 5.0, options)) for a in ACCOUNTS[:2]}
        placed = {**options, "position": CELLS[2], "gain_dbi": 2}  # carol places herself
        roles[carol.address] = build(RoleSettings("coverage", 5.0, placed))
        assert roles[carol.address].produce(role_ctx(carol, wall_ms(), start)) == []
        assert carol.address in operator.radios(), "her first run placed her on the medium"
        reports: dict[str, list[ReceivedReport]] = {}
        for account in ACCOUNTS:  # alice first: she beacons, then the others listen
            now = wall_ms()
            produced = roles[account.address].produce(role_ctx(account, now, start))
            reports[account.address] = signed(account, produced, now)
        again = roles[bob.address].produce(role_ctx(bob, wall_ms(), start))
        (sent,) = operator.transmissions()
        assert operator.radios()[carol.address] == RadioSpec(cell=CELLS[2])

    assert again == [], "a beacon is witnessed once"
    assert [r.report.kind for r in reports[alice.address]] == [BEACON]
    beacon = msgspec.msgpack.decode(reports[alice.address][0].report.body, type=BeaconBody)
    assert beacon.transmit_ms == sent.sent_ms and sent.sender == alice.address
    ctx = epoch_context(start)
    for witness in (bob, carol):
        (item,) = reports[witness.address]
        assert item.report.kind == WITNESS
        body = msgspec.msgpack.decode(item.report.body, type=WitnessBody)
        assert (body.beaconer, body.slot, body.payload) == (alice.address, 0, beacon.payload)
        assert 0 < body.received_ms - beacon.transmit_ms <= ctx.param(P.WITNESS_LAG_MS)
        sensitivity_dbm10 = -1296  # SF9BW125 with a 6 dB noise figure
        bound = rssi_bound_dbm10(ctx, alice.address, witness.address, beacon.tx_power_dbm)
        assert sensitivity_dbm10 <= body.rssi_dbm10 <= bound, "plausible for the distance"
        assert body.frequency_hz == beacon.frequency_hz == EU868

    verdicts = CoverageModule().verify(ctx, [r for rs in reports.values() for r in rs])
    assert all(v.accepted for v in verdicts), [(v.reason, v.detail) for v in verdicts]
    assert len(verdicts) == 3


# -- a hotspot behind a real (fake) gateway: Semtech UDP on loopback ---------------------


def test_hotspot_behind_a_semtech_gateway() -> None:
    alice, bob = ACCOUNTS[0], ACCOUNTS[1]
    start = 1_800_000_000_000
    opens, _ = window(alice, start)
    radio = SemtechRadio("127.0.0.1", 0, clock=lambda: opens + 5)
    gateway = FakeForwarder(radio.address)
    try:
        with radio:
            role = HotspotRole(FixedBeacons(beacon_at(start)), lambda _d: radio)
            gateway.pull()
            bob_frame = encode_beacon_frame(bob.address, 0, beacon_payload(ENTROPY,
                                            bob.address, 0))  # fmt: skip
            gateway.uplink(bob_frame, rssi=-112, lsnr=-4.2)
            responder = threading.Thread(target=gateway.answer_one_downlink)
            responder.start()
            produced = role.produce(role_ctx(alice, opens, opens - 60_000))
            responder.join(timeout=10)
    finally:
        gateway.sock.close()
    kinds = [d.kind for d in produced]
    assert kinds == [BEACON, WITNESS]
    (txpk,) = gateway.downlinks
    assert decode_beacon_frame(base64.b64decode(txpk.data)) == (
        alice.address,
        0,
        beacon_payload(ENTROPY, alice.address, 0),
    )
    assert txpk.freq == 868.1 and txpk.imme
    assert produced[0].body.transmit_ms == opens + 5  # type: ignore[attr-defined]
    witness = produced[1].body
    assert isinstance(witness, WitnessBody)
    assert (witness.beaconer, witness.rssi_dbm10, witness.snr_db10) == (bob.address, -1120, -42)
    assert witness.frequency_hz == EU868 and witness.received_ms == opens + 5


class FakeForwarder:
    """lora_pkt_fwd's side of the protocol, on a loopback UDP socket."""

    EUI = bytes.fromhex("0016c001ff10a235")

    def __init__(self, server: tuple[str, int]) -> None:
        import socket

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5.0)
        self.server = server
        self.downlinks: list = []

    def recv(self) -> object:
        return decode(self.sock.recvfrom(MAX_DATAGRAM_BYTES)[0])

    def pull(self) -> None:
        self.sock.sendto(encode(PullData(1, self.EUI)), self.server)
        self.recv()

    def uplink(self, payload: bytes, *, rssi: int, lsnr: float) -> None:
        rxpk = Rxpk(tmst=1, freq=868.1, rssi=rssi, lsnr=lsnr, size=len(payload),
                    data=base64.b64encode(payload).decode())  # fmt: skip
        self.sock.sendto(encode(PushData(2, self.EUI, PushPayload(rxpk=[rxpk]))), self.server)
        self.recv()  # PUSH_ACK: the frame is in the radio's inbox

    def answer_one_downlink(self) -> None:
        packet = self.recv()
        assert isinstance(packet, PullResp)
        self.downlinks.append(packet.txpk)
        self.sock.sendto(encode(TxAck(packet.token, self.EUI)), self.server)


def test_a_hotspot_lying_about_its_location_is_heard_too_loud() -> None:
    """Alice asserts a cell 30 km away on chain but really sits 200 m from bob."""
    start = 1_800_000_000_000
    now = [start]
    bob_lat, bob_lng = h3.cell_to_latlng(CELLS[1])
    true_cells = (h3.latlng_to_cell(bob_lat + 0.0018, bob_lng, 12), CELLS[1], CELLS[2])
    medium = Medium(seed=4)
    for account, cell in zip(ACCOUNTS, true_cells, strict=True):
        medium.register(account.address, RadioSpec(cell=cell))
    roles = [
        HotspotRole(
            FixedBeacons(beacon_at(start)), lambda d: InProcessRadio(medium, d, lambda: now[0])
        )
        for _ in ACCOUNTS
    ]
    reports: list[ReceivedReport] = []
    for now[0] in range(start, start + EPOCH_S * 1000, 10_000):
        for account, role in zip(ACCOUNTS, roles, strict=True):
            reports += signed(account, role.produce(role_ctx(account, now[0], start)), now[0])
    ctx = epoch_context(start)
    far = h3.latlng_to_cell(LISBON[0] + 0.27, LISBON[1], 12)  # ~30 km north of Lisbon
    devices = dict(ctx.devices)
    alice = ACCOUNTS[0].address
    devices[alice] = DeviceView(owner=OWNERS[0], network="coverage", h3_cell=h3.str_to_int(far))
    ctx = EpochContext(**{**ctx.__dict__, "devices": devices})
    verdicts = {v.report_id: v for v in CoverageModule().verify(ctx, reports)}
    bob_hears_alice = [
        verdicts[r.id]
        for r in reports
        if r.report.device == ACCOUNTS[1].address
        and r.report.kind == WITNESS
        and msgspec.msgpack.decode(r.report.body, type=WitnessBody).beaconer == alice
    ]
    assert [v.reason for v in bob_hears_alice] == ["signal_too_strong"], bob_hears_alice
