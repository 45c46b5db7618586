"""Packet delivery and payment: what a hotspot sends a packet router and how the router pays.

Pure (no I/O, no clock): the router service (:mod:`.router`) is a shell around
:class:`PacketLedger`, and the hotspot role uses the message helpers. Spec:
docs/networks/coverage.md, "Data transfer".

A **delivery** is an uplink a hotspot heard, with its radio readings, signed by the hotspot's
device key (through the agent, :func:`depinkit.agent.roles.role_message_digest`) over::

    DELIVERY_TAG || separator(domain) || consumer (20) || hotspot (20)
      || frequency_hz (8) || rssi_dbm10 (4, signed) || snr_db10 (4, signed)
      || received_ms (8) || keccak256(frame)

so a delivery is bound to one deployment and one router's consumer, and only the hotspot's
key can make it. The router pays each packet's first ``packet_copies`` deliveries by distinct
hotspots, ``price_per_packet`` nanocredits each, with a cumulative receipt on the hotspot's
channel ``keccak256(CHANNEL_TAG || session || hotspot)`` (a session is one router state; a
new session opens new channels, so cumulatives never go down).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Final

import msgspec

from depinkit.agent.roles import role_message_digest
from depinkit.core.envelope import ReportDomain
from depinkit.core.errors import InvalidSignature
from depinkit.core.keys import address_bytes, keccak256, recover_address
from depinkit.networks.coverage.iot import DEVADDR_BYTES, check_mic, decode_uplink
from depinkit.networks.coverage.radio.backend import MAX_LORA_PAYLOAD_BYTES
from depinkit.networks.coverage.schemas import (
    MAX_FREQUENCY_HZ,
    MAX_RSSI_DBM10,
    MAX_SNR_DB10,
    MAX_U63,
    MIN_FREQUENCY_HZ,
    MIN_RSSI_DBM10,
)
from depinkit.networks.errors import NetworkError
from depinkit.networks.receipts import CHANNEL_BYTES, MAX_CUMULATIVE, SIGNATURE_BYTES

DELIVERY_TAG: Final[bytes] = b"depinkit/coverage/delivery/v1"
CHANNEL_TAG: Final[bytes] = b"depinkit/coverage/channel/v1"
SESSION_BYTES: Final[int] = 32  # a router session id: random, 256 bits
MAX_RECENT_PACKETS: Final[int] = 100_000  # packets kept for deduplication: bounds memory

# Refusal codes (HTTP error bodies; stable)
BAD_DELIVERY: Final[str] = "bad_delivery"  # not a well-formed delivery message
BAD_SIGNATURE: Final[str] = "bad_signature"  # not signed by the hotspot it names
UNREGISTERED_HOTSPOT: Final[str] = "unregistered_hotspot"  # not an active coverage device
NOT_UPLINK: Final[str] = "not_uplink"  # a beacon or noise, not an uplink frame
UNKNOWN_DEVICE: Final[str] = "unknown_device"  # no end device with that devaddr here
FORGED_PACKET: Final[str] = "forged_packet"  # the MIC does not match the device's key
REPLAYED_PACKET: Final[str] = "replayed_packet"  # old frame counter, or delivered before
INSUFFICIENT_CREDITS: Final[str] = "insufficient_credits"  # the consumer cannot pay it

_Address = Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")]


class PacketError(NetworkError):
    """A delivery the router refuses; ``code`` is one of the refusal codes above."""

    code = BAD_DELIVERY

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Delivery(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An uplink a hotspot heard and hands to a router (``POST /v1/packets``)."""

    hotspot: _Address  # EIP-55 address of the delivering hotspot (device)
    frame: Annotated[bytes, msgspec.Meta(min_length=1, max_length=MAX_LORA_PAYLOAD_BYTES)]
    frequency_hz: Annotated[int, msgspec.Meta(ge=MIN_FREQUENCY_HZ, le=MAX_FREQUENCY_HZ)]
    rssi_dbm10: Annotated[int, msgspec.Meta(ge=MIN_RSSI_DBM10, le=MAX_RSSI_DBM10)]
    snr_db10: Annotated[int, msgspec.Meta(ge=-MAX_SNR_DB10, le=MAX_SNR_DB10)]
    received_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_U63)]
    signature: Annotated[
        bytes, msgspec.Meta(min_length=SIGNATURE_BYTES, max_length=SIGNATURE_BYTES)
    ]


def delivery_message(
    domain: ReportDomain,
    consumer: str,
    hotspot: str,
    frame: bytes,
    frequency_hz: int,
    rssi_dbm10: int,
    snr_db10: int,
    received_ms: int,
) -> bytes:
    """The bytes a hotspot signs for a delivery (layout in the module docstring)."""
    return (
        DELIVERY_TAG
        + domain.separator()
        + address_bytes(consumer)
        + address_bytes(hotspot)
        + frequency_hz.to_bytes(8, "big")
        + rssi_dbm10.to_bytes(4, "big", signed=True)
        + snr_db10.to_bytes(4, "big", signed=True)
        + received_ms.to_bytes(8, "big")
        + keccak256(frame)
    )


def sign_delivery(
    sign: Callable[[bytes], bytes],
    domain: ReportDomain,
    consumer: str,
    hotspot: str,
    frame: bytes,
    *,
    frequency_hz: int,
    rssi_dbm10: int,
    snr_db10: int,
    received_ms: int,
) -> Delivery:
    """A delivery signed with ``sign`` (a :attr:`RoleContext.sign`: the device key)."""
    message = delivery_message(
        domain, consumer, hotspot, frame, frequency_hz, rssi_dbm10, snr_db10, received_ms
    )
    return Delivery(hotspot, frame, frequency_hz, rssi_dbm10, snr_db10, received_ms, sign(message))


def check_delivery_signature(domain: ReportDomain, consumer: str, delivery: Delivery) -> None:
    """PacketError(bad_signature) unless the hotspot named in ``delivery`` signed it."""
    message = delivery_message(
        domain,
        consumer,
        delivery.hotspot,
        delivery.frame,
        delivery.frequency_hz,
        delivery.rssi_dbm10,
        delivery.snr_db10,
        delivery.received_ms,
    )
    try:
        signer = recover_address(role_message_digest(message), delivery.signature)
    except (InvalidSignature, ValueError) as exc:
        raise PacketError(BAD_SIGNATURE, f"delivery signature is invalid: {exc}") from None
    if signer.lower() != delivery.hotspot.lower():
        raise PacketError(
            BAD_SIGNATURE, f"delivery is signed by {signer}, not by {delivery.hotspot}"
        )


def channel_of(session: bytes, hotspot: str) -> bytes:
    """The receipt channel of ``hotspot`` in a router session."""
    if len(session) != SESSION_BYTES:
        raise ValueError(f"session must be {SESSION_BYTES} bytes")
    channel = keccak256(CHANNEL_TAG + session + address_bytes(hotspot))
    assert len(channel) == CHANNEL_BYTES
    return channel


class Payment(msgspec.Struct, frozen=True):
    """What one accepted delivery earned."""

    devaddr: bytes
    fcnt: int
    paid: int  # nanocredits (0: a copy beyond packet_copies, accepted and not paid)
    cumulative: int  # the hotspot's channel total after this delivery (0: never paid)
    first: bool  # the packet's first delivery (the one the consumer's data comes from)


class LedgerState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ledger as plain data (the router's ``--state`` file, JSON)."""

    session: Annotated[bytes, msgspec.Meta(min_length=SESSION_BYTES, max_length=SESSION_BYTES)]
    spent: Annotated[int, msgspec.Meta(ge=0)]
    paid_packets: Annotated[int, msgspec.Meta(ge=0)]
    cumulative: dict[_Address, Annotated[int, msgspec.Meta(ge=1, le=MAX_CUMULATIVE)]]
    last_fcnt: dict[str, Annotated[int, msgspec.Meta(ge=1, le=2**32 - 1)]]  # devaddr hex


@dataclass
class _Packet:
    first_ms: int  # router clock at the first delivery
    frame: bytes  # the frame as first delivered: copies are the same bytes
    hotspots: set[str] = field(default_factory=set)
    paid: int = 0  # deliveries paid


class PacketLedger:
    """Deduplicates deliveries and keeps what the consumer owes each hotspot.

    All or nothing: a refused delivery (PacketError) changes nothing. Rules, in order
    (docs/networks/coverage.md, "Data transfer"):

    1. the frame is an uplink of a device in ``devices`` with a correct MIC;
    2. a packet (devaddr, fcnt) seen before is a copy: refused as a replay when its bytes
       differ from the first delivery's, the same hotspot delivered it already or its first
       delivery is more than ``window_ms`` old; otherwise paid while fewer than ``copies``
       deliveries of it were paid, else accepted and not paid;
    3. a new packet needs a frame counter above the device's highest so far (replay);
    4. a payment needs ``spent + price <= available`` (the consumer's credits).
    """

    def __init__(self, devices: Mapping[bytes, bytes], session: bytes) -> None:
        for devaddr in devices:
            if len(devaddr) != DEVADDR_BYTES:
                raise ValueError(f"devaddr must be {DEVADDR_BYTES} bytes: {devaddr.hex()}")
        channel_of(session, "0x" + "00" * 20)  # checks the session length
        self.devices = dict(devices)
        self.session = session
        self.spent = 0  # nanocredits paid over every channel of this session
        self.paid_packets = 0  # distinct packets paid at least once
        self.cumulative: dict[str, int] = {}  # hotspot -> its channel's total
        self._last_fcnt: dict[bytes, int] = {}
        self._recent: dict[tuple[bytes, int], _Packet] = {}
        self._order: deque[tuple[bytes, int]] = deque()

    def deliver(
        self,
        hotspot: str,
        frame: bytes,
        now_ms: int,
        *,
        price: int,
        copies: int,
        window_ms: int,
        available: int,
    ) -> Payment:
        """Apply one delivery by ``hotspot`` (already authenticated and registered)."""
        if price < 1 or copies < 1 or window_ms < 1:
            raise ValueError("price, copies and window must be positive")
        uplink = decode_uplink(frame)
        if uplink is None:
            raise PacketError(NOT_UPLINK, "the frame is not an uplink (a beacon or noise)")
        key = self.devices.get(uplink.devaddr)
        if key is None:
            raise PacketError(UNKNOWN_DEVICE, f"no end device {uplink.devaddr.hex()} here")
        if not check_mic(frame, key):
            raise PacketError(
                FORGED_PACKET, f"MIC does not match device {uplink.devaddr.hex()}'s key"
            )
        self._forget(now_ms - window_ms)
        packet_id = (uplink.devaddr, uplink.fcnt)
        packet = self._recent.get(packet_id)
        if packet is not None and frame != packet.frame:
            raise PacketError(
                REPLAYED_PACKET,
                f"frame counter {uplink.fcnt} of {uplink.devaddr.hex()} was already used "
                "for another frame",
            )
        if packet is not None and hotspot in packet.hotspots:
            raise PacketError(
                REPLAYED_PACKET,
                f"{hotspot} already delivered packet {uplink.fcnt} of {uplink.devaddr.hex()}",
            )
        if packet is None and uplink.fcnt <= self._last_fcnt.get(uplink.devaddr, 0):
            raise PacketError(
                REPLAYED_PACKET,
                f"frame counter {uplink.fcnt} of {uplink.devaddr.hex()} is not above "
                f"{self._last_fcnt[uplink.devaddr]} and not within the dedup window",
            )
        pays = packet is None or packet.paid < copies
        total = self.cumulative.get(hotspot, 0)
        if pays:
            if self.spent + price > available:
                raise PacketError(
                    INSUFFICIENT_CREDITS,
                    f"consumer would spend {self.spent + price} nanocredits with "
                    f"{available} available",
                )
            if total + price > MAX_CUMULATIVE:
                raise PacketError(INSUFFICIENT_CREDITS, f"channel of {hotspot} is full")
        # checks done: record
        first = packet is None
        if packet is None:
            if len(self._recent) >= MAX_RECENT_PACKETS:
                self._forget_oldest()
            packet = _Packet(now_ms, frame)
            self._recent[packet_id] = packet
            self._order.append(packet_id)
            self._last_fcnt[uplink.devaddr] = uplink.fcnt
        packet.hotspots.add(hotspot)
        if not pays:
            return Payment(uplink.devaddr, uplink.fcnt, 0, total, first)
        if packet.paid == 0:
            self.paid_packets += 1
        packet.paid += 1
        total += price
        self.cumulative[hotspot] = total
        self.spent += price
        return Payment(uplink.devaddr, uplink.fcnt, price, total, first)

    def state(self) -> LedgerState:
        """What must survive a restart: the session, the totals and the frame counters.

        Packets inside the dedup window are not kept: after a restart their copies are
        refused as replays (their counters are not above the device's highest), never paid.
        """
        return LedgerState(
            session=self.session,
            spent=self.spent,
            paid_packets=self.paid_packets,
            cumulative=dict(sorted(self.cumulative.items())),
            last_fcnt={d.hex(): f for d, f in sorted(self._last_fcnt.items())},
        )

    @classmethod
    def from_state(cls, devices: Mapping[bytes, bytes], state: LedgerState) -> PacketLedger:
        """A ledger continuing ``state``; ValueError when it does not add up."""
        if state.spent != sum(state.cumulative.values()):
            raise ValueError("ledger state: spent is not the sum of the channels' totals")
        ledger = cls(devices, state.session)
        ledger.spent = state.spent
        ledger.paid_packets = state.paid_packets
        ledger.cumulative = dict(state.cumulative)
        ledger._last_fcnt = {bytes.fromhex(d): f for d, f in state.last_fcnt.items()}
        return ledger

    def _forget(self, before_ms: int) -> None:
        """Drop packets first delivered before ``before_ms`` (copies now count as replays)."""
        while self._order and self._recent[self._order[0]].first_ms < before_ms:
            self._recent.pop(self._order.popleft())

    def _forget_oldest(self) -> None:
        self._recent.pop(self._order.popleft())


__all__ = [
    "BAD_DELIVERY",
    "BAD_SIGNATURE",
    "FORGED_PACKET",
    "INSUFFICIENT_CREDITS",
    "NOT_UPLINK",
    "REPLAYED_PACKET",
    "UNKNOWN_DEVICE",
    "UNREGISTERED_HOTSPOT",
    "Delivery",
    "LedgerState",
    "PacketError",
    "PacketLedger",
    "Payment",
    "channel_of",
    "check_delivery_signature",
    "delivery_message",
    "sign_delivery",
]
