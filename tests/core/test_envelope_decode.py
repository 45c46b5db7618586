"""decode_report on hostile input: DecodeError and nothing else, ever."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from depinkit.core.canonical import canonical_decode, canonical_encode, is_canonical
from depinkit.core.envelope import (
    MAX_REPORT_BYTES,
    Report,
    ReportDomain,
    decode_report,
    decode_report_json,
    encode_report,
    sign_report,
    verify_report,
)
from depinkit.core.errors import DecodeError, InvalidSignature
from depinkit.core.keys import Account
from depinkit.networks.uptime import Heartbeat

DEVICE = Account.from_key(b"\x33" * 32)
DOMAIN = ReportDomain(chain_id=31337, registry="0x5FbDB2315678afecb367f032d93F642f64180aa3")
VALID = sign_report(
    DEVICE,
    DOMAIN,
    network="uptime",
    kind="heartbeat",
    seq=1,
    timestamp_ms=1_700_000_000_000,
    epoch=2,
    body=Heartbeat(uptime_s=60, challenge=b"\xaa" * 32),
)
VALID_BYTES = encode_report(VALID)


def _fields(**overrides: Any) -> list[Any]:
    values = [getattr(VALID, f) for f in Report.__struct_fields__]
    for name, value in overrides.items():
        values[Report.__struct_fields__.index(name)] = value
    return values


def _decode_or_decode_error(data: Any) -> Report | None:
    """Decode; the only exception allowed out is DecodeError."""
    try:
        report = decode_report(data)
    except DecodeError:
        return None
    # Whatever decodes is well-formed: it re-encodes, and verifying it can only
    # succeed or raise InvalidSignature.
    assert decode_report(encode_report(report)) == report
    with contextlib.suppress(InvalidSignature):
        verify_report(DOMAIN, report)
    return report


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=512))
@example(data=b"")
@example(data=b"\xc1")
@example(data=b"\x99")  # array of 9 with nothing after it
@example(data=b"\xdd\xff\xff\xff\xff")  # array32 claiming 4 billion items
@example(data=b"\xc6\xff\xff\xff\xff")  # bin32 claiming 4 GiB
def test_random_bytes_never_raise_anything_but_decode_error(data: bytes) -> None:
    _decode_or_decode_error(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_valid_reports_never_raise_anything_but_decode_error(data: st.DataObject) -> None:
    raw = bytearray(VALID_BYTES)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if not raw:
            break
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del raw[i]
        else:
            del raw[i:]
    _decode_or_decode_error(bytes(raw))


def test_every_truncation_is_a_decode_error() -> None:
    for cut in range(len(VALID_BYTES)):
        with pytest.raises(DecodeError):
            decode_report(VALID_BYTES[:cut])


def test_trailing_bytes_are_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode_report(VALID_BYTES + b"\x00")
    with pytest.raises(DecodeError):
        decode_report(VALID_BYTES + VALID_BYTES)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(_fields()[:-1], id="missing-signature"),
        pytest.param([*_fields(), b"extra"], id="extra-field"),
        pytest.param(_fields(version=2), id="version-2"),
        pytest.param(_fields(version=0), id="version-0"),
        pytest.param(_fields(version="1"), id="version-str"),
        pytest.param(_fields(network="Uptime"), id="network-uppercase"),
        pytest.param(_fields(network=""), id="network-empty"),
        pytest.param(_fields(network="uptime\n"), id="network-trailing-newline"),
        pytest.param(_fields(kind="heartbeat\n"), id="kind-trailing-newline"),
        pytest.param(_fields(network="a" * 33), id="network-long"),
        pytest.param(_fields(network=b"uptime"), id="network-bytes"),
        pytest.param(_fields(kind="heart/beat"), id="kind-slash"),
        pytest.param(_fields(device=DEVICE.address.lower()), id="device-lowercase"),
        pytest.param(_fields(device=DEVICE.address[:-1]), id="device-short"),
        pytest.param(_fields(device=bytes.fromhex(DEVICE.address[2:])), id="device-bytes"),
        pytest.param(_fields(seq=-1), id="seq-negative"),
        pytest.param(_fields(seq=2**63), id="seq-2^63"),
        pytest.param(_fields(seq=2**64 - 1), id="seq-u64-max"),
        pytest.param(_fields(seq=1.0), id="seq-float"),
        pytest.param(_fields(seq=True), id="seq-bool"),
        pytest.param(_fields(seq=None), id="seq-nil"),
        pytest.param(_fields(timestamp_ms=-5), id="timestamp-negative"),
        pytest.param(_fields(epoch="2"), id="epoch-str"),
        pytest.param(_fields(body="not base64!"), id="body-str"),
        pytest.param(_fields(body=[1, 2]), id="body-array"),
        pytest.param(_fields(signature=VALID.signature[:64]), id="signature-64"),
        pytest.param(_fields(signature=VALID.signature + b"\x00"), id="signature-66"),
        pytest.param(_fields(signature=VALID.signature.hex()), id="signature-hex-str"),
        pytest.param(dict(zip(Report.__struct_fields__, _fields(), strict=True)), id="map-form"),
        pytest.param(5, id="int"),
        pytest.param(None, id="nil"),
    ],
)
def test_wrongly_typed_or_out_of_range_fields_are_decode_errors(value: Any) -> None:
    data = msgspec.msgpack.encode(value)
    with pytest.raises(DecodeError):
        decode_report(data)
    with pytest.raises(DecodeError):
        decode_report_json(msgspec.json.encode(value))


def test_oversized_input_is_refused_before_decoding() -> None:
    with pytest.raises(DecodeError, match="limit"):
        decode_report(VALID_BYTES + b"\x00" * MAX_REPORT_BYTES)
    big = msgspec.msgpack.encode(_fields(body=b"\x00" * MAX_REPORT_BYTES))
    assert len(big) > MAX_REPORT_BYTES
    with pytest.raises(DecodeError):
        decode_report(big)
    with pytest.raises(DecodeError):
        decode_report_json(msgspec.json.encode(_fields(body=b"\x00" * (MAX_REPORT_BYTES - 50))))


def test_largest_allowed_report_decodes() -> None:
    overhead = len(msgspec.msgpack.encode(_fields(body=b"")))
    # bin16 header is 3 bytes where the empty bin8 header was 2.
    body = b"\x00" * (MAX_REPORT_BYTES - overhead - 1)
    data = msgspec.msgpack.encode(_fields(body=body))
    assert len(data) == MAX_REPORT_BYTES
    assert decode_report(data).body == body


@pytest.mark.parametrize("value", ["text", 5, None, [1, 2], bytearray(VALID_BYTES)])
def test_non_bytes_input(value: Any) -> None:
    if isinstance(value, bytearray):
        assert decode_report(value) == VALID
        assert decode_report(memoryview(value)) == VALID
    else:
        with pytest.raises(DecodeError):
            decode_report(value)


def test_non_canonical_wire_encoding_decodes_to_the_same_id() -> None:
    """A relay may re-encode (e.g. widen ints); the id is over the canonical form."""
    widened = bytearray(VALID_BYTES)
    # seq=1 is a positive fixint (0x01) right after the device string; re-encode as uint8.
    values = _fields()
    prefix = msgspec.msgpack.encode(values[:4])[1:]  # drop the array header of the 4-item list
    assert bytes(widened[1 : 1 + len(prefix)]) == prefix
    head = 1 + len(prefix)
    assert widened[head] == 0x01
    widened[head : head + 1] = b"\xcc\x01"
    report = decode_report(bytes(widened))
    assert report == VALID
    assert verify_report(DOMAIN, report) == verify_report(DOMAIN, VALID)
    assert not is_canonical(bytes(widened), Report)
    assert is_canonical(VALID_BYTES, Report)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.binary(max_size=20)
        | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(st.text(max_size=5), children, max_size=5)
        ),
        max_leaves=20,
    )
)
def test_canonical_encoding_is_deterministic_for_plain_data(value: Any) -> None:
    once = canonical_encode(value)
    assert canonical_encode(canonical_decode(once, Any)) == once  # type: ignore[arg-type]
    if isinstance(value, dict):
        reordered = dict(reversed(list(value.items())))
        assert canonical_encode(reordered) == once


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x91" * 100_000 + b"\xc0", id="deep-arrays"),
        pytest.param(b"\x81\xa1k" * 100_000 + b"\xc0", id="deep-maps"),
        pytest.param(b"\x99" + b"\x91" * 100_000 + b"\xc0", id="deep-in-report"),
    ],
)
def test_hostile_nesting_is_a_decode_error_for_typed_decodes(data: bytes) -> None:
    # Typed decodes stop at the first wrongly nested level. (Untyped decodes of
    # such input can overflow the C stack once py_ecc has raised the recursion
    # limit, which is why nothing decodes untrusted data untyped.)
    with pytest.raises(DecodeError):
        canonical_decode(data, Heartbeat)
    with pytest.raises(DecodeError):
        canonical_decode(data[: MAX_REPORT_BYTES - 1], Report)
    with pytest.raises(DecodeError):
        decode_report(data[:MAX_REPORT_BYTES])
    with pytest.raises(DecodeError):
        decode_report_json(b"[" * 20_000)


def test_invalid_utf8_is_a_decode_error() -> None:
    # msgspec raises UnicodeDecodeError here, not its own DecodeError.
    bad = msgspec.msgpack.encode(_fields(network="uptime")).replace(b"uptime", b"upt\xffme")
    with pytest.raises(DecodeError):
        decode_report(bad)
    with pytest.raises(DecodeError):
        canonical_decode(b"\xa2\xff\xfe", Any)  # type: ignore[arg-type]
    with pytest.raises(DecodeError):
        decode_report_json(b'[1, "\xff"]')
