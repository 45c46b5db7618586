"""Erasure coding of sealed segments: zfec Reed-Solomon, any k of n pieces rebuild one.

A sealed segment of ``L`` bytes is padded to ``k * B`` bytes, where the piece size
``B`` is ``L / k`` rounded up to a whole number of 1 KiB chunks (so every chunk of every
piece is full and proofs need no length rule), and cut into k primary blocks; zfec adds
n - k parity blocks. Piece ``j`` of a segment is block ``j``: pieces 0..k-1 are the
ciphertext itself (systematic code), so a download that reaches the first k providers
decodes at memcpy speed. The padding is a pure function of the segment (a SHAKE-256
stream keyed by its SHA-256), so a repairer that decoded the segment rebuilds
byte-identical pieces with byte-identical roots, while two files never share a piece made
of padding alone (zero padding made every tiny segment's last pieces identical, and the
oracles refuse a second deal naming a root a provider already holds). The client cuts files
into segments of whole stripes (``client.stripe_aligned``), so only a file's last segment
is padded.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Final

import zfec

from depinkit.networks.errors import NetworkError
from depinkit.networks.storage.pieces import CHUNK_BYTES

MAX_SHARES: Final[int] = 256  # zfec works in GF(2**8): at most 256 pieces per segment
DEFAULT_K: Final[int] = 3  # pieces needed: the governed k_small default (parameters.py)
DEFAULT_N: Final[int] = 5  # pieces made: n_small; 3-of-5 survives 2 lost providers, 1.67x
SEGMENT_BYTES: Final[int] = 8 * 1024 * 1024  # 8 MiB sealed segment: ~2.7 MiB pieces at k = 3


class ErasureError(NetworkError):
    """Bad coding parameters, or too few or inconsistent pieces to rebuild a segment."""


def check_params(k: int, n: int) -> None:
    if type(k) is not int or type(n) is not int or not 1 <= k <= n <= MAX_SHARES:
        raise ErasureError(f"need 1 <= k <= n <= {MAX_SHARES}, got k={k}, n={n}")


def piece_size(segment_len: int, k: int) -> int:
    """Bytes in each of a segment's pieces: ceil(L / k), rounded up to whole 1 KiB chunks."""
    if segment_len < 0:
        raise ErasureError("segment length cannot be negative")
    per = max(1, -(-segment_len // k))
    return -(-per // CHUNK_BYTES) * CHUNK_BYTES


PAD_TAG: Final[bytes] = b"depinkit/storage/pad/v1"  # domain separation of the padding stream


def _primary(segment: bytes, k: int, size: int) -> list[bytes]:
    """The k primary blocks: ``segment`` followed by ``k * size - len(segment)`` bytes
    derived from the segment, cut in ``size``-byte blocks (without copying the segment
    whole into a padded buffer first)."""
    whole = min(len(segment) // size, k)  # blocks lying entirely inside the segment
    blocks = [segment[i * size : (i + 1) * size] for i in range(whole)]
    if whole < k:
        seed = hashlib.sha256(segment).digest()
        tail = segment[whole * size :]
        tail += hashlib.shake_256(PAD_TAG + seed).digest((k - whole) * size - len(tail))
        blocks += [tail[i * size : (i + 1) * size] for i in range(k - whole)]
    return blocks


def encode(segment: bytes, k: int, n: int) -> list[bytes]:
    """The n pieces of ``segment`` (piece j is share j); any k of them rebuild it."""
    check_params(k, n)
    primary = _primary(segment, k, piece_size(len(segment), k))
    if n == k:
        return primary
    parity = zfec.Encoder(k, n).encode(primary, list(range(k, n)))
    return primary + [bytes(p) for p in parity]


def encode_some(segment: bytes, k: int, n: int, wanted: Sequence[int]) -> dict[int, bytes]:
    """Only the pieces numbered ``wanted`` (what a repairer re-creates)."""
    check_params(k, n)
    if any(not 0 <= j < n for j in wanted):
        raise ErasureError(f"piece numbers must lie in [0, {n})")
    primary = _primary(segment, k, piece_size(len(segment), k))
    out: dict[int, bytes] = {j: primary[j] for j in wanted if j < k}
    parity_nums = sorted(j for j in set(wanted) if j >= k)
    if parity_nums:
        blocks = zfec.Encoder(k, n).encode(primary, parity_nums)
        out.update({j: bytes(b) for j, b in zip(parity_nums, blocks, strict=True)})
    return out


def decode(pieces: Mapping[int, bytes], k: int, n: int, segment_len: int) -> bytes:
    """The segment from any k of its pieces (piece number -> bytes)."""
    check_params(k, n)
    size = piece_size(segment_len, k)
    usable = sorted(j for j in pieces if 0 <= j < n)
    if len(usable) < k:
        raise ErasureError(f"{len(usable)} pieces of a segment, {k} needed")
    chosen = usable[:k]
    if any(len(pieces[j]) != size for j in chosen):
        raise ErasureError(f"pieces must be {size} bytes for a {segment_len}-byte segment")
    if chosen == list(range(k)):
        blocks = [pieces[j] for j in chosen]
    else:
        blocks = [bytes(b) for b in zfec.Decoder(k, n).decode([pieces[j] for j in chosen], chosen)]
    return b"".join(blocks)[:segment_len]


__all__ = [
    "DEFAULT_K",
    "DEFAULT_N",
    "MAX_SHARES",
    "SEGMENT_BYTES",
    "ErasureError",
    "check_params",
    "decode",
    "encode",
    "encode_some",
    "piece_size",
]
