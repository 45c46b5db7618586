"""Bad input thrown at the real HTTP service: a specific 4xx, and the store unchanged."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depinkit.core import MAX_REPORT_BYTES, Account, ReportDomain, encode_report, encode_report_json
from depinkit.core.envelope import Report
from depinkit.oracle.store import DeviceStatus, ReportRow

from .conftest import NOW_MS, Ingest, make_report

EXAMPLES = 25  # per property and backend: each example is one HTTP round trip

_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

names = st.from_regex(r"[a-z0-9_-]{1,32}", fullmatch=True)
u63 = st.integers(min_value=0, max_value=2**63 - 1)


class World:
    """The devices and the one stored report every example starts from."""

    def __init__(self, ingest: Ingest, add: Callable[..., Account], domain: ReportDomain) -> None:
        self.ingest = ingest
        self.domain = domain
        self.device = add()
        self.retired = add(status=DeviceStatus.UNBONDING)
        self.stored = make_report(self.device, domain, seq=7)
        assert ingest.post(encode_report(self.stored)).status_code == 200
        self.snapshot = self.contents()

    def contents(self) -> list[ReportRow]:
        return self.ingest.store.list_reports(limit=1000)

    def expect_rejected(self, body: bytes, code: str, media: str = "application/msgpack") -> None:
        reply = self.ingest.post(body, media)
        assert 400 <= reply.status_code < 500, reply.text
        assert reply.json()["code"] == code, reply.text
        assert self.ingest.store.count_reports() == len(self.snapshot)
        assert self.contents() == self.snapshot


@pytest.fixture
def world(ingest: Ingest, add_device: Callable[..., Account], domain: ReportDomain) -> World:
    return World(ingest, add_device, domain)


def _decodes(data: bytes) -> bool:
    try:
        msgspec.msgpack.decode(data, type=Report)
    except (msgspec.MsgspecError, ValueError):
        return False
    return True


@_settings
@given(data=st.binary(min_size=1, max_size=512))
def test_garbage_is_malformed(world: World, data: bytes) -> None:
    if _decodes(data) or data[0] in (*range(0x80, 0x90), 0xDE, 0xDF):
        return  # a (batch) map is judged as a batch; see the truncation test
    world.expect_rejected(data, "malformed")


@_settings
@given(cut=st.integers(min_value=1, max_value=200), seq=u63, json=st.booleans())
def test_truncated_reports_are_malformed(world: World, cut: int, seq: int, json: bool) -> None:
    report = make_report(world.device, world.domain, seq=seq)
    encoded = encode_report_json(report) if json else encode_report(report)
    body = encoded[: max(1, len(encoded) - cut)]
    world.expect_rejected(body, "malformed", "application/json" if json else "application/msgpack")


@_settings
@given(extra=st.integers(min_value=1, max_value=4096))
def test_oversized_reports_are_too_large(world: World, extra: int) -> None:
    body = make_report(world.device, world.domain, seq=1, body=b"\x00" * 16)
    oversized = encode_report(body) + b"\x00" * (MAX_REPORT_BYTES + extra)
    world.expect_rejected(oversized, "too_large")


@_settings
@given(
    seq=u63,
    how=st.sampled_from(["other_key", "other_domain", "flip_r", "v", "high_s"]),
)
def test_wrongly_signed_reports(world: World, seq: int, how: str) -> None:
    if how == "other_key":
        report = make_report(Account.generate(), world.domain, seq=seq, device=world.device.address)
    elif how == "other_domain":
        other = ReportDomain(chain_id=world.domain.chain_id + 1, registry=world.domain.registry)
        report = make_report(world.device, other, seq=seq)
    else:
        report = make_report(world.device, world.domain, seq=seq)
        sig = bytearray(report.signature)
        if how == "flip_r":
            sig[5] ^= 0x01
        elif how == "v":
            sig[64] = 29
        else:  # s -> n - s: the malleable twin of a valid signature
            n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
            s = int.from_bytes(sig[32:64], "big")
            sig[32:64] = (n - s).to_bytes(32, "big")
            sig[64] ^= 0x01  # 27 <-> 28
        report = msgspec.structs.replace(report, signature=bytes(sig))
    world.expect_rejected(encode_report(report), "bad_signature")


@_settings
@given(uptime=st.integers(min_value=0, max_value=2**40), epoch=u63)
def test_replayed_seq_with_other_content(world: World, uptime: int, epoch: int) -> None:
    body = msgspec.msgpack.encode([uptime, b"replay"])
    report = make_report(world.device, world.domain, seq=7, epoch=epoch, body=body)
    world.expect_rejected(encode_report(report), "seq_replayed")


@_settings
@given(skew=st.integers(min_value=1, max_value=2**40), future=st.booleans(), seq=u63)
def test_timestamps_outside_the_window(world: World, skew: int, future: bool, seq: int) -> None:
    s = world.ingest.settings
    ts = NOW_MS + s.max_future_ms + skew if future else NOW_MS - s.max_age_ms - skew
    report = make_report(world.device, world.domain, seq=seq, timestamp_ms=ts)
    world.expect_rejected(
        encode_report(report), "timestamp_in_future" if future else "timestamp_too_old"
    )


@_settings
@given(
    who=st.sampled_from(["stranger", "retired"]),
    network=names,
    kind=names,
    seq=u63,
)
def test_unknown_devices_networks_and_kinds(
    world: World, who: str, network: str, kind: str, seq: int
) -> None:
    stranger = make_report(Account.generate(), world.domain, seq=seq)
    retired = make_report(world.retired, world.domain, seq=seq)
    world.expect_rejected(
        encode_report(stranger if who == "stranger" else retired),
        "unknown_device" if who == "stranger" else "inactive_device",
    )
    if network not in ("uptime", "weather"):
        unknown = make_report(world.device, world.domain, seq=seq, network=network, kind=kind)
        world.expect_rejected(encode_report(unknown), "unknown_network")
    if kind != "heartbeat":
        report = make_report(world.device, world.domain, seq=seq, kind=kind)
        world.expect_rejected(encode_report(report), "unknown_kind")


@_settings
@given(body=st.binary(max_size=64), seq=u63)
def test_bodies_that_are_not_the_kind(world: World, body: bytes, seq: int) -> None:
    try:
        value = msgspec.msgpack.decode(body, type=list[int | bytes])
        if len(value) in (1, 2) and msgspec.msgpack.encode(value) == body:
            return  # might be a valid Heartbeat
    except msgspec.MsgspecError:
        pass
    report = make_report(world.device, world.domain, seq=seq, body=body)
    world.expect_rejected(encode_report(report), "malformed_body")
