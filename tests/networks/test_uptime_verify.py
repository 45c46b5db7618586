"""Uptime verify and score: every rejection reason, and what an accepted heartbeat earns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from uptime_kit import ACCOUNTS, EPOCH_MS, OWNER, START_MS, context, devices, heartbeat

from depinkit.networks import (
    INACTIVE_DEVICE,
    MALFORMED_BODY,
    NETWORK_MISMATCH,
    OUTSIDE_EPOCH,
    UNKNOWN_DEVICE,
    UNKNOWN_KIND,
    WRONG_EPOCH,
    WRONG_NETWORK,
    DeviceView,
    NetworkError,
    ReceivedReport,
    Verdict,
    run_module,
)
from depinkit.networks.uptime import (
    BAD_CHALLENGE,
    BUCKET,
    DUPLICATE_SLOT,
    MISSING_CHALLENGE,
    Heartbeat,
    module,
)

A, B = ACCOUNTS[0], ACCOUNTS[1]


def _one(item: ReceivedReport, **ctx_args: Any) -> Verdict:
    verdicts = module().verify(context(**ctx_args), [item])
    assert len(verdicts) == 1 and verdicts[0].report_id == item.id
    assert verdicts[0].device == item.report.device
    return verdicts[0]


def test_a_good_heartbeat_is_accepted_with_its_slot() -> None:
    verdict = _one(heartbeat(A, slot=3, offset_ms=1234))
    assert verdict.accepted and verdict.reason == "" and verdict.facts == {"slot": 3}


def _bad_body(item: ReceivedReport, body: bytes) -> ReceivedReport:
    return ReceivedReport(id=item.id, report=msgspec.structs.replace(item.report, body=body))


REJECTIONS = [
    (lambda: heartbeat(A, network="storage"), {}, WRONG_NETWORK),
    (lambda: heartbeat(A, kind="audit"), {}, UNKNOWN_KIND),
    (lambda: _bad_body(heartbeat(A), msgspec.msgpack.encode({"uptime_s": 5})), {}, MALFORMED_BODY),
    (lambda: _bad_body(heartbeat(A), b"\x92\xcc\x05\xc4\x00"), {}, MALFORMED_BODY),  # non-canonical
    (lambda: heartbeat(A, epoch=6), {}, WRONG_EPOCH),
    (lambda: heartbeat(A, timestamp_ms=START_MS - 1), {}, OUTSIDE_EPOCH),
    (lambda: heartbeat(A, timestamp_ms=START_MS + EPOCH_MS), {}, OUTSIDE_EPOCH),
    (lambda: heartbeat(A), {"device_map": {}}, UNKNOWN_DEVICE),
    (
        lambda: heartbeat(A),
        {"device_map": {A.address: DeviceView(owner=OWNER, network="storage")}},
        NETWORK_MISMATCH,
    ),
    (
        lambda: heartbeat(A),
        {"device_map": {A.address: DeviceView(owner=OWNER, network=None)}},
        NETWORK_MISMATCH,
    ),
    (lambda: heartbeat(A), {"device_map": devices("unbonding")}, INACTIVE_DEVICE),
    (lambda: heartbeat(A), {"device_map": devices("withdrawn")}, INACTIVE_DEVICE),
    (lambda: heartbeat(A, challenge=b""), {}, MISSING_CHALLENGE),
    (lambda: heartbeat(A, slot=0, challenge_slot=1), {}, BAD_CHALLENGE),  # another slot's
    (lambda: heartbeat(A, challenge=b"\x00" * 16), {}, BAD_CHALLENGE),
    (lambda: heartbeat(A, challenge=heartbeat(B).report.body[-16:]), {}, BAD_CHALLENGE),
    (lambda: heartbeat(A), {"entropy": b"\x01" * 32}, BAD_CHALLENGE),  # another epoch's entropy
]


@pytest.mark.parametrize(("build", "ctx_args", "reason"), REJECTIONS)
def test_each_rejection_has_its_reason(
    build: Callable[[], ReceivedReport], ctx_args: dict[str, Any], reason: str
) -> None:
    verdict = _one(build(), **ctx_args)
    assert not verdict.accepted
    assert verdict.reason == reason and verdict.detail and verdict.facts == {}


def test_a_second_heartbeat_in_a_slot_is_a_duplicate_and_the_earliest_counts() -> None:
    early, late = heartbeat(A, slot=2, offset_ms=5, seq=1), heartbeat(A, slot=2, offset_ms=9, seq=2)
    verdicts = {v.report_id: v for v in module().verify(context(), [late, early])}
    assert verdicts[early.id].accepted
    assert verdicts[late.id].reason == DUPLICATE_SLOT
    assert "0x" + early.id.hex() in verdicts[late.id].detail
    scores = module().score(context(), list(verdicts.values()))
    assert scores == {BUCKET: {A.address: 1}}


def test_the_same_report_twice_gets_one_verdict() -> None:
    item = heartbeat(A)
    verdicts = module().verify(context(), [item, item])
    assert [v.report_id for v in verdicts] == [item.id] and verdicts[0].accepted


def test_points_count_distinct_slots_per_device() -> None:
    reports = [heartbeat(A, slot=s, seq=s) for s in (0, 2, 5)] + [
        heartbeat(B, slot=1),
        heartbeat(B, slot=4, challenge=b"\xff" * 16, seq=1),
    ]
    verdicts, scores = run_module(module(), context(), reports)
    assert scores == {BUCKET: {A.address: 3, B.address: 1}}
    assert [v.report_id for v in verdicts] == sorted(r.id for r in reports)


def test_score_ignores_rejected_verdicts_and_slots_outside_the_epoch() -> None:
    item = heartbeat(A)
    verdicts = [
        Verdict(item.id, A.address, True, facts={"slot": 6}),  # six slots: 0..5
        Verdict(item.id, A.address, True, facts={"slot": -1}),
        Verdict(item.id, A.address, False, BAD_CHALLENGE, "x", facts={"slot": 1}),
        Verdict(item.id, B.address, True),  # no slot fact
    ]
    assert module().score(context(), verdicts) == {BUCKET: {}}


def test_the_last_slot_may_be_short() -> None:
    # 65 s epoch with 10 s slots: seven slots, the last 5 s long.
    item = heartbeat(A, slot=6, offset_ms=4_999)
    verdicts, scores = run_module(module(), context(epoch_ms=65_000), [item])
    assert verdicts[0].facts == {"slot": 6} and scores[BUCKET] == {A.address: 1}


def test_slot_length_scales_with_the_parameter() -> None:
    # An hour-long slot (the default) on a one-minute epoch: one slot, one point at most.
    reports = [heartbeat(A, slot=0, offset_ms=s * 10_000, seq=s, slot_s=3600) for s in range(6)]
    verdicts, scores = run_module(module(), context(slot_s=3600), reports)
    assert sum(v.accepted for v in verdicts) == 1 and scores[BUCKET] == {A.address: 1}


def test_context_without_the_slot_parameter_is_an_error() -> None:
    ctx = context()
    bare = type(ctx)(ctx.network, ctx.epoch, ctx.start_ms, ctx.end_ms, ctx.entropy)
    with pytest.raises(NetworkError, match="slot_s"):
        module().verify(bare, [heartbeat(A)])


def test_verify_never_changes_its_inputs() -> None:
    items = [heartbeat(A), heartbeat(B, challenge=b"")]
    before = [msgspec.msgpack.encode(i) for i in items]
    ctx = context()
    module().verify(ctx, items)
    assert [msgspec.msgpack.encode(i) for i in items] == before
    assert ctx.parameters == {"slot_s": 10}


def test_body_type_is_the_heartbeat() -> None:
    assert module().kinds == {"heartbeat": Heartbeat}


def test_two_reports_under_one_id_resolve_the_same_in_any_order() -> None:
    # Ids are digests, so this needs a caller bug; the result must still not depend on order.
    good, other = heartbeat(A), heartbeat(A, challenge=b"")
    forged = ReceivedReport(id=good.id, report=other.report)
    ctx = context()
    assert module().verify(ctx, [good, forged]) == module().verify(ctx, [forged, good])
