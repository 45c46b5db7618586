"""The packet router over real HTTP on loopback, reading a real anvil chain.

Good deliveries are paid once per packet with a receipt that verifies; every bad input (a
malformed body, a forged or unsigned packet, a replay, a delivery signed by somebody else or
by a hotspot that is not registered on the coverage network, a spend beyond the consumer's
credits) is refused with its code and a clear message, and pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest
from data_kit import PRICE_PER_PACKET, DataChain, data_chain

from depinkit.agent.roles import role_message_digest
from depinkit.core.keys import Account
from depinkit.networks.coverage.iot import encode_uplink
from depinkit.networks.coverage.packets import (
    BAD_DELIVERY,
    BAD_SIGNATURE,
    FORGED_PACKET,
    INSUFFICIENT_CREDITS,
    NOT_UPLINK,
    REPLAYED_PACKET,
    UNKNOWN_DEVICE,
    UNREGISTERED_HOTSPOT,
    Delivery,
    LedgerState,
    channel_of,
    sign_delivery,
)
from depinkit.networks.coverage.radio.onair import encode_beacon_frame
from depinkit.networks.coverage.router import (
    DeliveryReply,
    DepinRouterChain,
    Router,
    RouterInfo,
    Stats,
    create_app,
)
from depinkit.networks.receipts import Receipt, verify_receipt
from depinkit.oracle.server import ServerThread

pytestmark = pytest.mark.anvil

DEVADDR = bytes.fromhex("26011f00")
KEY = bytes(range(16))
PARIS = (48.8566, 2.3522)
PACKETS_BOUGHT = 3


@dataclass
class Setup:
    net: DataChain
    url: str
    router: Router
    hotspots: list[Account]  # registered on coverage
    uptime_device: Account  # registered, but on another network
    stranger: Account  # not registered at all
    clock: list[int]  # the router's clock, unix ms: the test moves it


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp: Path = tmp_path_factory.mktemp("router")
    with data_chain(tmp) as net:
        hotspots = [Account.generate() for _ in range(2)]
        for i, hotspot in enumerate(hotspots):
            net.onboard(hotspot, PARIS[0] + 0.01 * i, PARIS[1])
        uptime_device = Account.generate()
        net.onboard(uptime_device, PARIS[0], PARIS[1], network="uptime")
        net.buy_packets(PACKETS_BOUGHT)
        clock = [1_700_000_000_000]
        router = Router(
            net.consumer,
            net.domain,
            DepinRouterChain(net.depin),
            {DEVADDR: KEY},
            clock=lambda: clock[0],
        )
        with ServerThread(create_app(router)) as server:
            yield Setup(net, server.url, router, hotspots, uptime_device, Account.generate(), clock)


def delivery(
    hotspot: Account, frame: bytes, setup: Setup, *, signer: Account | None = None
) -> Delivery:
    key = signer or hotspot
    return sign_delivery(
        lambda message: key.sign_digest(role_message_digest(message)),
        setup.net.domain, setup.net.consumer.address, hotspot.address, frame,
        frequency_hz=868_300_000, rssi_dbm10=-1000, snr_db10=70, received_ms=1_000,
    )  # fmt: skip


def post(setup: Setup, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{setup.url}/v1/packets", content=body, headers={"content-type": "application/json"}
    )


def stats(setup: Setup) -> Stats:
    return msgspec.json.decode(httpx.get(f"{setup.url}/v1/stats").content, type=Stats)


def refused(setup: Setup, body: bytes, status: int, code: str, words: str) -> None:
    """The delivery is refused with ``status`` and ``code``, and nothing is paid."""
    before = stats(setup)
    answer = post(setup, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert words in answer.json()["error"]
    after = stats(setup)
    assert (after.spent, after.packets) == (before.spent, before.packets)
    assert {h: s.cumulative for h, s in after.hotspots.items()} == {
        h: s.cumulative for h, s in before.hotspots.items()
    }


def encode(d: Delivery) -> bytes:
    return msgspec.json.encode(d)


def test_router_pays_first_deliveries_and_refuses_bad_input(setup: Setup) -> None:
    a, b = setup.hotspots
    info = msgspec.json.decode(httpx.get(f"{setup.url}/v1/info").content, type=RouterInfo)
    assert info.consumer == setup.net.consumer.address
    assert (info.price_per_packet, info.packet_copies) == (PRICE_PER_PACKET, 1)  # read on chain
    bought = PACKETS_BOUGHT * PRICE_PER_PACKET
    assert stats(setup).available == bought

    # the first delivery of a packet is paid, with a receipt that verifies
    first = encode_uplink(DEVADDR, 1, b"t=21.5", KEY)
    answer = post(setup, encode(delivery(a, first, setup)))
    assert answer.status_code == 200, answer.text
    reply = msgspec.json.decode(answer.content, type=DeliveryReply)
    assert reply.paid == PRICE_PER_PACKET and reply.receipt is not None
    receipt = reply.receipt
    verify_receipt(setup.net.domain, receipt)
    assert (receipt.payee, receipt.consumer, receipt.network) == (
        a.address,
        setup.net.consumer.address,
        "coverage",
    )
    assert receipt.channel == channel_of(setup.router.ledger.session, a.address)
    assert receipt.cumulative == PRICE_PER_PACKET

    # another hotspot's copy is accepted and not paid
    answer = post(setup, encode(delivery(b, first, setup)))
    assert answer.status_code == 200 and answer.json()["paid"] == 0
    assert answer.json()["receipt"] is None

    # bad input, each refused with nothing paid
    refused(setup, encode(delivery(a, first, setup)), 409, REPLAYED_PACKET, "already delivered")
    refused(setup, b'{"hotspot": 1}', 400, BAD_DELIVERY, "bad delivery")
    forged = encode_uplink(DEVADDR, 2, b"t=99.9", bytes(16))  # not the device's key
    refused(setup, encode(delivery(a, forged, setup)), 400, FORGED_PACKET, "MIC")
    unsigned = encode_uplink(DEVADDR, 2, b"t=21.6", KEY)[:-8] + b"\x00" * 8
    refused(setup, encode(delivery(a, unsigned, setup)), 400, FORGED_PACKET, "MIC")
    stranger_device = encode_uplink(bytes(4), 1, b"", KEY)
    refused(setup, encode(delivery(a, stranger_device, setup)), 400, UNKNOWN_DEVICE, "00000000")
    beacon = encode_beacon_frame(b.address, 1, b"\x01" * 16)
    refused(setup, encode(delivery(a, beacon, setup)), 400, NOT_UPLINK, "not an uplink")
    good = encode_uplink(DEVADDR, 2, b"t=21.7", KEY)
    impostor = delivery(a, good, setup, signer=setup.stranger)  # claims to be hotspot a
    refused(setup, encode(impostor), 401, BAD_SIGNATURE, "not by")
    tampered = msgspec.structs.replace(delivery(a, good, setup), rssi_dbm10=-500)
    refused(setup, encode(tampered), 401, BAD_SIGNATURE, "not by")
    refused(
        setup,
        encode(delivery(setup.stranger, good, setup)),
        403,
        UNREGISTERED_HOTSPOT,
        "not a registered device",
    )
    refused(
        setup,
        encode(delivery(setup.uptime_device, good, setup)),
        403,
        UNREGISTERED_HOTSPOT,
        "not registered on the coverage network",
    )

    # the packet refused above is still payable to a registered hotspot
    answer = post(setup, encode(delivery(b, good, setup)))
    assert answer.status_code == 200 and answer.json()["paid"] == PRICE_PER_PACKET
    answer = post(setup, encode(delivery(a, encode_uplink(DEVADDR, 3, b"", KEY), setup)))
    assert answer.status_code == 200 and answer.json()["paid"] == PRICE_PER_PACKET
    last = msgspec.json.decode(answer.content, type=DeliveryReply).receipt
    assert last is not None and last.cumulative == 2 * PRICE_PER_PACKET

    # credits for three packets are spent: the fourth is refused
    refused(
        setup,
        encode(delivery(b, encode_uplink(DEVADDR, 4, b"", KEY), setup)),
        402,
        INSUFFICIENT_CREDITS,
        f"with {bought} available",
    )
    # a frame counter used again for other bytes is a replay, even within the window
    refused(
        setup,
        encode(delivery(b, encode_uplink(DEVADDR, 3, b"x", KEY), setup)),
        409,
        REPLAYED_PACKET,
        "already used for another frame",
    )
    # past the dedup window (5 s by default), a copy is a replay
    setup.clock[0] += 5_001
    refused(
        setup,
        encode(delivery(b, encode_uplink(DEVADDR, 3, b"", KEY), setup)),
        409,
        REPLAYED_PACKET,
        "not above 3 and not within the dedup window",
    )
    data = httpx.get(f"{setup.url}/v1/uplinks", params={"after": 1}).json()
    assert [(u["fcnt"], u["hotspot"]) for u in data] == [(2, b.address), (3, a.address)]
    final = stats(setup)
    assert final.spent == bought and final.packets == 3
    assert {h: (s.paid, s.cumulative) for h, s in final.hotspots.items()} == {
        a.address: (2, 2 * PRICE_PER_PACKET),
        b.address: (1, PRICE_PER_PACKET),
    }
    fetched = httpx.get(f"{setup.url}/v1/receipts/{a.address}")
    assert fetched.status_code == 200
    assert msgspec.json.decode(fetched.content, type=Receipt) == last
    assert httpx.get(f"{setup.url}/v1/receipts/{setup.stranger.address}").status_code == 404


def test_a_restarted_router_continues_its_channels_and_its_spending(
    setup: Setup, tmp_path: Path
) -> None:
    """With a state file, a restart keeps the session, the totals and the frame counters:
    the channel's cumulative goes on growing, old packets stay replays, the budget holds."""
    a = setup.hotspots[0]
    state_path = tmp_path / "router-state.json"
    chain = DepinRouterChain(setup.net.depin)

    def serve(budget: int) -> ServerThread:
        router = Router(
            setup.net.consumer, setup.net.domain, chain, {DEVADDR: KEY},
            budget=budget, state_path=state_path,
        )  # fmt: skip
        return ServerThread(create_app(router))

    def send(url: str, fcnt: int) -> httpx.Response:
        body = encode(delivery(a, encode_uplink(DEVADDR, fcnt, b"", KEY), setup))
        return httpx.post(
            f"{url}/v1/packets", content=body, headers={"content-type": "application/json"}
        )

    with serve(2 * PRICE_PER_PACKET) as first:
        answer = send(first.url, 10)
        assert answer.status_code == 200 and answer.json()["paid"] == PRICE_PER_PACKET
        before = msgspec.json.decode(answer.content, type=DeliveryReply).receipt
    assert before is not None
    with serve(2 * PRICE_PER_PACKET) as second:
        kept = httpx.get(f"{second.url}/v1/receipts/{a.address}")
        assert msgspec.json.decode(kept.content, type=Receipt) == before
        again = send(second.url, 10)
        assert again.status_code == 409 and again.json()["code"] == REPLAYED_PACKET
        answer = send(second.url, 11)
        assert answer.status_code == 200, answer.text
        after = msgspec.json.decode(answer.content, type=DeliveryReply).receipt
        assert after is not None and after.channel == before.channel
        assert after.cumulative == 2 * PRICE_PER_PACKET
        over = send(second.url, 12)
        assert over.status_code == 402 and over.json()["code"] == INSUFFICIENT_CREDITS
    # a state that does not add up is refused at start
    state = msgspec.json.decode(state_path.read_bytes(), type=LedgerState)
    state_path.write_bytes(msgspec.json.encode(msgspec.structs.replace(state, spent=1)))
    with pytest.raises(ValueError, match="not the sum"):
        serve(10**9)
