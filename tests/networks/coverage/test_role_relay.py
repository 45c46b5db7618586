"""The hotspot role's data transfer: uplinks delivered to a real router over HTTP, receipts
kept per channel across restarts, reported only when they grow, and checked before use.

The radio is an in-process medium; the router is the real service on loopback. Its chain
reads (registration, credits, parameters) come from a fixed table here; the same role and
router against a real anvil chain and real processes are in test_data_transfer.py.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from depinkit.agent.roles import RoleContext, role_message_digest
from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.coverage import parameters as P
from depinkit.networks.coverage.iot import IotDevice
from depinkit.networks.coverage.radio.backend import Frame
from depinkit.networks.coverage.radio.medium import InProcessRadio, Medium, RadioSpec
from depinkit.networks.coverage.radio.onair import encode_beacon_frame
from depinkit.networks.coverage.role import HotspotRole
from depinkit.networks.coverage.router import Router, create_app
from depinkit.networks.coverage.schemas import RECEIPT, PacketReceipt
from depinkit.networks.receipts import verify_receipt
from depinkit.oracle.server import ServerThread

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
CONSUMER = Account.from_key(b"\x61" * 32)
HOTSPOT = Account.from_key(b"\x62" * 32)
DEVADDR, KEY = bytes.fromhex("26011f00"), bytes(range(16))
PRICE = 7_000


class FixedChain:
    """Chain reads from a table (the real DepinRouterChain is exercised on anvil elsewhere)."""

    def __init__(self, registered: set[str], credits: int) -> None:
        self.registered = registered
        self.bought = credits

    def hotspot_problem(self, hotspot: str) -> str | None:
        return None if hotspot in self.registered else f"{hotspot} is not a registered device"

    def credits(self, consumer: str) -> int:
        return self.bought

    def parameters(self) -> Mapping[str, int]:
        return {P.PRICE_PER_PACKET: PRICE, P.PACKET_COPIES: 1, P.DEDUP_WINDOW_MS: 5_000}


class NoBeacons:
    def beacon(self, epoch: int) -> None:
        return None


@pytest.fixture
def router() -> Iterator[tuple[str, Router]]:
    state = Router(CONSUMER, DOMAIN, FixedChain({HOTSPOT.address}, 100 * PRICE), {DEVADDR: KEY})
    with ServerThread(create_app(state)) as server:
        yield server.url, state


def ctx(data_dir: Path, now_ms: int, *, signer: Account | None = HOTSPOT) -> RoleContext:
    def sign(message: bytes) -> bytes:
        assert signer is not None
        return signer.sign_digest(role_message_digest(message))

    return RoleContext(
        device=HOTSPOT.address,
        now_ms=now_ms,
        epoch=1,
        started_ms=0,
        data_dir=data_dir,
        rng=random.Random(0),
        sign=sign if signer is not None else None,
    )


def world() -> tuple[Medium, list[int], IotDevice]:
    medium = Medium(seed=1)
    clock = [1_000]
    medium.register(HOTSPOT.address, RadioSpec(lat=48.85, lng=2.35))
    medium.register("sensor", RadioSpec(lat=48.851, lng=2.35))
    medium.register("other", RadioSpec(lat=48.852, lng=2.35))
    sensor = IotDevice(DEVADDR, KEY, InProcessRadio(medium, "sensor", lambda: clock[0]))
    return medium, clock, sensor


def role_on(medium: Medium, clock: list[int], url: str) -> HotspotRole:
    radio = InProcessRadio(medium, HOTSPOT.address, lambda: clock[0])
    return HotspotRole(NoBeacons(), lambda _device: radio, routers=[url])


def receipts(drafts: list[tuple[str, str, object]]) -> list[int]:
    out = []
    for network, kind, body in drafts:
        if kind == RECEIPT:
            assert network == "coverage" and isinstance(body, PacketReceipt)
            verify_receipt(DOMAIN, body.receipt)
            assert body.receipt.payee == HOTSPOT.address
            out.append(body.receipt.cumulative)
    return out


def test_uplinks_are_delivered_and_receipts_reported_when_they_grow(
    tmp_path: Path, router: tuple[str, Router]
) -> None:
    url, state = router
    medium, clock, sensor = world()
    role = role_on(medium, clock, url)
    sensor.send(b"a")
    sensor.send(b"b")
    beacon = encode_beacon_frame("0x" + "11" * 20, 0, b"\x01" * 16)
    medium.transmit("other", Frame(beacon, 868_100_000, 14), clock[0])
    clock[0] += 2_000
    assert receipts(role.produce(ctx(tmp_path, clock[0]))) == [2 * PRICE]
    assert state.delivered == {HOTSPOT.address: 2}  # the beacon frame was not delivered
    assert receipts(role.produce(ctx(tmp_path, clock[0] + 500))) == []  # nothing new
    sensor.send(b"c")
    clock[0] += 2_000
    assert receipts(role.produce(ctx(tmp_path, clock[0]))) == [3 * PRICE]

    # a restarted role has its receipts from disk and does not report them again (it hears
    # the same uplinks again: the router refuses them as replays, nothing more is paid)
    again = role_on(medium, clock, url)
    assert receipts(again.produce(ctx(tmp_path, clock[0] + 500))) == []
    assert [r.cumulative for r in again.newest_receipts().values()] == [3 * PRICE]
    assert state.ledger.spent == 3 * PRICE


def test_without_a_signer_or_a_router_nothing_is_delivered_and_nothing_breaks(
    tmp_path: Path, router: tuple[str, Router], caplog: pytest.LogCaptureFixture
) -> None:
    url, state = router
    medium, clock, sensor = world()
    sensor.send(b"a")
    clock[0] += 2_000
    caplog.set_level(logging.INFO, logger="depinkit.networks.coverage.role")
    unsigned = role_on(medium, clock, url)
    assert unsigned.produce(ctx(tmp_path / "u", clock[0], signer=None)) == []
    assert "no signer" in caplog.text and state.delivered == {}
    down = role_on(medium, clock, "http://127.0.0.1:9")
    assert down.produce(ctx(tmp_path / "d", clock[0])) == []
    assert "unreachable" in caplog.text
    # a key that is not the device's: the router refuses, the role reports nothing
    impostor = role_on(medium, clock, url)
    (tmp_path / "i").mkdir()
    assert impostor.produce(ctx(tmp_path / "i", clock[0], signer=CONSUMER)) == []
    assert "bad_signature" in caplog.text and state.ledger.spent == 0
