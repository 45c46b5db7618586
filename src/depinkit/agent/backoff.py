"""Exponential backoff with jitter, drawn from an injected random source.

Why jitter: when an oracle comes back after an outage, thousands of devices
must not retry in the same millisecond. Why injected randomness: tests replay
the exact delays from a seeded ``random.Random``.

The delay after ``failures`` consecutive failures is "equal jitter": with
``base = min(max_ms, initial_ms * 2**(failures-1))`` it is drawn uniformly from
``[base/2, base]``, so it never exceeds the cap and never collapses to zero.
"""

from __future__ import annotations

import random


def backoff_delay_ms(failures: int, *, initial_ms: int, max_ms: int, rng: random.Random) -> int:
    """Delay before the next attempt after ``failures`` (>= 1) consecutive failures."""
    if failures < 1:
        return 0
    # Cap the exponent first: 2**64 * initial is far above any sane cap, and it
    # keeps the arithmetic small after a device has been offline for months.
    base = min(max_ms, initial_ms * 2 ** min(failures - 1, 64))
    half = base // 2
    return half + rng.randint(0, base - half)


class Backoff:
    """Consecutive-failure counter of one oracle and the delay it implies."""

    def __init__(self, *, initial_ms: int, max_ms: int, rng: random.Random) -> None:
        self.initial_ms = initial_ms
        self.max_ms = max_ms
        self._rng = rng
        self.failures = 0

    def failure(self) -> int:
        """Count a failure; return how long to wait before the next attempt (ms)."""
        self.failures += 1
        return backoff_delay_ms(
            self.failures, initial_ms=self.initial_ms, max_ms=self.max_ms, rng=self._rng
        )

    def success(self) -> None:
        """The oracle answered: the next failure starts from the initial delay again."""
        self.failures = 0
