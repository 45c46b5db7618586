"""Uptime challenges: unpredictable before an epoch starts, known to all after.

The challenge a device must echo in slot ``s`` of an epoch is

    keccak256(CHALLENGE_TAG || entropy || device (20 bytes) || s (8 bytes, big-endian))

truncated to its first CHALLENGE_BYTES bytes, where ``entropy`` is the hash of
the epoch's start block. Nobody knows it before that block exists, so a
heartbeat carrying it was made during the epoch; every oracle (and the device)
computes the same value with no message exchanged. The tag keeps uptime
challenges from colliding with anything else derived from the same block hash.
Spec: docs/networks/uptime.md, "Challenges".
"""

from __future__ import annotations

from typing import Final

from depinkit.core.keys import address_bytes, keccak256
from depinkit.networks.context import ENTROPY_BYTES
from depinkit.networks.errors import NetworkError

CHALLENGE_TAG: Final[bytes] = b"depinkit/uptime/challenge/v1"  # domain separation
CHALLENGE_BYTES: Final[int] = 16  # bytes: 128 bits cannot be guessed, half a hash on the wire
SLOT_BYTES: Final[int] = 8  # bytes: slot index as a big-endian u64
MS_PER_S: Final[int] = 1_000


def expected_challenge(entropy: bytes, device: str, slot: int) -> bytes:
    """The challenge ``device`` must carry in heartbeats of ``slot`` (agents call this too)."""
    if len(entropy) != ENTROPY_BYTES:
        raise NetworkError(f"entropy must be {ENTROPY_BYTES} bytes, got {len(entropy)}")
    if not 0 <= slot < 2 ** (8 * SLOT_BYTES):
        raise NetworkError(f"slot out of range: {slot}")
    preimage = CHALLENGE_TAG + entropy + address_bytes(device) + slot.to_bytes(SLOT_BYTES, "big")
    return keccak256(preimage)[:CHALLENGE_BYTES]


def slot_of(timestamp_ms: int, start_ms: int, slot_s: int) -> int:
    """Index of the slot holding ``timestamp_ms``: slots start at the epoch start."""
    if timestamp_ms < start_ms or slot_s <= 0:
        raise NetworkError(f"timestamp {timestamp_ms} before epoch start {start_ms}")
    return (timestamp_ms - start_ms) // (slot_s * MS_PER_S)


def slot_count(start_ms: int, end_ms: int, slot_s: int) -> int:
    """Slots in an epoch, the last one possibly shorter: ceil(length / slot length)."""
    if end_ms <= start_ms or slot_s <= 0:
        raise NetworkError(f"empty epoch or slot: {start_ms}..{end_ms}, slot {slot_s} s")
    slot_ms = slot_s * MS_PER_S
    return (end_ms - start_ms + slot_ms - 1) // slot_ms
