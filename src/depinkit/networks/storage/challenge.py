"""Which chunks of a piece its provider must prove this epoch (docs/networks/storage.md,
"Challenges").

The challenge is derived, not sent: from the epoch's entropy (the hash of its start block),
the piece root fixed at deal time and the provider's address. Nobody knows it before the
start block exists, every oracle and the provider compute the same one, and no oracle
has to reach the provider, so a provider behind NAT proves by sending a report. For draw
``j = 0, 1, 2, ...``::

    h_j = keccak256(CHALLENGE_TAG || entropy || root || provider (20 bytes) || uint32_be(j))
    candidate_j = uint256(h_j) mod chunks

and the challenge is the first ``min(count, chunks)`` distinct candidates, in draw order.
The provider in the preimage makes the same piece (a repaired copy, a second provider)
answer other chunks, so one provider's proof never answers another's challenge.
"""

from __future__ import annotations

from typing import Final

from depinkit.core.keys import address_bytes, keccak256
from depinkit.networks.context import ENTROPY_BYTES
from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.pieces import HASH_BYTES, MAX_DEPTH

CHALLENGE_TAG: Final[bytes] = b"depinkit/storage/challenge/v1"  # domain separation
DRAW_BYTES: Final[int] = 4  # bytes: the draw counter as a big-endian u32


def challenged_chunks(
    entropy: bytes, root: bytes, provider: str, chunks: int, count: int
) -> tuple[int, ...]:
    """The chunk indices ``provider`` must prove of the piece ``root`` (``chunks`` chunks)."""
    if len(entropy) != ENTROPY_BYTES:
        raise NetworkError(f"entropy must be {ENTROPY_BYTES} bytes, got {len(entropy)}")
    if len(root) != HASH_BYTES:
        raise NetworkError(f"a piece root is {HASH_BYTES} bytes, got {len(root)}")
    if not 1 <= chunks <= 1 << MAX_DEPTH or count < 0:
        raise NetworkError(f"bad challenge shape: {chunks} chunks, {count} draws")
    wanted = min(count, chunks)
    prefix = CHALLENGE_TAG + entropy + root + address_bytes(provider)
    picked: list[int] = []
    seen: set[int] = set()
    draw = 0
    while len(picked) < wanted:  # ends: every index is a candidate; few draws as count <= 16
        digest = keccak256(prefix + draw.to_bytes(DRAW_BYTES, "big"))
        candidate = int.from_bytes(digest, "big") % chunks
        if candidate not in seen:
            seen.add(candidate)
            picked.append(candidate)
        draw += 1
    return tuple(picked)
