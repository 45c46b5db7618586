"""Properties coverage rewards depend on (hypothesis): order-free, duplicate-free, bounded."""

from __future__ import annotations

import random
from functools import cache

from coverage_kit import (
    ACCOUNTS,
    CONSUMER,
    DOMAIN,
    beacon,
    cell_at,
    context,
    receipt_report,
    witness,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from depinkit.networks import MAX_POINTS, ReceivedReport, run_module
from depinkit.networks.coverage import module
from depinkit.networks.receipts import sign_receipt

A = ACCOUNTS[:8]
CELLS = {a: cell_at(25 * (i % 3), 25 * (i // 3)) for i, a in enumerate(A)}
CELLS[A[7]] = cell_at(900, 0)  # a far one, to exercise the detectors


@cache
def pool() -> tuple[ReceivedReport, ...]:
    """Signed reports, good and bad, signed once (signing inside hypothesis is slow)."""
    out: list[ReceivedReport] = []
    for slot in (0, 1):
        for b in A[:5]:
            out.append(beacon(b, slot))
            for w in A:
                if w != b:
                    out.append(witness(w, b, slot, rssi_dbm10=-1000 - 10 * A.index(w)))
        out.append(beacon(A[0], slot, tx_power_dbm=20))  # duplicate slot
        out.append(witness(A[1], A[0], slot, lag_ms=9_000))  # too late
        out.append(witness(A[2], A[0], slot, rssi_dbm10=-200))  # too strong
    for cumulative in (10, 25, 60):
        r = sign_receipt(
            CONSUMER,
            DOMAIN,
            network="coverage",
            payee=A[1].address,
            channel=b"\x03" * 32,
            cumulative=cumulative,
        )
        out.append(receipt_report(A[1], r))
    return tuple(out)


reports = st.lists(st.integers(0, 10_000), max_size=60).map(
    lambda picks: [pool()[i % len(pool())] for i in picks]
)


@settings(max_examples=40, deadline=None)
@given(reports, st.randoms(use_true_random=False))
def test_results_ignore_order_and_repeats(chosen: list[ReceivedReport], rng: random.Random) -> None:
    ctx = context(CELLS, credits={CONSUMER.address: 50})
    shuffled = list(chosen) + chosen[: len(chosen) // 2]
    rng.shuffle(shuffled)
    first = run_module(module(), ctx, chosen)
    assert first == run_module(module(), ctx, shuffled)
    prior = module().next_prior(ctx, chosen, first[0])
    assert prior == module().next_prior(ctx, shuffled, first[0])


@settings(max_examples=40, deadline=None)
@given(reports)
def test_points_are_bounded_integers(chosen: list[ReceivedReport]) -> None:
    ctx = context(CELLS, credits={CONSUMER.address: 50})
    verdicts, scores = run_module(module(), ctx, chosen)
    for bucket in scores.values():
        assert all(type(p) is int and 0 < p <= MAX_POINTS for p in bucket.values())
    # at most 2 units per beacon and 1 per witness, in micro-units, per slot
    for device, points in scores["coverage"].items():
        accepted = sum(1 for v in verdicts if v.device == device and v.accepted)
        assert points <= 2 * 1_000_000 * accepted
    assert sum(scores["data"].values()) <= 50  # never more than the consumer's credits
