"""Scoring: buckets, bounds, and what suspended providers and bad verdicts earn."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from storage_protocol_kit import PROVIDERS, context

from depinkit.networks import MAX_POINTS, Verdict
from depinkit.networks.receipts import FACT_CREDITS, FACT_PAYER
from depinkit.networks.storage import BUCKETS, StorageModule
from depinkit.networks.storage.verify import (
    FACT_CAPACITY,
    FACT_DEAL_BYTES,
    FACT_PIECES,
    FACT_PROVEN_BYTES,
    FACT_REPAIR_BYTES,
    FACT_SUSPENDED,
)

MODULE = StorageModule()
P0, P1 = PROVIDERS[0].address, PROVIDERS[1].address


def verdict(device: str, n: int, accepted: bool = True, **facts: int) -> Verdict:
    rid = n.to_bytes(32, "big")
    if not accepted:
        return Verdict(rid, device, False, "bad_proof", "x", facts)
    return Verdict(rid, device, True, facts=facts)


def proof(device: str, n: int, size: int, repaired: int = 0, suspended: int = 0) -> Verdict:
    facts = {FACT_PROVEN_BYTES: size, FACT_PIECES: 1, FACT_REPAIR_BYTES: repaired}
    return verdict(device, n, **facts, **{FACT_SUSPENDED: suspended})


def test_buckets_from_facts() -> None:
    verdicts = [
        verdict(P0, 1, **{FACT_CAPACITY: 10_000}),
        proof(P0, 2, 3_000, repaired=3_000),
        proof(P0, 3, 4_000),
        verdict(P0, 4, **{FACT_CREDITS: 700, FACT_PAYER: 1}),
        verdict(P0, 5, **{FACT_CREDITS: 300, FACT_PAYER: 1}),
        verdict(P1, 6, **{FACT_CAPACITY: 2_000}),
        proof(P1, 7, 3_000),  # more than it declared: capped
        verdict(P1, 8, **{FACT_DEAL_BYTES: 9_999, FACT_PIECES: 5}),  # deals earn nothing
        verdict(P1, 9, False, **{FACT_CREDITS: 50}),  # rejected verdicts earn nothing
    ]
    scores = MODULE.score(context(1), verdicts)
    assert set(scores) == set(BUCKETS)
    assert scores["capacity"] == {P0: 7_000, P1: 2_000}
    assert scores["usage"] == {P0: 1_000}
    assert scores["repair"] == {P0: 3_000}


def test_suspended_and_undeclared_providers_earn_no_capacity() -> None:
    scores = MODULE.score(context(1), [proof(P0, 1, 3_000, repaired=3_000, suspended=1)])
    assert scores == {"capacity": {}, "usage": {}, "repair": {}}
    assert MODULE.score(context(1), [proof(P1, 2, 3_000)])["capacity"] == {}  # no declaration


@given(
    st.lists(
        st.tuples(
            st.sampled_from([P0, P1]),
            st.integers(0, 2**62),
            st.integers(0, 2**62),
            st.booleans(),
        ),
        max_size=30,
    )
)
def test_points_are_bounded_integers_whatever_the_facts(rows) -> None:
    verdicts = []
    for n, (device, size, credits, accepted) in enumerate(rows):
        verdicts.append(verdict(device, 3 * n, accepted, **{FACT_CAPACITY: 2**62}))
        verdicts.append(verdict(device, 3 * n + 1, accepted, **{FACT_PROVEN_BYTES: size}))
        verdicts.append(verdict(device, 3 * n + 2, accepted, **{FACT_CREDITS: credits}))
    scores = MODULE.score(context(1), verdicts)
    for bucket in scores.values():
        assert all(type(x) is int and 0 < x <= MAX_POINTS for x in bucket.values())
    accepted = [v for v in verdicts if v.accepted]
    for device in (P0, P1):
        spent = sum(v.facts.get(FACT_CREDITS, 0) for v in accepted if v.device == device)
        assert scores["usage"].get(device, 0) == min(spent, MAX_POINTS)
