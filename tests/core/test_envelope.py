"""The signed report envelope: deterministic bytes, binding signatures, stable ids."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from eth_account import Account as EthAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depinkit.core.canonical import canonical_encode
from depinkit.core.envelope import (
    MAX_REPORT_BYTES,
    REPORT_VERSION,
    Report,
    ReportDomain,
    UnsignedReport,
    decode_body,
    decode_report,
    decode_report_json,
    encode_report,
    encode_report_json,
    report_digest,
    report_id,
    report_id_hex,
    sign_report,
    verify_report,
)
from depinkit.core.errors import DecodeError, InvalidSignature
from depinkit.core.keys import Account, keccak256
from depinkit.networks.uptime import Heartbeat

DEVICE = Account.from_key(b"\x11" * 32)
OTHER = Account.from_key(b"\x22" * 32)
DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")

U63 = 2**63 - 1
names = st.from_regex(r"\A[a-z0-9_-]{1,32}\Z")
u63 = st.integers(min_value=0, max_value=U63)
bodies = st.builds(Heartbeat, uptime_s=u63, challenge=st.binary(max_size=64))


def _sign(account: Account = DEVICE, domain: ReportDomain = DOMAIN, **overrides: Any) -> Report:
    fields: dict[str, Any] = {
        "network": "uptime",
        "kind": "heartbeat",
        "seq": 7,
        "timestamp_ms": 1_700_000_000_000,
        "epoch": 3,
        "body": Heartbeat(uptime_s=3600, challenge=b"\x01" * 32),
    }
    fields.update(overrides)
    return sign_report(account, domain, **fields)


@st.composite
def signed_reports(draw: st.DrawFn) -> Report:
    return _sign(
        network=draw(names),
        kind=draw(names),
        seq=draw(u63),
        timestamp_ms=draw(u63),
        epoch=draw(u63),
        body=draw(bodies),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report=signed_reports())
def test_sign_verify_round_trip(report: Report) -> None:
    data = encode_report(report)
    decoded = decode_report(data)
    assert decoded == report
    assert encode_report(decoded) == data
    assert verify_report(DOMAIN, decoded) == report_id(DOMAIN, report)
    assert decode_body(decoded, Heartbeat) == msgspec.msgpack.decode(report.body, type=Heartbeat)
    assert decode_report_json(encode_report_json(report)) == report


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report=signed_reports())
def test_canonical_bytes_are_a_fixed_point(report: Report) -> None:
    once = encode_report(report)
    assert encode_report(decode_report(encode_report(decode_report(once)))) == once
    assert canonical_encode(report.unsigned()) == canonical_encode(decode_report(once).unsigned())


def test_digest_layout_matches_spec() -> None:
    report = _sign()
    separator = keccak256(
        b"depinkit/report/v1"
        + DOMAIN.chain_id.to_bytes(32, "big")
        + bytes.fromhex(DOMAIN.registry[2:])
    )
    assert DOMAIN.separator() == separator
    expected = keccak256(
        b"\x19depinkit" + separator + keccak256(canonical_encode(report.unsigned()))
    )
    assert report_digest(DOMAIN, report.unsigned()) == expected
    assert report_id(DOMAIN, report) == expected
    # An Ethereum wallet recovers the same device from the report signature.
    assert EthAccount._recover_hash(expected, signature=report.signature) == DEVICE.address


def test_report_id_is_content_addressed() -> None:
    a, b = _sign(), _sign()
    assert a == b and report_id(DOMAIN, a) == report_id(DOMAIN, b)
    assert report_id(DOMAIN, a) != report_id(DOMAIN, _sign(seq=8))
    hex_id = report_id_hex(report_id(DOMAIN, a))
    assert hex_id.startswith("0x") and len(hex_id) == 66 and hex_id == hex_id.lower()
    assert bytes.fromhex(hex_id[2:]) == report_id(DOMAIN, a)
    assert report_id(DOMAIN, a) == report_id(DOMAIN, a.unsigned())


def test_report_id_does_not_depend_on_the_signature_bytes() -> None:
    report = _sign()
    resigned = msgspec.structs.replace(report, signature=b"\x00" * 65)
    assert report_id(DOMAIN, resigned) == report_id(DOMAIN, report)


HEADER_MUTATIONS: dict[str, Any] = {
    "version": 2,
    "network": "storage",
    "kind": "audit",
    "device": OTHER.address,
    "seq": 8,
    "timestamp_ms": 1_700_000_000_001,
    "epoch": 4,
    "body": canonical_encode(Heartbeat(uptime_s=3601, challenge=b"\x01" * 32)),
}


@pytest.mark.parametrize("field", sorted(HEADER_MUTATIONS))
def test_changing_any_field_breaks_verification(field: str) -> None:
    report = _sign()
    tampered = msgspec.structs.replace(report, **{field: HEADER_MUTATIONS[field]})
    with pytest.raises(InvalidSignature):
        verify_report(DOMAIN, tampered)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report=signed_reports(), data=st.data())
def test_changing_any_body_or_signature_byte_breaks_verification(
    report: Report, data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from(["body", "signature"]))
    original: bytes = getattr(report, target)
    index = data.draw(st.integers(0, len(original) - 1))
    bit = data.draw(st.integers(0, 7))
    mutated = bytearray(original)
    mutated[index] ^= 1 << bit
    tampered = msgspec.structs.replace(report, **{target: bytes(mutated)})
    with pytest.raises(InvalidSignature):
        verify_report(DOMAIN, tampered)


@pytest.mark.parametrize(
    "domain",
    [
        ReportDomain(chain_id=1, registry=DOMAIN.registry),
        ReportDomain(chain_id=31338, registry=DOMAIN.registry),
        ReportDomain(chain_id=31337, registry="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
    ],
)
def test_signature_for_another_domain_is_rejected(domain: ReportDomain) -> None:
    report = _sign()
    with pytest.raises(InvalidSignature):
        verify_report(domain, report)
    assert report_id(domain, report) != report_id(DOMAIN, report)


def test_report_signed_by_a_but_claiming_b_is_rejected() -> None:
    # OTHER signs a report whose device field says DEVICE.
    unsigned = msgspec.structs.replace(_sign(account=OTHER).unsigned(), device=DEVICE.address)
    forged = Report(
        **msgspec.structs.asdict(unsigned),
        signature=OTHER.sign_digest(report_digest(DOMAIN, unsigned)),
    )
    decoded = decode_report(encode_report(forged))  # well-formed on the wire...
    with pytest.raises(InvalidSignature, match="signed by"):
        verify_report(DOMAIN, decoded)  # ...but not DEVICE's signature


def test_high_s_report_signature_is_rejected() -> None:
    report = _sign()
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(report.signature[32:64], "big")
    twin = report.signature[:32] + (n - s).to_bytes(32, "big") + bytes((55 - report.signature[64],))
    with pytest.raises(InvalidSignature):
        verify_report(DOMAIN, msgspec.structs.replace(report, signature=twin))


@pytest.mark.parametrize(
    "overrides",
    [
        {"network": "Uptime"},
        {"network": ""},
        {"network": "x" * 33},
        {"kind": "heart beat"},
        {"seq": -1},
        {"seq": 2**63},
        {"timestamp_ms": -1},
        {"epoch": 2**63},
        {"body": Heartbeat(uptime_s=1, challenge=b"\x00" * 65)},
    ],
)
def test_sign_report_refuses_out_of_range_fields(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _sign(**overrides)


def test_sign_report_refuses_oversized_report() -> None:
    class Blob(msgspec.Struct, array_like=True):
        data: bytes

    with pytest.raises(ValueError):
        _sign(body=Blob(data=b"\x00" * MAX_REPORT_BYTES))


def test_domain_validation() -> None:
    with pytest.raises(ValueError):
        ReportDomain(chain_id=-1, registry=DOMAIN.registry)
    with pytest.raises(ValueError):
        ReportDomain(chain_id=2**256, registry=DOMAIN.registry)
    with pytest.raises(ValueError):
        ReportDomain(chain_id=1, registry="0x1234")


def test_version_is_one() -> None:
    assert REPORT_VERSION == 1
    assert _sign().version == 1


def test_decode_body_refuses_wrong_type_and_non_canonical_body() -> None:
    report = _sign()
    with pytest.raises(DecodeError):
        decode_body(msgspec.structs.replace(report, body=b"\xc1"), Heartbeat)
    with pytest.raises(DecodeError):
        decode_body(msgspec.structs.replace(report, body=canonical_encode(["x"])), Heartbeat)
    # [5] decodes to Heartbeat(5, b"") but is not its canonical encoding [5, b""].
    short = msgspec.msgpack.encode([5])
    assert msgspec.msgpack.decode(short, type=Heartbeat) == Heartbeat(uptime_s=5)
    with pytest.raises(DecodeError, match="canonical"):
        decode_body(msgspec.structs.replace(report, body=short), Heartbeat)
    # An int in a wider encoding than needed: same value, different bytes.
    wide = b"\x92\xce\x00\x00\x00\x05\xc4\x00"  # [uint32 5, bin8 ""]
    assert msgspec.msgpack.decode(wide, type=Heartbeat) == Heartbeat(uptime_s=5)
    with pytest.raises(DecodeError, match="canonical"):
        decode_body(msgspec.structs.replace(report, body=wide), Heartbeat)


def test_unsigned_and_signed_share_the_header_layout() -> None:
    unsigned_fields = UnsignedReport.__struct_fields__
    assert Report.__struct_fields__ == (*unsigned_fields, "signature")


field_values: dict[str, st.SearchStrategy[Any]] = {
    "network": names,
    "kind": names,
    "device": st.binary(min_size=32, max_size=32)
    .filter(lambda k: 0 < int.from_bytes(k, "big") < 2**256 - 2**130)
    .map(lambda k: Account.from_key(k).address),
    "seq": u63,
    "timestamp_ms": u63,
    "epoch": u63,
    "body": bodies.map(canonical_encode),
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report=signed_reports(), data=st.data())
def test_any_different_valid_field_value_breaks_verification(
    report: Report, data: st.DataObject
) -> None:
    field = data.draw(st.sampled_from(sorted(field_values)))
    value = data.draw(field_values[field].filter(lambda v: v != getattr(report, field)))
    tampered = decode_report(encode_report(msgspec.structs.replace(report, **{field: value})))
    assert report_id(DOMAIN, tampered) != report_id(DOMAIN, report)
    with pytest.raises(InvalidSignature):
        verify_report(DOMAIN, tampered)
