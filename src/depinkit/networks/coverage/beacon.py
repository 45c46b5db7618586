"""Beacon payloads and schedules: unpredictable before an epoch, known to all after.

The payload of hotspot ``h``'s beacon in slot ``s`` is

    keccak256(PAYLOAD_TAG || entropy || h (20 bytes) || s (8 bytes, big-endian))[:16]

and the moment its transmit window opens is

    start_ms + s * interval_ms + keccak256(SCHEDULE_TAG || entropy || h || s) mod span

where ``span`` = min(interval_ms, end_ms - slot start) - window_ms (at least 1), so the
window of every slot that starts in the epoch also ends in it whenever the epoch is longer
than one window. ``entropy`` is the hash of the epoch's start block: a beacon carrying the
right payload was made in the epoch (Helium's "no pre-computed beacons"), and spreading
the windows by a hash keeps hotspots from all transmitting at once and from choosing
their moment. Spec: docs/networks/coverage.md, "Beacons".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from depinkit.core.keys import address_bytes, keccak256
from depinkit.networks.context import ENTROPY_BYTES
from depinkit.networks.coverage.schemas import MAX_SLOT, PAYLOAD_BYTES
from depinkit.networks.errors import NetworkError

PAYLOAD_TAG: Final[bytes] = b"depinkit/coverage/beacon/v1"  # domain separation
SCHEDULE_TAG: Final[bytes] = b"depinkit/coverage/schedule/v1"  # domain separation
SLOT_BYTES: Final[int] = 8  # bytes: slot index as a big-endian u64
MS_PER_S: Final[int] = 1_000

# address_bytes checks the EIP-55 checksum (a keccak and a pass per character): verifying an
# epoch asks it twice per beacon for the same hotspots, so remember the answers. Refusals
# raise and are never cached.
_address_bytes = lru_cache(maxsize=1 << 17)(address_bytes)


def _preimage(tag: bytes, entropy: bytes, hotspot: str, slot: int) -> bytes:
    if len(entropy) != ENTROPY_BYTES:
        raise NetworkError(f"entropy must be {ENTROPY_BYTES} bytes, got {len(entropy)}")
    if not 0 <= slot <= MAX_SLOT:
        raise NetworkError(f"beacon slot out of range: {slot}")
    return tag + entropy + _address_bytes(hotspot) + slot.to_bytes(SLOT_BYTES, "big")


def beacon_payload(entropy: bytes, hotspot: str, slot: int) -> bytes:
    """The 16-byte payload ``hotspot`` must transmit in its beacon of ``slot``."""
    return keccak256(_preimage(PAYLOAD_TAG, entropy, hotspot, slot))[:PAYLOAD_BYTES]


def slot_count(start_ms: int, end_ms: int, interval_s: int) -> int:
    """Beacon slots in an epoch: ceil(length / interval)."""
    if end_ms <= start_ms or interval_s <= 0:
        raise NetworkError(f"empty epoch or interval: {start_ms}..{end_ms}, {interval_s} s")
    interval_ms = interval_s * MS_PER_S
    return (end_ms - start_ms + interval_ms - 1) // interval_ms


def beacon_window(
    entropy: bytes,
    hotspot: str,
    slot: int,
    *,
    start_ms: int,
    end_ms: int,
    interval_s: int,
    window_s: int,
) -> tuple[int, int]:
    """[open, close) in unix ms during which ``hotspot`` may transmit its beacon of ``slot``.

    NetworkError when the slot does not exist in the epoch [start_ms, end_ms).
    """
    if not 0 <= slot < slot_count(start_ms, end_ms, interval_s) or window_s <= 0:
        raise NetworkError(f"slot {slot} is not a beacon slot of this epoch")
    interval_ms = interval_s * MS_PER_S
    window_ms = window_s * MS_PER_S
    slot_start = start_ms + slot * interval_ms
    span = max(1, min(interval_ms, end_ms - slot_start) - window_ms)
    digest = keccak256(_preimage(SCHEDULE_TAG, entropy, hotspot, slot))
    opens = slot_start + int.from_bytes(digest, "big") % span
    return opens, opens + window_ms
