"""The agent's notion of time, injectable so schedules and backoff are testable.

The runtime never calls ``time`` directly: it asks a :class:`Clock`. Production
uses :class:`SystemClock`; tests (and network builders testing their roles) use
:class:`ManualClock`, whose ``sleep`` advances time instantly, so hours of
schedule run in milliseconds without asserting on wall-clock time.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time and of waiting."""

    def now_ms(self) -> int:
        """Current unix time in milliseconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a no-op for non-positive values)."""
        ...


class SystemClock:
    """Wall-clock time from the operating system."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = start_ms
        self.slept_s: list[float] = []  # every sleep requested, for assertions on schedules

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (rounded to whole milliseconds)."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        self._now_ms += round(seconds * 1000)

    def sleep(self, seconds: float) -> None:
        self.slept_s.append(seconds)
        if seconds > 0:
            self.advance(seconds)
