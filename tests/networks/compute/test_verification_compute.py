"""Verification decisions: the coin, the always-verify tier, majorities and equivocation."""

from __future__ import annotations

from compute_module_kit import BAD, ENTROPY, GOOD, JOB, PROVIDERS, claim, parameters
from hypothesis import given
from hypothesis import strategies as st

from depinkit.core.keys import keccak256
from depinkit.networks.compute.verification import (
    AGREED,
    DECIDED,
    UNDECIDED,
    coin,
    decide,
    outcomes,
    should_verify,
)

A, B, C, D, E = PROVIDERS


def test_new_providers_are_always_verified() -> None:
    params = parameters(verify_ppm=0)
    assert should_verify(params, 0, ENTROPY, JOB)
    assert not should_verify(params, 1, ENTROPY, JOB)
    assert should_verify(parameters(verify_ppm=1_000_000), 2, ENTROPY, JOB)


def test_coin_frequency_follows_the_parameter() -> None:
    params = parameters(verify_ppm=250_000)
    hits = sum(
        should_verify(params, 2, ENTROPY, keccak256(bytes([i, j])))
        for i in range(20)
        for j in range(50)
    )
    assert 180 < hits < 320  # 1000 draws at p = 0.25


def test_the_secret_changes_the_coin() -> None:
    coins = {coin(ENTROPY, JOB, bytes([i])) for i in range(20)}
    assert len(coins) > 15
    assert all(0 <= c < 1_000_000 for c in coins)


def test_outcomes() -> None:
    assert decide(JOB, [claim(A)]).status == AGREED
    assert not decide(JOB, [claim(A)]).confirmed
    two = decide(JOB, [claim(A), claim(B)])
    assert (
        two.status == AGREED
        and two.confirmed
        and two.right == tuple(sorted((A.address, B.address)))
    )
    assert decide(JOB, [claim(A, BAD), claim(B)]).status == UNDECIDED
    three = decide(JOB, [claim(A, BAD), claim(B), claim(C)])
    assert three.status == DECIDED and three.wrong == (A.address,) and three.output_hash == GOOD
    tie = decide(JOB, [claim(A, BAD), claim(B, BAD), claim(C), claim(D)])
    assert tie.status == UNDECIDED


def test_an_equivocator_is_wrong() -> None:
    out = decide(JOB, [claim(A, BAD), claim(A), claim(B), claim(C)])
    assert out.status == DECIDED and out.wrong == (A.address,)
    alone = decide(JOB, [claim(A, BAD), claim(A)])
    assert alone.status == UNDECIDED and alone.wrong == (A.address,)


def test_claims_of_other_jobs_are_ignored() -> None:
    other = keccak256(b"x")
    got = outcomes([claim(A), claim(B, BAD, job=other)])
    assert set(got) == {JOB, other}
    assert got[JOB].right == (A.address,)


@given(
    votes=st.lists(st.sampled_from([GOOD, BAD]), min_size=1, max_size=5),
    order=st.randoms(use_true_random=False),
)
def test_decision_is_order_free_and_majority_bound(votes: list[bytes], order) -> None:  # type: ignore[no-untyped-def]
    claims = [claim(PROVIDERS[i], v) for i, v in enumerate(votes)]
    expected = decide(JOB, claims)
    shuffled = list(claims) + claims[:1]
    order.shuffle(shuffled)
    assert decide(JOB, shuffled) == expected
    good, bad = votes.count(GOOD), votes.count(BAD)
    if expected.status == DECIDED:
        assert len(expected.right) > len(expected.wrong) and len(expected.right) >= 2
    if good and bad and good != bad and max(good, bad) >= 2:
        assert expected.status == DECIDED
