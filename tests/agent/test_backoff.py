"""Backoff: grows exponentially, caps, jitters within bounds, resets on success."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from depinkit.agent.backoff import Backoff, backoff_delay_ms


def test_delay_doubles_then_caps() -> None:
    backoff = Backoff(initial_ms=100, max_ms=1600, rng=random.Random(1))
    delays = [backoff.failure() for _ in range(8)]
    bases = [100, 200, 400, 800, 1600, 1600, 1600, 1600]
    for delay, base in zip(delays, bases, strict=True):
        assert base // 2 <= delay <= base
    assert max(delays) <= 1600


def test_success_resets_to_initial_delay() -> None:
    backoff = Backoff(initial_ms=100, max_ms=10_000, rng=random.Random(2))
    for _ in range(6):
        backoff.failure()
    backoff.success()
    assert backoff.failures == 0
    assert 50 <= backoff.failure() <= 100


def test_jitter_is_reproducible_from_the_seed() -> None:
    def run(seed: int) -> list[int]:
        backoff = Backoff(initial_ms=500, max_ms=60_000, rng=random.Random(seed))
        return [backoff.failure() for _ in range(10)]

    assert run(42) == run(42)
    assert run(42) != run(43)


@given(
    failures=st.integers(min_value=1, max_value=10_000),
    initial=st.integers(min_value=1, max_value=10_000),
    extra=st.integers(min_value=0, max_value=10**7),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delay_bounds(failures: int, initial: int, extra: int, seed: int) -> None:
    cap = initial + extra
    delay = backoff_delay_ms(failures, initial_ms=initial, max_ms=cap, rng=random.Random(seed))
    base = min(cap, initial * 2 ** (failures - 1))
    assert base // 2 <= delay <= base <= cap


def test_no_failure_no_delay() -> None:
    assert backoff_delay_ms(0, initial_ms=100, max_ms=200, rng=random.Random(0)) == 0
