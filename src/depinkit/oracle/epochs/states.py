"""The states of one epoch's settlement, in order, and the only moves between them.

Each state is persisted when reached, together with what the step produced, so a crash
restarts the step that was running and never repeats a finished one:

* ``collected``: the epoch began: start block, entropy and parameters are known (its
  beacon is served) and reports are being collected; it moves on at its end plus grace;
* ``reconciled``: report ids exchanged with peers, missing reports fetched and checked;
* ``scored``: verify, score, allocate; cumulative totals, root and manifest stored;
* ``signed``: this oracle's EIP-712 signature of the RewardRoot stored;
* ``submitted``: the chain holds this epoch's root, or a later one (final).
"""

from __future__ import annotations

from typing import Final

from depinkit.oracle.epochs.errors import EpochError

COLLECTED: Final[str] = "collected"
RECONCILED: Final[str] = "reconciled"
SCORED: Final[str] = "scored"
SIGNED: Final[str] = "signed"
SUBMITTED: Final[str] = "submitted"
STATES: Final[tuple[str, ...]] = (COLLECTED, RECONCILED, SCORED, SIGNED, SUBMITTED)
FINAL: Final[str] = SUBMITTED
PENDING: Final[str] = "pending"  # reported for an epoch with no row yet; never stored


def rank(state: str) -> int:
    """Position of ``state`` in the order; EpochError for an unknown name."""
    try:
        return STATES.index(state)
    except ValueError:
        raise EpochError(f"unknown epoch state {state!r}") from None


def next_state(state: str) -> str:
    """The state after ``state``; EpochError past the final one."""
    position = rank(state)
    if position + 1 >= len(STATES):
        raise EpochError(f"{state} is final")
    return STATES[position + 1]


def check_move(current: str | None, target: str) -> None:
    """EpochError unless ``target`` directly follows ``current`` (None: no row yet)."""
    expected = COLLECTED if current is None else next_state(current)
    if target != expected:
        raise EpochError(f"cannot move an epoch from {current} to {target}")


def at_least(state: str | None, target: str) -> bool:
    """Whether an epoch in ``state`` has finished the step that reaches ``target``."""
    return state not in (None, PENDING) and rank(state) >= rank(target)
