"""The reward manifest: contents, canonical bytes, hash, audit, refused input."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.core.keys import keccak256
from depinkit.oracle.rewards import (
    MANIFEST_VERSION,
    EmissionSchedule,
    RewardManifest,
    RewardManifestError,
    VerdictRecord,
    build_manifest,
    check_manifest,
    compute_epoch_rewards,
    decode_manifest,
    decode_manifest_json,
    encode_manifest,
    manifest_hash,
    manifest_json,
)

from .strategies import DEVICES, owners_of, worlds

A, B, C = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
X, Y, Z = "0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20
SCHEDULE = EmissionSchedule(initial=1_000_000, halving_epochs=0, cap=10**12)
R1, R2, R3 = b"\x01" * 32, b"\x02" * 32, "0x" + "03" * 32


def example(verdicts: list[VerdictRecord] | None = None, **changes: object) -> RewardManifest:
    """The worked example of docs/rewards.md as a manifest."""
    kwargs: dict[str, Any] = {
        "epoch": 0,
        "schedule": SCHEDULE,
        "carry_in": 7,
        "weights": {"storage": 6_000, "uptime": 3_000},
        "splits": {
            "storage": {"capacity": 7_000, "retrieval": 3_000},
            "uptime": {"online": 10_000},
        },
        "scores": {"storage": {"capacity": {A: 1, B: 2}}, "uptime": {"online": {A: 0, C: 5}}},
        "owners": {A: X, B: X, C: Y},
        "previous": {X: 500, Z: 42},
        "verdicts": verdicts
        if verdicts is not None
        else [
            VerdictRecord(
                report_id=R2, device=A, accepted=False, reason="stale", detail="old challenge"
            ),
            VerdictRecord(report_id=R1, device=A, accepted=False, reason="bad proof"),
            VerdictRecord(report_id=R3, device=B, accepted=True),
        ],
    }
    kwargs.update(changes)
    return compute_epoch_rewards(**kwargs).manifest


def test_worked_example() -> None:
    m = example()
    assert m.version == MANIFEST_VERSION
    assert (m.emission, m.carry_in, m.paid, m.carry_out) == ("1000000", "7", "720003", "280004")
    assert m.parameters.weights == {"storage": 6_000, "uptime": 3_000}
    assert m.parameters.schedule.initial == "1000000"
    storage = m.networks[0]
    assert storage.network == "storage" and (storage.share, storage.paid) == ("600004", "420001")
    assert [(b.bucket, b.share, b.points, b.paid) for b in storage.buckets] == [
        ("capacity", "420002", "3", "420001"),
        ("retrieval", "180001", "0", "0"),
    ]
    a, b, c = m.devices
    assert (a.device, a.owner, a.reward) == (A, X, "140000")
    assert [(x.network, x.bucket, x.points, x.reward) for x in a.buckets] == [
        ("storage", "capacity", 1, "140000"),
        ("uptime", "online", 0, "0"),
    ]
    assert (a.accepted, a.rejected) == (0, 2)
    assert [(r.report, r.reason, r.detail) for r in a.rejections] == [
        ("0x" + "01" * 32, "bad proof", ""),
        ("0x" + "02" * 32, "stale", "old challenge"),
    ]
    assert (b.accepted, b.rejected, b.reward) == (1, 0, "280001")
    assert (c.owner, c.reward) == (Y, "300002")
    assert [(o.account, o.credited, o.cumulative) for o in m.owners] == [
        (X, "420001", "420501"),
        (Y, "300002", "300002"),
        (Z, "0", "42"),
    ]
    assert (m.previous_total, m.total_cumulative) == ("542", "720545")
    check_manifest(m)


def test_a_device_known_only_by_its_reports_is_listed() -> None:
    stranger = "0x" + "dd" * 20
    m = example([VerdictRecord(report_id=R1, device=stranger, accepted=False, reason="unknown")])
    entry = next(d for d in m.devices if d.device == stranger)
    assert (entry.owner, entry.reward, entry.rejected, entry.buckets) == (None, "0", 1, [])
    check_manifest(m)


def test_encodings_round_trip_and_hash_is_keccak_of_the_bytes() -> None:
    m = example()
    data = encode_manifest(m)
    assert decode_manifest(data) == m
    assert decode_manifest_json(manifest_json(m)) == m
    assert manifest_hash(m) == keccak256(data)
    assert b'"total_cumulative":"720545"' in manifest_json(m)


def test_uint256_amounts_survive_both_encodings() -> None:
    big = EmissionSchedule(initial=2**255, halving_epochs=0, cap=2**256 - 1)
    m = example(schedule=big)
    assert int(m.emission) == 2**255
    assert decode_manifest(encode_manifest(m)) == m
    assert decode_manifest_json(manifest_json(m)) == m
    check_manifest(m)


@settings(max_examples=40)
@given(world=worlds(), owners=owners_of, emission=st.integers(0, 10**24), seed=st.integers())
def test_two_oracles_produce_the_same_bytes(world, owners, emission, seed) -> None:
    """Same inputs in a different dict order and address case: byte-identical manifests."""
    rng = random.Random(seed)
    schedule = EmissionSchedule(initial=emission, halving_epochs=0, cap=2**256 - 1)
    verdicts = [
        VerdictRecord(report_id=bytes([i]) * 32, device=d, accepted=i % 3 == 0, reason=f"r{i}")
        for i, d in enumerate(rng.choices(DEVICES, k=6))
    ]

    def run(order: random.Random | None) -> RewardManifest:
        def mix(mapping: dict, depth: int) -> dict:
            items = list(mapping.items())
            if order is not None:
                order.shuffle(items)
            if depth == 0:
                if order is None:
                    return dict(items)
                return {k.upper().replace("0X", "0x"): v for k, v in items}
            return {k: mix(v, depth - 1) for k, v in items}

        vs = list(verdicts)
        if order is not None:
            order.shuffle(vs)
        return compute_epoch_rewards(
            epoch=3,
            schedule=schedule,
            carry_in=5,
            weights=world["weights"],
            splits=world["splits"],
            scores=mix(world["scores"], 2),
            owners=mix(owners, 0),
            previous={},
            verdicts=vs,
        ).manifest

    first, second = run(None), run(rng)
    assert encode_manifest(first) == encode_manifest(second)
    assert manifest_json(first) == manifest_json(second)
    assert manifest_hash(first) == manifest_hash(second)
    check_manifest(first)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: msgspec.structs.replace(m, paid=str(int(m.paid) + 1)),
        lambda m: msgspec.structs.replace(m, carry_out="0"),
        lambda m: msgspec.structs.replace(m, root="0x" + "00" * 32),
        lambda m: msgspec.structs.replace(m, total_cumulative="1"),
        lambda m: msgspec.structs.replace(m, devices=list(reversed(m.devices))),
        lambda m: msgspec.structs.replace(
            m, devices=[msgspec.structs.replace(m.devices[0], reward="1"), *m.devices[1:]]
        ),
        lambda m: msgspec.structs.replace(
            m, devices=[msgspec.structs.replace(m.devices[0], rejected=0), *m.devices[1:]]
        ),
        lambda m: msgspec.structs.replace(
            m, owners=[msgspec.structs.replace(m.owners[0], cumulative="420502"), *m.owners[1:]]
        ),
        lambda m: msgspec.structs.replace(
            m, owners=[msgspec.structs.replace(m.owners[0], credited="0"), *m.owners[1:]]
        ),
    ],
)
def test_audit_catches_tampering(tamper) -> None:
    with pytest.raises(RewardManifestError):
        check_manifest(tamper(example()))


def test_non_canonical_or_malformed_bytes_are_refused() -> None:
    m = example()
    # the same values as a plain dict: keys in another order, so not the canonical bytes
    reordered = msgspec.msgpack.encode(dict(reversed(msgspec.structs.asdict(m).items())))
    with pytest.raises(RewardManifestError, match="canonical"):
        decode_manifest(reordered)
    with pytest.raises(RewardManifestError):
        decode_manifest(encode_manifest(m) + b"\x00")
    with pytest.raises(RewardManifestError):
        decode_manifest_json(manifest_json(m).replace(b'"paid":"720003"', b'"paid":720003'))
    with pytest.raises(RewardManifestError):
        decode_manifest_json(manifest_json(m).replace(b'"paid":"720003"', b'"paid":"-1"'))


@pytest.mark.parametrize(
    ("verdicts", "message"),
    [
        ([VerdictRecord(report_id=b"\x01", device=A, accepted=True)], "32 bytes"),
        ([VerdictRecord(report_id="0x1234", device=A, accepted=True)], "32 bytes"),
        ([VerdictRecord(report_id=R1, device="nobody", accepted=True)], "address"),
        (
            [
                VerdictRecord(report_id=R1, device=A, accepted=True),
                VerdictRecord(report_id=R1, device=B, accepted=False, reason="x"),
            ],
            "two verdicts",
        ),
    ],
)
def test_bad_verdicts_are_refused(verdicts: list[VerdictRecord], message: str) -> None:
    with pytest.raises(RewardManifestError, match=message):
        example(verdicts)


def test_mismatched_ledger_is_refused() -> None:
    result = compute_epoch_rewards(
        epoch=0,
        schedule=SCHEDULE,
        carry_in=0,
        weights={"u": 10_000},
        splits={"u": {"x": 10_000}},
        scores={"u": {"x": {A: 1}}},
        owners={A: X},
        previous={},
    )
    other = compute_epoch_rewards(
        epoch=1,
        schedule=SCHEDULE,
        carry_in=0,
        weights={},
        splits={},
        scores={},
        owners={},
        previous={},
    )
    with pytest.raises(RewardManifestError, match="not the same epoch"):
        build_manifest(
            epoch=0,
            schedule=SCHEDULE,
            allocation=result.allocation,
            ledger=other.ledger,
        )
    with pytest.raises(RewardManifestError, match="epoch"):
        build_manifest(
            epoch=-1,
            schedule=SCHEDULE,
            allocation=result.allocation,
            ledger=result.ledger,
        )


def test_network_module_verdicts_fit() -> None:
    """The verdicts network modules return go into the manifest as they are."""
    from depinkit.networks.module import Verdict

    m = example([Verdict(report_id=R1, device=B, accepted=False, reason="late", detail="2 h")])
    (rejection,) = next(d for d in m.devices if d.device == B).rejections
    assert (rejection.reason, rejection.detail) == ("late", "2 h")
