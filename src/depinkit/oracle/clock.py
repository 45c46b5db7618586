"""The oracle's notion of time, injectable so timestamp windows are testable.

Services never call ``time`` directly; they take a :class:`Clock`. Tests pass a
:class:`FixedClock` and move it by hand.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current unix time in milliseconds."""

    def now_ms(self) -> int: ...


class SystemClock:
    """Wall-clock time from the operating system."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, now_ms: int) -> None:
        self._now_ms = now_ms

    def now_ms(self) -> int:
        return self._now_ms

    def set(self, now_ms: int) -> None:
        self._now_ms = now_ms

    def advance_ms(self, delta_ms: int) -> None:
        if delta_ms < 0:
            raise ValueError("time cannot go backwards")
        self._now_ms += delta_ms
