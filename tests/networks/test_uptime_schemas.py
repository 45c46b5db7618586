"""The uptime network's heartbeat body inside a signed report."""

from __future__ import annotations

import msgspec
import pytest

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import (
    ReportDomain,
    decode_body,
    decode_report,
    encode_report,
    sign_report,
    verify_report,
)
from depinkit.core.errors import DecodeError
from depinkit.core.keys import Account
from depinkit.networks import default_registry
from depinkit.networks.uptime import HEARTBEAT, NAME, Heartbeat, network_spec
from depinkit.networks.uptime.schemas import MAX_CHALLENGE_BYTES

DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")


def test_spec() -> None:
    assert network_spec() == network_spec()
    assert network_spec().name == NAME == "uptime"
    assert network_spec().kinds[HEARTBEAT] is Heartbeat


def test_heartbeat_through_the_envelope() -> None:
    device = Account.generate()
    beat = Heartbeat(uptime_s=86_400, challenge=b"\x07" * 32)
    report = sign_report(
        device, DOMAIN, network=NAME, kind=HEARTBEAT, seq=0, timestamp_ms=1, epoch=0, body=beat
    )
    received = decode_report(encode_report(report))
    verify_report(DOMAIN, received)
    body_type = default_registry(plugins=lambda: []).body_type(received.network, received.kind)
    assert decode_body(received, body_type) == beat


def test_heartbeat_encoding_is_compact_and_canonical() -> None:
    assert canonical_encode(Heartbeat(uptime_s=5)) == b"\x92\x05\xc4\x00"
    assert Heartbeat(uptime_s=5).challenge == b""


@pytest.mark.parametrize(
    "value",
    [
        [-1, b""],
        [2**63, b""],
        ["5", b""],
        [5, "challenge"],
        [5, b"\x00" * (MAX_CHALLENGE_BYTES + 1)],
        [5, b"", b"extra"],
        {"uptime_s": 5},
        [],
    ],
)
def test_bad_heartbeats_are_decode_errors(value: object) -> None:
    device = Account.generate()
    report = sign_report(
        device,
        DOMAIN,
        network=NAME,
        kind=HEARTBEAT,
        seq=0,
        timestamp_ms=1,
        epoch=0,
        body=Heartbeat(uptime_s=1),
    )
    bad = msgspec.structs.replace(report, body=msgspec.msgpack.encode(value))
    with pytest.raises(DecodeError):
        decode_body(bad, Heartbeat)
