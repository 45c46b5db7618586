"""The Semtech UDP packet-forwarder protocol, version 2 (lora_pkt_fwd's PROTOCOL.TXT).

A LoRa gateway's packet forwarder talks to a "network server" over UDP; here the
hotspot is that server, so a real gateway becomes the hotspot's radio. Every
datagram starts with a 4-byte header::

    byte 0     protocol version (2)
    bytes 1-2  random token, echoed by the acknowledgement
    byte 3     identifier:
               0x00 PUSH_DATA  gateway -> server  + 8-byte gateway EUI + JSON {rxpk, stat}
               0x01 PUSH_ACK   server -> gateway
               0x02 PULL_DATA  gateway -> server  + 8-byte gateway EUI (keep-alive, opens
                                                  the downlink path through NAT)
               0x03 PULL_RESP  server -> gateway  + JSON {txpk}
               0x04 PULL_ACK   server -> gateway
               0x05 TX_ACK     gateway -> server  + 8-byte gateway EUI [+ JSON {txpk_ack}]

In ``rxpk`` and ``txpk`` frequencies are MHz (``freq``), RSSI is dBm, ``lsnr`` is dB,
``tmst`` is the concentrator's microsecond counter and ``data`` is the base64 frame.
Parsing is strict: a wrong version, unknown identifier, wrong length, bad JSON or
a field of the wrong type raises :class:`SemtechError` naming what is wrong.
Unknown JSON fields are allowed, since forwarders add their own (``rssis``, ``foff``...).
"""

from __future__ import annotations

import binascii
from datetime import datetime
from typing import Final, TypeVar

import msgspec

from depinkit.networks.coverage.radio.backend import (
    MAX_LORA_PAYLOAD_BYTES,
    Frame,
    RadioError,
    ReceivedFrame,
    check_frame,
)

T = TypeVar("T")

PROTOCOL_VERSION: Final[int] = 2
PUSH_DATA: Final[int] = 0x00
PUSH_ACK: Final[int] = 0x01
PULL_DATA: Final[int] = 0x02
PULL_RESP: Final[int] = 0x03
PULL_ACK: Final[int] = 0x04
TX_ACK: Final[int] = 0x05
HEADER_BYTES: Final[int] = 4
EUI_BYTES: Final[int] = 8
MAX_DATAGRAM_BYTES: Final[int] = 65_507  # the largest UDP payload over IPv4
TX_ACK_OK: Final[str] = "NONE"  # txpk_ack.error when the gateway scheduled the frame
DEFAULT_DATR: Final[str] = "SF9BW125"  # the data rate beacons use (and the medium's default)
DEFAULT_CODR: Final[str] = "4/5"


class SemtechError(RadioError):
    """A datagram that is not a well-formed protocol-2 packet."""


class Rxpk(msgspec.Struct, frozen=True, omit_defaults=True):
    """One received frame, as the forwarder reports it."""

    tmst: int  # concentrator counter at end of reception, microseconds (wraps at 2**32)
    freq: float  # MHz
    rssi: int  # dBm, channel RSSI
    size: int  # payload bytes
    data: str  # base64 payload
    time: str | None = None  # ISO 8601 UTC, when the gateway has GPS time
    tmms: int | None = None  # GPS time, ms since 1980-01-06
    chan: int = 0
    rfch: int = 0
    stat: int = 1  # CRC: 1 ok, -1 bad, 0 none
    modu: str = "LORA"
    datr: str | int = DEFAULT_DATR  # "SF9BW125" for LoRa, bit/s for FSK
    codr: str | None = None
    lsnr: float | None = None  # dB, LoRa only
    rssis: int | None = None  # dBm, signal RSSI (SX1302 concentrators)


class Stat(msgspec.Struct, frozen=True, omit_defaults=True):
    """The gateway's periodic status."""

    time: str | None = None
    lati: float | None = None
    long: float | None = None
    alti: int | None = None
    rxnb: int | None = None
    rxok: int | None = None
    rxfw: int | None = None
    ackr: float | None = None
    dwnb: int | None = None
    txnb: int | None = None


class Txpk(msgspec.Struct, frozen=True, omit_defaults=True):
    """One frame the gateway is asked to send.

    ``rfch``, ``modu``, ``datr`` and ``ipol`` are always written: lora_pkt_fwd refuses a
    txpk without the first three. Unset optional fields are left out, never ``null``.
    """

    freq: float  # MHz
    rfch: int  # radio chain to send on
    powe: int  # dBm
    modu: str  # "LORA" or "FSK"
    datr: str | int  # "SF9BW125" for LoRa, bit/s for FSK
    ipol: bool  # False: uplink polarity, so other gateways hear it (beacons)
    size: int
    data: str  # base64
    imme: bool = False  # send immediately, ignoring tmst/tmms
    codr: str | None = None  # LoRa coding rate, "4/5"
    tmst: int | None = None
    tmms: int | None = None
    prea: int | None = None
    ncrc: bool | None = None


class PushPayload(msgspec.Struct, frozen=True, omit_defaults=True):
    rxpk: list[Rxpk] = msgspec.field(default_factory=list)
    stat: Stat | None = None


class PullRespPayload(msgspec.Struct, frozen=True):
    txpk: Txpk


class TxAckBody(msgspec.Struct, frozen=True, omit_defaults=True):
    error: str = TX_ACK_OK
    warn: str | None = None


class TxAckPayload(msgspec.Struct, frozen=True):
    txpk_ack: TxAckBody


class PushData(msgspec.Struct, frozen=True):
    token: int
    gateway: bytes
    payload: PushPayload


class PushAck(msgspec.Struct, frozen=True):
    token: int


class PullData(msgspec.Struct, frozen=True):
    token: int
    gateway: bytes


class PullResp(msgspec.Struct, frozen=True):
    token: int
    txpk: Txpk


class PullAck(msgspec.Struct, frozen=True):
    token: int


class TxAck(msgspec.Struct, frozen=True):
    token: int
    gateway: bytes
    error: str = TX_ACK_OK  # "NONE", or e.g. "TOO_LATE", "COLLISION_PACKET", "TX_FREQ"


Packet = PushData | PushAck | PullData | PullResp | PullAck | TxAck

_IDENTIFIER: Final[dict[type, int]] = {
    PushData: PUSH_DATA,
    PushAck: PUSH_ACK,
    PullData: PULL_DATA,
    PullResp: PULL_RESP,
    PullAck: PULL_ACK,
    TxAck: TX_ACK,
}
_NAMES: Final[dict[int, str]] = {v: k.__name__ for k, v in _IDENTIFIER.items()}


def encode(packet: Packet) -> bytes:
    """The datagram for ``packet``."""
    if not 0 <= packet.token <= 0xFFFF:
        raise SemtechError(f"token {packet.token} does not fit in 2 bytes")
    header = bytes([PROTOCOL_VERSION]) + packet.token.to_bytes(2, "big")
    header += bytes([_IDENTIFIER[type(packet)]])
    match packet:
        case PushData(gateway=gateway, payload=payload):
            return header + _eui(gateway) + msgspec.json.encode(payload)
        case PullData(gateway=gateway):
            return header + _eui(gateway)
        case PullResp(txpk=txpk):
            return header + msgspec.json.encode(PullRespPayload(txpk))
        case TxAck(gateway=gateway, error=error):
            body = (
                b"" if error == TX_ACK_OK else msgspec.json.encode(TxAckPayload(TxAckBody(error)))
            )
            return header + _eui(gateway) + body
        case _:
            return header


def decode(datagram: bytes) -> Packet:
    """The packet in ``datagram``; SemtechError saying what is wrong otherwise."""
    if len(datagram) > MAX_DATAGRAM_BYTES:
        raise SemtechError(f"datagram of {len(datagram)} bytes exceeds {MAX_DATAGRAM_BYTES}")
    if len(datagram) < HEADER_BYTES:
        raise SemtechError(f"datagram of {len(datagram)} bytes is shorter than the header")
    version, identifier = datagram[0], datagram[3]
    if version != PROTOCOL_VERSION:
        raise SemtechError(f"protocol version {version}, expected {PROTOCOL_VERSION}")
    token = int.from_bytes(datagram[1:3], "big")
    rest = datagram[HEADER_BYTES:]
    name = _NAMES.get(identifier)
    if name is None:
        raise SemtechError(f"unknown packet identifier 0x{identifier:02x}")
    if identifier in (PUSH_ACK, PULL_ACK):
        _expect_length(name, rest, 0)
        return PushAck(token) if identifier == PUSH_ACK else PullAck(token)
    if identifier == PULL_RESP:
        return PullResp(token, _json(name, rest, PullRespPayload).txpk)
    if len(rest) < EUI_BYTES:
        raise SemtechError(f"{name} is missing its 8-byte gateway EUI")
    gateway, body = rest[:EUI_BYTES], rest[EUI_BYTES:]
    if identifier == PULL_DATA:
        _expect_length(name, body, 0)
        return PullData(token, gateway)
    if identifier == PUSH_DATA:
        payload = _json(name, body, PushPayload)
        for rxpk in payload.rxpk:
            received_frame(rxpk, 0)  # refuse the whole datagram if any frame is malformed
        return PushData(token, gateway, payload)
    body = body.rstrip(b"\x00")  # lora_pkt_fwd may send a C string terminator
    error = _json(name, body, TxAckPayload).txpk_ack.error if body else TX_ACK_OK
    return TxAck(token, gateway, error)


def rxpk_payload(rxpk: Rxpk) -> bytes:
    """The frame bytes of ``rxpk``; SemtechError if ``data`` is not base64 of ``size`` bytes."""
    try:
        padded = rxpk.data + "=" * (-len(rxpk.data) % 4)  # some forwarders omit the padding
        payload = binascii.a2b_base64(padded.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise SemtechError(f"rxpk data is not base64: {exc}") from exc
    if len(payload) != rxpk.size:
        raise SemtechError(f"rxpk size {rxpk.size} but data holds {len(payload)} bytes")
    if len(payload) > MAX_LORA_PAYLOAD_BYTES:
        raise SemtechError(f"rxpk of {len(payload)} bytes exceeds a LoRa frame")
    if not 0 < rxpk.freq < 10_000:
        raise SemtechError(f"rxpk freq {rxpk.freq} MHz is not a radio frequency")
    for name, value in (("rssi", rxpk.rssi), ("rssis", rxpk.rssis)):
        if value is not None and not -200 <= value <= 50:
            raise SemtechError(f"rxpk {name} {value} dBm is not a radio reading")
    if rxpk.lsnr is not None and not -100.0 <= rxpk.lsnr <= 100.0:
        raise SemtechError(f"rxpk lsnr {rxpk.lsnr} dB is not a radio reading")
    return payload


def received_frame(rxpk: Rxpk, fallback_ms: int) -> ReceivedFrame:
    """An uplink as the radio interface reports it.

    RSSI is the signal RSSI when the concentrator gives one (``rssis``), else the
    channel RSSI; the time is the gateway's GPS time when present, else ``fallback_ms``
    (the server's clock on arrival: a few ms late, well inside any witness window).
    """
    received_ms = fallback_ms
    if rxpk.time is not None:
        try:
            at = datetime.fromisoformat(rxpk.time)
        except ValueError as exc:
            raise SemtechError(f"rxpk time {rxpk.time!r} is not ISO 8601") from exc
        if at.tzinfo is None:  # a naive time would be read in the server's zone
            raise SemtechError(f"rxpk time {rxpk.time!r} has no UTC offset")
        received_ms = int(at.timestamp() * 1000)
    rssi = rxpk.rssis if rxpk.rssis is not None else rxpk.rssi
    return ReceivedFrame(
        payload=rxpk_payload(rxpk),
        frequency_hz=round(rxpk.freq * 1_000_000),
        rssi=rssi * 10,
        snr=round((rxpk.lsnr or 0.0) * 10),
        received_ms=received_ms,
    )


def txpk_for(frame: Frame, *, datr: str = DEFAULT_DATR, codr: str = DEFAULT_CODR) -> Txpk:
    """A txpk sending ``frame`` immediately with uplink polarity (so gateways hear it)."""
    check_frame(frame)
    return Txpk(
        imme=True,
        freq=frame.frequency_hz / 1_000_000,
        rfch=0,
        powe=frame.tx_power_dbm,
        modu="LORA",
        ipol=False,
        size=len(frame.payload),
        data=binascii.b2a_base64(frame.payload, newline=False).decode("ascii"),
        datr=datr,
        codr=codr,
    )


def _eui(gateway: bytes) -> bytes:
    if len(gateway) != EUI_BYTES:
        raise SemtechError(f"gateway EUI must be {EUI_BYTES} bytes, got {len(gateway)}")
    return gateway


def _expect_length(name: str, rest: bytes, length: int) -> None:
    if len(rest) != length:
        raise SemtechError(f"{name} has {len(rest)} unexpected trailing bytes")


def _json(name: str, body: bytes, kind: type[T]) -> T:
    if not body:
        raise SemtechError(f"{name} has no JSON payload")
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.DecodeError as exc:
        raise SemtechError(f"{name} JSON is malformed: {exc}") from exc
