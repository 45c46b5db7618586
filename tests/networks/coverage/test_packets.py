"""Uplink frames, signed deliveries and the packet router's ledger (pure)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.agent.roles import role_message_digest
from depinkit.core.envelope import ReportDomain
from depinkit.core.keys import Account
from depinkit.networks.coverage.iot import (
    MAX_UPLINK_PAYLOAD_BYTES,
    IotDevice,
    UplinkError,
    check_mic,
    decode_uplink,
    encode_uplink,
)
from depinkit.networks.coverage.packets import (
    BAD_SIGNATURE,
    FORGED_PACKET,
    INSUFFICIENT_CREDITS,
    NOT_UPLINK,
    REPLAYED_PACKET,
    UNKNOWN_DEVICE,
    LedgerState,
    PacketError,
    PacketLedger,
    channel_of,
    check_delivery_signature,
    sign_delivery,
)
from depinkit.networks.coverage.radio.backend import Frame, ReceivedFrame
from depinkit.networks.coverage.radio.onair import encode_beacon_frame
from depinkit.networks.receipts import ReceiptBook, sign_receipt, verify_receipt

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
DEVADDR = bytes.fromhex("26011f00")
KEY = bytes(range(16))
OTHER = (bytes.fromhex("26011f01"), bytes(range(16, 32)))
SESSION = b"\x33" * 32
HOTSPOTS = tuple(Account.from_key(bytes([0x40 + i]) * 32) for i in range(4))
CONSUMER = Account.from_key(b"\x55" * 32)
PRICE = 1_000
WINDOW = 5_000


def uplink(fcnt: int, payload: bytes = b"t=21.5", devaddr: bytes = DEVADDR) -> bytes:
    return encode_uplink(devaddr, fcnt, payload, KEY if devaddr == DEVADDR else OTHER[1])


def ledger() -> PacketLedger:
    return PacketLedger({DEVADDR: KEY, OTHER[0]: OTHER[1]}, SESSION)


def deliver(book: PacketLedger, hotspot: int, frame: bytes, now: int, **kw: int) -> int:
    args = {"price": PRICE, "copies": 1, "window_ms": WINDOW, "available": 10**9} | kw
    return book.deliver(HOTSPOTS[hotspot].address, frame, now, **args).paid


def test_uplink_round_trip_and_mic() -> None:
    frame = uplink(7, b"\x01\x02")
    decoded = decode_uplink(frame)
    assert decoded is not None
    assert (decoded.devaddr, decoded.fcnt, decoded.payload) == (DEVADDR, 7, b"\x01\x02")
    assert check_mic(frame, KEY) and not check_mic(frame, OTHER[1])
    tampered = frame[:-9] + bytes([frame[-9] ^ 1]) + frame[-8:]  # one payload bit
    assert not check_mic(tampered, KEY)
    assert len(uplink(1, b"x" * MAX_UPLINK_PAYLOAD_BYTES)) == 255
    with pytest.raises(UplinkError):
        uplink(1, b"x" * (MAX_UPLINK_PAYLOAD_BYTES + 1))
    with pytest.raises(UplinkError):
        uplink(0)
    beacon = encode_beacon_frame(HOTSPOTS[0].address, 3, b"\x09" * 16)
    assert decode_uplink(beacon) is None and decode_uplink(b"dpu\x01") is None


class _Radio:
    def __init__(self) -> None:
        self.sent: list[Frame] = []

    def transmit(self, frame: Frame) -> int:
        self.sent.append(frame)
        return 1_000 + len(self.sent)

    def receive(self, since_ms: int) -> list[ReceivedFrame]:
        return []


def test_device_counts_frames_from_where_it_left_off() -> None:
    radio = _Radio()
    device = IotDevice(DEVADDR, KEY, radio, fcnt=41)
    assert device.send(b"a") == (42, 1_001)
    assert device.send(b"b") == (43, 1_002)
    decoded = [decode_uplink(f.payload) for f in radio.sent]
    assert [d.fcnt for d in decoded if d is not None] == [42, 43]
    assert all(check_mic(f.payload, KEY) for f in radio.sent)
    with pytest.raises(UplinkError):
        IotDevice(DEVADDR, b"short", radio)


def test_first_delivery_is_paid_copies_are_free_and_replays_refused() -> None:
    book = ledger()
    assert deliver(book, 0, uplink(1), 0) == PRICE
    assert deliver(book, 1, uplink(1), 100) == 0  # a copy: accepted, not paid
    with pytest.raises(PacketError) as err:
        deliver(book, 0, uplink(1), 200)  # the same hotspot again
    assert err.value.code == REPLAYED_PACKET
    assert deliver(book, 1, uplink(2), 300) == PRICE
    with pytest.raises(PacketError) as err:
        deliver(book, 2, uplink(1), WINDOW + 1)  # a copy after the window
    assert err.value.code == REPLAYED_PACKET and "dedup window" in str(err.value)
    assert book.cumulative == {HOTSPOTS[0].address: PRICE, HOTSPOTS[1].address: PRICE}
    assert book.spent == 2 * PRICE and book.paid_packets == 2


def test_packet_copies_pays_that_many_hotspots() -> None:
    book = ledger()
    paid = [deliver(book, h, uplink(1), h, copies=3) for h in range(4)]
    assert paid == [PRICE, PRICE, PRICE, 0]
    assert book.spent == 3 * PRICE and book.paid_packets == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode_beacon_frame(HOTSPOTS[0].address, 1, b"\x01" * 16), NOT_UPLINK),
        (encode_uplink(b"\x00\x00\x00\x09", 1, b"", KEY), UNKNOWN_DEVICE),
        (encode_uplink(DEVADDR, 1, b"hi", OTHER[1]), FORGED_PACKET),  # another device's key
        (uplink(1)[:-8] + b"\x00" * 8, FORGED_PACKET),  # no MIC
    ],
)
def test_bad_packets_are_refused_and_change_nothing(frame: bytes, code: str) -> None:
    book = ledger()
    with pytest.raises(PacketError) as err:
        deliver(book, 0, frame, 0)
    assert err.value.code == code
    assert book.spent == 0 and book.cumulative == {} and book.paid_packets == 0
    assert deliver(book, 0, uplink(1), 1) == PRICE  # the counter was not consumed


def test_spending_beyond_credits_is_refused_and_changes_nothing() -> None:
    book = ledger()
    assert deliver(book, 0, uplink(1), 0, available=2 * PRICE) == PRICE
    assert deliver(book, 0, uplink(2), 1, available=2 * PRICE) == PRICE
    with pytest.raises(PacketError) as err:
        deliver(book, 1, uplink(3), 2, available=2 * PRICE)
    assert err.value.code == INSUFFICIENT_CREDITS
    assert book.spent == 2 * PRICE and book.cumulative == {HOTSPOTS[0].address: 2 * PRICE}
    assert deliver(book, 1, uplink(3), 3, available=3 * PRICE) == PRICE  # after a top-up


def test_delivery_signature_binds_hotspot_consumer_domain_and_readings() -> None:
    hotspot = HOTSPOTS[0]

    def sign(message: bytes) -> bytes:
        return hotspot.sign_digest(role_message_digest(message))

    delivery = sign_delivery(
        sign, DOMAIN, CONSUMER.address, hotspot.address, uplink(1),
        frequency_hz=868_300_000, rssi_dbm10=-1050, snr_db10=55, received_ms=123,
    )  # fmt: skip
    check_delivery_signature(DOMAIN, CONSUMER.address, delivery)
    other_domain = ReportDomain(chain_id=1, registry=DOMAIN.registry)
    for bad_domain, consumer, changed in [
        (other_domain, CONSUMER.address, delivery),
        (DOMAIN, HOTSPOTS[3].address, delivery),
        (DOMAIN, CONSUMER.address, msgspec.structs.replace(delivery, rssi_dbm10=-1000)),
        (DOMAIN, CONSUMER.address, msgspec.structs.replace(delivery, frame=uplink(2))),
        (DOMAIN, CONSUMER.address, msgspec.structs.replace(delivery, hotspot=HOTSPOTS[1].address)),
        (DOMAIN, CONSUMER.address, msgspec.structs.replace(delivery, signature=b"\x00" * 65)),
    ]:
        with pytest.raises(PacketError) as err:
            check_delivery_signature(bad_domain, consumer, changed)
        assert err.value.code == BAD_SIGNATURE


_events = st.lists(
    st.tuples(
        st.integers(0, len(HOTSPOTS) - 1),  # hotspot
        st.integers(1, 12),  # frame counter
        st.integers(0, 3_000),  # ms since the previous delivery
    ),
    max_size=60,
)


@given(_events, st.integers(1, 3), st.integers(0, 30))
def test_what_is_paid_is_what_the_receipts_spend(
    events: list[tuple[int, int, int]], copies: int, packets_affordable: int
) -> None:
    """Money invariants over any sequence of deliveries, replays and copies.

    Each packet is paid at most ``copies`` times and at most once per hotspot; spending never
    exceeds the credits; each hotspot's cumulative only grows, by the price per payment; the
    final receipts, applied to a ReceiptBook over the consumer's credits, spend exactly what
    the ledger says it spent.
    """
    available = packets_affordable * PRICE
    book = ledger()
    now = 0
    paid_by_packet: dict[int, list[int]] = {}
    last_total: dict[str, int] = {}
    for hotspot, fcnt, gap in events:
        now += gap
        before = (book.spent, dict(book.cumulative))
        try:
            paid = deliver(book, hotspot, uplink(fcnt), now, copies=copies, available=available)
        except PacketError:
            assert (book.spent, book.cumulative) == before
            continue
        if paid:
            assert paid == PRICE
            paid_by_packet.setdefault(fcnt, []).append(hotspot)
        address = HOTSPOTS[hotspot].address
        total = book.cumulative.get(address, 0)
        assert total == last_total.get(address, 0) + paid
        last_total[address] = total
        assert book.spent <= available
    for payees in paid_by_packet.values():
        assert len(payees) <= copies and len(set(payees)) == len(payees)
    assert book.spent == PRICE * sum(len(p) for p in paid_by_packet.values())
    assert book.paid_packets == len(paid_by_packet)
    receipts = ReceiptBook({CONSUMER.address: available})
    for address, total in sorted(book.cumulative.items()):
        receipt = sign_receipt(
            CONSUMER, DOMAIN, network="coverage", payee=address,
            channel=channel_of(SESSION, address), cumulative=total,
        )  # fmt: skip
        verify_receipt(DOMAIN, receipt)
        receipts.apply(receipt)
    assert receipts.spent(CONSUMER.address) == book.spent
    # the state a router saves restores the same ledger (what a restart continues from)
    saved = msgspec.json.decode(msgspec.json.encode(book.state()), type=LedgerState)
    restored = PacketLedger.from_state({DEVADDR: KEY, OTHER[0]: OTHER[1]}, saved)
    assert restored.state() == book.state()
    for fcnt in paid_by_packet:  # every packet ever paid is a replay after a restart
        with pytest.raises(PacketError):
            deliver(restored, 3, uplink(fcnt), now, copies=copies, available=available)
