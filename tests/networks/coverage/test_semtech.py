"""The Semtech UDP packet-forwarder protocol: strict codec, and a gateway on loopback UDP."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from collections.abc import Iterator

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from depinkit.networks.coverage.radio import Frame, RadioError
from depinkit.networks.coverage.radio.gateway import SemtechRadio
from depinkit.networks.coverage.radio.semtech import (
    MAX_DATAGRAM_BYTES,
    PullAck,
    PullData,
    PullResp,
    PushAck,
    PushData,
    PushPayload,
    Rxpk,
    SemtechError,
    Stat,
    TxAck,
    Txpk,
    decode,
    encode,
    received_frame,
    txpk_for,
)

EUI = bytes.fromhex("aa555a0000000101")
# PROTOCOL.TXT examples (the FSK rxpk; its LoRa one carries invalid base64)
PUSH_JSON = (
    b'{"rxpk":[{"time":"2013-03-31T16:21:17.530974Z","tmst":3512348514,"chan":9,"rfch":1,'
    b'"freq":869.1,"stat":1,"modu":"FSK","datr":50000,"rssi":-75,"size":16,'
    b'"data":"VEVTVF9QQUNLRVRfMTIzNA=="}],'
    b'"stat":{"time":"2014-01-12 08:59:28 GMT","lati":46.24000,"long":3.25230,"alti":145,'
    b'"rxnb":2,"rxok":2,"rxfw":2,"ackr":100.0,"dwnb":2,"txnb":2}}'
)
TXPK_JSON = (
    b'{"txpk":{"imme":true,"freq":864.123456,"rfch":0,"powe":14,"modu":"LORA",'
    b'"datr":"SF11BW125","codr":"4/6","ipol":false,"size":32,'
    b'"data":"H3P3N2i9qc4yt7rK7ldqoeCVJGBybzPY5h1Dd7P7p8v"}}'
)


def lora_rxpk(payload: bytes, **kwargs: object) -> Rxpk:
    fields: dict[str, object] = {
        "tmst": 1, "freq": 868.1, "rssi": -97, "lsnr": -3.5, "datr": "SF9BW125",
        "size": len(payload), "data": base64.b64encode(payload).decode(),
    }  # fmt: skip
    fields.update(kwargs)
    return Rxpk(**fields)  # type: ignore[arg-type]


def test_protocol_examples_decode() -> None:
    push = decode(b"\x02\xab\xcd\x00" + EUI + PUSH_JSON)
    assert isinstance(push, PushData) and push.token == 0xABCD and push.gateway == EUI
    (rxpk,) = push.payload.rxpk
    assert (rxpk.modu, rxpk.datr, rxpk.rssi, rxpk.tmst) == ("FSK", 50000, -75, 3512348514)
    assert push.payload.stat == Stat(
        time="2014-01-12 08:59:28 GMT", lati=46.24, long=3.2523, alti=145,
        rxnb=2, rxok=2, rxfw=2, ackr=100.0, dwnb=2, txnb=2,
    )  # fmt: skip
    frame = received_frame(rxpk, fallback_ms=0)
    assert frame.payload == b"TEST_PACKET_1234"
    assert frame.frequency_hz == 869_100_000 and frame.rssi == -750 and frame.snr == 0
    assert frame.received_ms == 1_364_746_877_530, "the gateway's GPS time, in unix ms"
    resp = decode(b"\x02\x00\x07\x03" + TXPK_JSON)
    assert isinstance(resp, PullResp) and resp.token == 7
    assert resp.txpk.imme and resp.txpk.freq == 864.123456 and resp.txpk.datr == "SF11BW125"


@pytest.mark.parametrize(
    "packet",
    [
        PushData(1, EUI, PushPayload(rxpk=[lora_rxpk(b"hello")], stat=Stat(rxnb=1))),
        PushAck(0xFFFF),
        PullData(2, EUI),
        PullAck(3),
        PullResp(4, txpk_for(Frame(b"\x00\x01", 868_100_000, 14))),
        TxAck(5, EUI),
        TxAck(6, EUI, error="TOO_LATE"),
    ],
)
def test_round_trip(packet: object) -> None:
    assert decode(encode(packet)) == packet  # type: ignore[arg-type]


def test_wire_bytes() -> None:
    assert encode(PullData(0x1234, EUI)) == b"\x02\x12\x34\x02" + EUI
    assert encode(PushAck(0x1234)) == b"\x02\x12\x34\x01"
    assert encode(PullAck(0x0001)) == b"\x02\x00\x01\x04"
    assert encode(TxAck(9, EUI)) == b"\x02\x00\x09\x05" + EUI, "no JSON when all went well"
    txpk = txpk_for(Frame(b"\xde\xad", 904_600_000, 27))
    assert txpk == Txpk(freq=904.6, rfch=0, powe=27, modu="LORA", datr="SF9BW125", ipol=False,
                        size=2, data="3q0=", imme=True, codr="4/5")  # fmt: skip
    body = msgspec.json.decode(encode(PullResp(1, txpk))[4:])
    assert body == {"txpk": {"imme": True, "freq": 904.6, "powe": 27, "size": 2, "data": "3q0=",
                             "rfch": 0, "modu": "LORA", "datr": "SF9BW125", "codr": "4/5",
                             "ipol": False}}, "mandatory fields written, no nulls"  # fmt: skip


def test_tx_ack_as_lora_pkt_fwd_sends_it() -> None:
    json = b'{"txpk_ack":{"error":"COLLISION_PACKET"}}\x00'
    assert decode(b"\x02\x00\x05\x05" + EUI + json) == TxAck(5, EUI, "COLLISION_PACKET")
    assert decode(b"\x02\x00\x05\x05" + EUI + b'{"txpk_ack":{"error":"NONE"}}').error == "NONE"


def push(json: bytes) -> bytes:
    return b"\x02\x00\x01\x00" + EUI + json


@pytest.mark.parametrize(
    ("datagram", "message"),
    [
        (b"", "shorter than the header"),
        (b"\x02\x00\x01", "shorter than the header"),
        (b"\x01\x00\x01\x02" + EUI, "protocol version 1, expected 2"),
        (b"\x02\x00\x01\x09", "unknown packet identifier 0x09"),
        (b"\x02\x00\x01\x01extra", "PushAck has 5 unexpected trailing bytes"),
        (b"\x02\x00\x01\x02" + EUI[:5], "missing its 8-byte gateway EUI"),
        (b"\x02\x00\x01\x02" + EUI + b"x", "PullData has 1 unexpected"),
        (b"\x02\x00\x01\x00" + EUI, "PushData has no JSON payload"),
        (push(b'{"rxpk":[{"tmst":1'), "PushData JSON is malformed"),
        (push(b'{"rxpk":[{"freq":868.1,"rssi":-9,"size":1,"data":"AA=="}]}'), "tmst"),
        (push(b'{"rxpk":"nope"}'), "Expected `array`"),
        (push(b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":"-9","size":1,"data":"AA=="}]}'), "int"),
        (push(b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":-9,"size":1,"data":"A*=="}]}'), "base64"),
        (push(b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":-9,"size":2,"data":"AA=="}]}'), "size 2"),
        (push(b'{"rxpk":[{"tmst":1,"freq":-1.0,"rssi":-9,"size":1,"data":"AA=="}]}'), "freq"),
        (push(b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":-999,"size":1,"data":"AA=="}]}'), "rssi"),
        (
            push(
                b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":-9,"size":1,"data":"AA==","lsnr":1e308}]}'
            ),
            "lsnr",
        ),
        (
            push(b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":-9,"size":1,"data":"AA==","time":"x"}]}'),
            "not ISO 8601",
        ),
        (
            push(
                b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":-9,"size":1,"data":"AA==",'
                b'"time":"2013-03-31T16:21:17"}]}'
            ),
            "no UTC offset",
        ),
        (b"\x02\x00\x01\x03" + b'{"nope":1}', "txpk"),
        (b"\x02\x00\x01\x00" + EUI + b" " * MAX_DATAGRAM_BYTES, "exceeds 65507"),
    ],
)
def test_strict_parsing(datagram: bytes, message: str) -> None:
    with pytest.raises(SemtechError, match=message):
        decode(datagram)


@given(st.binary(max_size=64), st.sampled_from([b"", b"\x02\x00\x01\x00" + EUI]))
def test_decode_raises_only_semtech_errors(tail: bytes, head: bytes) -> None:
    with contextlib.suppress(SemtechError):
        decode(head + tail)


@given(st.lists(st.binary(min_size=1, max_size=255), max_size=4), st.integers(0, 0xFFFF))
def test_push_data_round_trips(payloads: list[bytes], token: int) -> None:
    packet = PushData(token, EUI, PushPayload(rxpk=[lora_rxpk(p) for p in payloads]))
    decoded = decode(encode(packet))
    assert decoded == packet
    assert isinstance(decoded, PushData)
    assert [received_frame(r, 0).payload for r in decoded.payload.rxpk] == payloads


def test_oversized_lora_frame_is_refused() -> None:
    big = base64.b64encode(b"x" * 256).decode()
    with pytest.raises(SemtechError, match="exceeds a LoRa frame"):
        decode(push(b'{"rxpk":[{"tmst":1,"freq":868.1,"rssi":-9,"size":256,"data":"%s"}]}'
                    % big.encode()))  # fmt: skip


def test_encode_refuses_bad_fields() -> None:
    with pytest.raises(SemtechError, match="2 bytes"):
        encode(PullAck(70_000))
    with pytest.raises(SemtechError, match="EUI"):
        encode(PullData(1, b"short"))


def test_received_frame_units() -> None:
    frame = received_frame(lora_rxpk(b"abc", freq=866.349812, rssis=-101), fallback_ms=42)
    assert frame.frequency_hz == 866_349_812, "MHz to Hz"
    assert frame.rssi == -1010, "signal RSSI preferred, tenths of dBm"
    assert frame.snr == -35, "lsnr in tenths of dB"
    assert frame.received_ms == 42, "no GPS time: the server's clock"
    unpadded = lora_rxpk(b"abcd", data=base64.b64encode(b"abcd").decode().rstrip("="))
    assert received_frame(unpadded, 0).payload == b"abcd"


# -- a real UDP socket on loopback plays the gateway's packet forwarder ------------------


class FakeGateway:
    def __init__(self, server: tuple[str, int], eui: bytes = EUI) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5.0)  # a missing answer fails the test instead of hanging it
        self.server = server
        self.eui = eui

    def send(self, datagram: bytes) -> None:
        self.sock.sendto(datagram, self.server)

    def recv(self) -> object:
        datagram, _ = self.sock.recvfrom(MAX_DATAGRAM_BYTES)
        return decode(datagram)

    def pull(self, token: int = 0x0101) -> None:
        self.send(encode(PullData(token, self.eui)))
        assert self.recv() == PullAck(token)


@pytest.fixture
def radio() -> Iterator[SemtechRadio]:
    with SemtechRadio("127.0.0.1", 0, clock=lambda: 1_700_000_000_000, tx_ack_timeout_s=2.0) as r:
        yield r


@pytest.fixture
def gateway(radio: SemtechRadio) -> Iterator[FakeGateway]:
    gw = FakeGateway(radio.address)
    try:
        yield gw
    finally:
        gw.sock.close()


def test_uplinks_become_received_frames(radio: SemtechRadio, gateway: FakeGateway) -> None:
    good = lora_rxpk(b"beacon!", time="2026-11-24T08:00:00.250000Z")
    bad_crc = lora_rxpk(b"garbled", stat=-1)
    no_time = lora_rxpk(b"later", rssi=-120, lsnr=-12.0)
    gateway.send(encode(PushData(0x0A0B, EUI, PushPayload(rxpk=[good, bad_crc, no_time]))))
    assert gateway.recv() == PushAck(0x0A0B)
    frames = radio.receive(0)
    assert [f.payload for f in frames] == [b"later", b"beacon!"], "ordered by receive time"
    later, beacon = frames
    assert later.received_ms == 1_700_000_000_000 and later.rssi == -1200 and later.snr == -120
    assert beacon.received_ms == 1_795_507_200_250 and beacon.frequency_hz == 868_100_000
    assert radio.receive(beacon.received_ms) == [beacon]


def test_transmit_sends_pull_resp_to_the_pulling_gateway(
    radio: SemtechRadio, gateway: FakeGateway
) -> None:
    frame = Frame(b"\x01\x02\x03", 868_100_000, 14)
    with pytest.raises(RadioError, match="no gateway has sent PULL_DATA"):
        radio.transmit(frame)
    gateway.pull()
    assert radio.downlink == gateway.sock.getsockname()
    result: list[int | Exception] = []

    def send() -> None:
        try:
            result.append(radio.transmit(frame))
        except RadioError as exc:
            result.append(exc)

    thread = threading.Thread(target=send)
    thread.start()
    resp = gateway.recv()
    assert isinstance(resp, PullResp)
    assert resp.txpk.imme and resp.txpk.freq == 868.1 and resp.txpk.powe == 14
    assert not resp.txpk.ipol, "uplink polarity: other gateways must hear a beacon"
    assert base64.b64decode(resp.txpk.data) == frame.payload and resp.txpk.size == 3
    gateway.send(encode(TxAck(resp.token, EUI)))
    thread.join(timeout=10)
    assert result == [1_700_000_000_000]

    thread = threading.Thread(target=send)
    thread.start()
    resp = gateway.recv()
    assert isinstance(resp, PullResp)
    gateway.send(encode(TxAck(resp.token, EUI, error="TX_FREQ")))
    thread.join(timeout=10)
    assert isinstance(result[-1], RadioError) and "TX_FREQ" in str(result[-1])


def test_missing_tx_ack_is_an_error(gateway: FakeGateway) -> None:
    with SemtechRadio("127.0.0.1", 0, tx_ack_timeout_s=0.2) as quiet:
        gw = FakeGateway(quiet.address)
        try:
            gw.pull()
            with pytest.raises(RadioError, match="no TX_ACK"):
                quiet.transmit(Frame(b"x", 868_100_000, 14))
            assert isinstance(gw.recv(), PullResp), "the gateway got it, but never answered"
        finally:
            gw.sock.close()


def test_malformed_and_foreign_datagrams_are_refused(
    radio: SemtechRadio, gateway: FakeGateway
) -> None:
    gateway.pull(0x0001)  # the first gateway heard is the radio's gateway
    gateway.send(b"\x01\x00\x02\x02" + EUI)  # protocol version 1
    gateway.send(push(b'{"rxpk":[{"tmst":1}]}'))  # missing fields: no PUSH_ACK
    stranger = FakeGateway(radio.address, eui=bytes(8))
    try:
        stranger.send(encode(PullData(0x0003, bytes(8))))
        gateway.pull(0x0004)  # answered; nothing was answered before it
    finally:
        stranger.sock.close()
    assert radio.receive(0) == []
    assert radio.downlink == gateway.sock.getsockname()
    rejected = "\n".join(radio.rejected)
    assert "protocol version 1" in rejected and "missing required field `freq`" in rejected
    assert "foreign gateway 0000000000000000" in rejected


def test_port_in_use_is_a_radio_error(radio: SemtechRadio) -> None:
    with pytest.raises(RadioError, match="cannot listen"):
        SemtechRadio(*radio.address)
