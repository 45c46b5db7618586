"""Properties of uptime verify and score that rewards depend on (hypothesis)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from uptime_kit import ACCOUNTS, ENTROPY, EPOCH, START_MS, context, heartbeat

from depinkit.core.keys import Account
from depinkit.networks import ReceivedReport, Verdict, run_module
from depinkit.networks.uptime import (
    BAD_CHALLENGE,
    BUCKET,
    DUPLICATE_SLOT,
    Heartbeat,
    expected_challenge,
    module,
    slot_count,
)

SLOTS = 6  # the kit's epoch: 60 s of 10 s slots


@st.composite
def heartbeats(draw: st.DrawFn) -> ReceivedReport:
    """A heartbeat that may be good, or wrong in any of the ways verify checks."""
    account = draw(st.sampled_from(ACCOUNTS))
    slot = draw(st.integers(0, SLOTS - 1))
    flaw = draw(st.sampled_from(["none", "none", "none", "challenge", "epoch", "late", "empty"]))
    return heartbeat(
        account,
        slot,
        offset_ms=draw(st.integers(0, 9_999)),
        seq=draw(st.integers(0, 1_000)),
        challenge_slot=(slot + 1) % SLOTS if flaw == "challenge" else None,
        challenge=b"" if flaw == "empty" else None,
        epoch=EPOCH + 1 if flaw == "epoch" else EPOCH,
        timestamp_ms=START_MS + 60_000 + slot if flaw == "late" else None,
    )


@settings(max_examples=150)
@given(st.lists(heartbeats(), max_size=24), st.randoms(use_true_random=False))
def test_verify_and_score_ignore_input_order(
    reports: list[ReceivedReport], rng: random.Random
) -> None:
    shuffled = list(reports) + reports[: len(reports) // 3]  # repeats as well as a new order
    rng.shuffle(shuffled)
    ctx = context()
    assert run_module(module(), ctx, reports) == run_module(module(), ctx, shuffled)


@settings(max_examples=100)
@given(
    st.sampled_from(ACCOUNTS),
    st.integers(0, SLOTS - 1),
    st.integers(0, 15),
    st.integers(1, 255),
)
def test_one_changed_challenge_byte_is_rejected(
    account: Account, slot: int, index: int, xor: int
) -> None:
    good = expected_challenge(ENTROPY, account.address, slot)
    bad = bytearray(good)
    bad[index] ^= xor
    item = heartbeat(account, slot, challenge=bytes(bad))
    [verdict] = module().verify(context(), [item])
    assert not verdict.accepted and verdict.reason == BAD_CHALLENGE
    [ok] = module().verify(context(), [heartbeat(account, slot, challenge=good)])
    assert ok.accepted


@settings(max_examples=100)
@given(
    st.integers(1_000, 10_000_000),  # epoch length, ms
    st.integers(1, 7_200),  # slot length, s
    st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.floats(0, 1, exclude_max=True)), max_size=30),
)
def test_points_never_exceed_the_slots_in_the_epoch(
    epoch_ms: int, slot_s: int, beats: list[tuple[Account, float]]
) -> None:
    ctx = context(epoch_ms=epoch_ms, slot_s=slot_s)
    n = slot_count(ctx.start_ms, ctx.end_ms, slot_s)
    reports = []
    for i, (account, where) in enumerate(beats):
        ts = START_MS + int(where * epoch_ms)  # floats only pick test inputs
        slot = (ts - START_MS) // (slot_s * 1000)
        challenge = expected_challenge(ENTROPY, account.address, slot)
        reports.append(heartbeat(account, timestamp_ms=ts, challenge=challenge, seq=i))
    verdicts, scores = run_module(module(), ctx, reports)
    assert all(v.accepted or v.reason == DUPLICATE_SLOT for v in verdicts)
    for account in ACCOUNTS:
        slots = {v.facts["slot"] for v in verdicts if v.accepted and v.device == account.address}
        assert scores[BUCKET].get(account.address, 0) == len(slots) <= n


@settings(max_examples=100)
@given(
    st.lists(
        st.tuples(st.sampled_from([a.address for a in ACCOUNTS]), st.integers(-5, 50)),
        max_size=40,
    )
)
def test_score_is_bounded_even_for_hand_made_verdicts(claims: list[tuple[str, int]]) -> None:
    verdicts = [
        Verdict(i.to_bytes(32, "big"), device, True, facts={"slot": slot})
        for i, (device, slot) in enumerate(claims)
    ]
    scores = module().score(context(), verdicts)
    assert set(scores) == {BUCKET}
    assert all(0 < points <= SLOTS for points in scores[BUCKET].values())
    assert scores == module().score(context(), list(reversed(verdicts)))


@settings(max_examples=100)
@given(st.integers(0, SLOTS - 1), st.lists(st.integers(0, 9_999), min_size=1, max_size=12))
def test_duplicates_in_one_slot_score_once(slot: int, offsets: list[int]) -> None:
    account = ACCOUNTS[0]
    reports = [heartbeat(account, slot, offset_ms=o, seq=i) for i, o in enumerate(offsets)]
    verdicts, scores = run_module(module(), context(), reports)
    accepted = [v for v in verdicts if v.accepted]
    assert len(accepted) == 1
    assert all(v.reason == DUPLICATE_SLOT for v in verdicts if not v.accepted)
    earliest = min(reports, key=lambda r: (r.report.timestamp_ms, r.id))
    assert accepted[0].report_id == earliest.id
    assert scores == {BUCKET: {account.address: 1}}


def test_heartbeat_wire_format_is_unchanged() -> None:
    assert Heartbeat.__struct_fields__ == ("uptime_s", "challenge")
